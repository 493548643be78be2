"""float16-weight export against the float32 export: file sizes and predictor parity on a config's validation split.

    python benchmarks/bench_zoo.py --seconds 120 --output_dir output/zoo     # trained demo models to compare
    python benchmarks/bench_fp16.py --zoo_dir output/zoo                      # every demo config found there
    python benchmarks/bench_fp16.py --configs configs/recognition/dbof/dbof_youtube8m_demo.yaml \
        --weights output/DBoF_demo/DBoF_demo_best.pdparams

For every config the model (with its weights) is exported twice with
:func:`paddlevideo.inference.export.export_model`, ``precision="fp32"`` and ``"fp16"`` (float16-stored weights,
float32 compute), and both programs run in the CPU :class:`~paddlevideo.inference.predictor.Predictor` over
``DATASET.valid`` (batched and padded as in validation). Reported per model: the two ``.pdiparams`` sizes,
the largest absolute difference of the probabilities, the share of videos whose top-1 class agrees, and the
GAP and Hit@1 of each (the config's metric, over the whole split).

With ``--zoo_dir`` the weights of ``<zoo_dir>/<model_name>/`` are its latest ``<model_name>_epoch_*.pdparams``
(what ``bench_zoo.py --output_dir`` keeps). Prints one JSON line, then a table.
"""
from __future__ import annotations

import argparse
import glob
import os
import sys
import tempfile
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--configs", nargs="+", default=None, help="configs (default: every demo config)")
    p.add_argument("--weights", nargs="+", default=None, help="one .pdparams per --configs entry")
    p.add_argument("--zoo_dir", default=None, help="take each model's latest checkpoint in <zoo_dir>/<model_name>/")
    p.add_argument("--threads", type=int, default=1, help="predictor CPU threads (default 1)")
    p.add_argument("--json", default=None, help="also write the JSON result to this file")
    return p.parse_args(argv)


def latest_checkpoint(run_dir: str, model_name: str) -> str:
    """The ``<model_name>_epoch_<NNNNN>.pdparams`` of the highest epoch in ``run_dir``.

    Raises:
        FileNotFoundError: there is none.
    """
    found = sorted(glob.glob(os.path.join(run_dir, f"{glob.escape(model_name)}_epoch_*.pdparams")))
    if not found:
        raise FileNotFoundError(f"no {model_name}_epoch_*.pdparams in {run_dir}")
    return found[-1]


def compare(path: str, weights: str, threads: int) -> dict[str, Any]:
    """Export ``path`` with ``weights`` in fp32 and fp16, predict the validation split with both, compare."""
    import numpy as np

    from paddlevideo.inference.export import export_model
    from paddlevideo.inference.predictor import InferenceOptions, Predictor
    from paddlevideo.loader.builder import build_dataloader, build_dataset
    from paddlevideo.tasks.evaluate import build_metric
    from paddlevideo.tasks.loop import iterate_batches
    from paddlevideo.utils.config import load_config

    cfg = load_config(path)
    data_cfg = cfg["DATASET"]
    bs = int(data_cfg.get("valid_batch_size", data_cfg.get("batch_size", 16)))
    with tempfile.TemporaryDirectory(prefix="bench_fp16_") as tmp:
        exports = {p: export_model(cfg, os.path.join(tmp, p), weights=weights, precision=p) for p in ("fp32", "fp16")}
        options = InferenceOptions(cpu_threads=threads, max_batch_size=bs)
        predictors = {p: Predictor(r.model_file, r.params_file, options) for p, r in exports.items()}
        num_classes = int(exports["fp32"].meta["num_classes"])
        metrics = {p: build_metric(cfg, num_classes) for p in exports}
        dataset = build_dataset(cfg, "valid")
        dataset.set_batch_size(bs)
        max_diff, agree, videos = 0.0, 0, 0
        for batch in iterate_batches(build_dataloader(dataset, bs, 0), dataset):
            feed = {k: np.asarray(v) for k, v in batch.items()}
            probs = {p: pred.run(feed) for p, pred in predictors.items()}
            for p in probs:
                metrics[p].update(probs[p], feed["labels"])
            max_diff = max(max_diff, float(np.abs(probs["fp16"] - probs["fp32"]).max()))
            agree += int((probs["fp16"].argmax(1) == probs["fp32"].argmax(1)).sum())
            videos += len(feed["lengths"])
        scores = {p: m.accumulate() for p, m in metrics.items()}
        return {"model_name": cfg["model_name"], "config": path, "weights": weights, "videos": videos,
                "pdiparams_fp32_bytes": exports["fp32"].params_bytes,
                "pdiparams_fp16_bytes": exports["fp16"].params_bytes,
                "max_abs_diff": max_diff, "top1_agreement": agree / max(videos, 1),
                "gap_fp32": scores["fp32"]["gap"], "gap_fp16": scores["fp16"]["gap"],
                "hit_at_one_fp32": scores["fp32"]["hit_at_one"], "hit_at_one_fp16": scores["fp16"]["hit_at_one"]}


def main(argv=None) -> int:
    args = parse_args(argv)
    _common.prepare(1)
    from paddlevideo.utils.config import load_config

    configs = args.configs or sorted(glob.glob(os.path.join(_common.ROOT, "configs", "recognition", "*",
                                                            "*_demo.yaml")))
    if args.weights is not None:
        if len(args.weights) != len(configs):
            raise ValueError(f"--weights gives {len(args.weights)} files for {len(configs)} configs; give one each")
        weights = list(args.weights)
    elif args.zoo_dir:
        weights = []
        for c in configs:
            name = str(load_config(c)["model_name"])
            weights.append(latest_checkpoint(os.path.join(args.zoo_dir, name), name))
    else:
        raise ValueError("give the trained weights: --weights (one per config) or --zoo_dir")
    rows = [compare(c, w, args.threads) for c, w in zip(configs, weights)]
    table = [[r["model_name"], f"{r['pdiparams_fp32_bytes'] / 1e6:.2f}", f"{r['pdiparams_fp16_bytes'] / 1e6:.2f}",
              f"{r['max_abs_diff']:.1e}", f"{r['top1_agreement']:.4f}", f"{r['gap_fp32']:.4f}", f"{r['gap_fp16']:.4f}",
              f"{r['gap_fp16'] - r['gap_fp32']:+.1e}"] for r in rows]
    header = ["model", "fp32 MB", "fp16 MB", "max |dp|", "top-1 agree", "GAP fp32", "GAP fp16", "GAP change"]
    _common.emit("bench_fp16", {"machine": _common.machine_info("cpu"), "results": rows}, table, header, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(_common.run_main(main))
