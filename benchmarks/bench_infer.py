"""Latency of the exported model on Paddle Inference next to ``paddle.jit.load`` and the eager
(dynamic-graph) model, side by side, and the padding waste of variable-length batches.

    OMP_NUM_THREADS=1 python benchmarks/bench_infer.py    # AttentionLSTM + HierarchicalAttention, demo + full, B=1, 32
    python benchmarks/bench_infer.py --configs configs/.../attention_lstm_youtube8m_demo.yaml --batch_sizes 1 8 \
        --frames 150 --repeats 5 --device cpu --threads 2

For every config the model is built with random weights (seeded), exported to a temporary directory with
:func:`paddlevideo.inference.export.export_model` and loaded into a :class:`Predictor`. Each (config, batch)
runs on the same random uint8 batch with every video ``--frames`` long: ``--warmup`` untimed runs, then
``--repeats`` timed runs per engine; the median and minimum seconds per batch are reported together with the
largest absolute difference between the engines' probabilities.

Padding waste: a batch of the largest ``--batch_sizes`` with YouTube-8M-like lengths
(:func:`_common.yt8m_like_lengths`, mean about 218 frames) is padded to its longest video, as this
package's collate does; ``computed / real frames`` is reported next to PaddleVideo's padding to 512 frames,
and the predictor is timed on that batch and on the same batch padded to ``--frames`` (all valid).

Prints one JSON line (machine-readable) followed by a table.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

DEFAULT_CONFIGS = ["configs/recognition/attention_lstm/attention_lstm_youtube8m_demo.yaml",
                   "configs/recognition/attention_lstm/attention_lstm_youtube8m.yaml",
                   "configs/recognition/hierarchical_attention/hierarchical_attention_youtube8m_demo.yaml",
                   "configs/recognition/hierarchical_attention/hierarchical_attention_youtube8m.yaml"]


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Eager vs Paddle Inference latency of exported models.")
    p.add_argument("--configs", nargs="+", default=DEFAULT_CONFIGS, help="model configs to measure")
    p.add_argument("--batch_sizes", nargs="+", type=int, default=[1, 32], help="batch sizes")
    p.add_argument("--frames", type=int, default=300, help="frames per video (all valid)")
    p.add_argument("--warmup", type=int, default=1, help="untimed runs before timing")
    p.add_argument("--repeats", type=int, default=3, help="timed runs per engine")
    p.add_argument("--device", choices=["cpu", "gpu"], default="cpu", help="device of both engines")
    p.add_argument("--threads", type=int, default=1, help="CPU math threads of the predictor")
    p.add_argument("--enable_mkldnn", action="store_true", help="oneDNN kernels in the predictor")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def _time(fn, warmup: int, repeats: int):
    for _ in range(warmup):
        out = fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return out, times


def bench_config(path: str, args: argparse.Namespace):
    import numpy as np
    import paddle

    from paddlevideo.inference.export import build_eval_model, export_model
    from paddlevideo.inference.predictor import InferenceOptions, Predictor
    from paddlevideo.utils.config import load_config

    cfg = load_config(path)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        paddle.seed(args.seed)
        weights = os.path.join(tmp, "w.pdparams")
        paddle.save(build_eval_model(cfg["MODEL"]).state_dict(), weights)
        model = build_eval_model(cfg["MODEL"], weights)
        t = time.perf_counter()
        result = export_model(cfg, os.path.join(tmp, "export"), weights=weights)
        export_s = time.perf_counter() - t
        meta = result.meta
        options = InferenceOptions(use_gpu=args.device == "gpu", cpu_threads=args.threads,
                                   enable_mkldnn=args.enable_mkldnn, max_batch_size=max(args.batch_sizes),
                                   max_frames=args.frames)
        t = time.perf_counter()
        predictor = Predictor(result.model_file, result.params_file, options)
        load_s = time.perf_counter() - t
        loaded = paddle.jit.load(os.path.splitext(result.model_file)[0])
        loaded.eval()
        rng = np.random.default_rng(args.seed)
        for b in args.batch_sizes:
            batch = {n: rng.integers(0, 256, (b, args.frames, d)).astype(np.uint8)
                     for n, d in zip(meta["feature_names"], meta["feature_dims"])}
            batch["lengths"] = np.full(b, args.frames, np.int64)
            tensors = [paddle.to_tensor(batch[n]) for n in meta["feature_names"]] + [paddle.to_tensor(batch["lengths"])]

            def eager():
                with paddle.no_grad():
                    return model.infer_forward(*tensors).numpy()

            def jit():
                with paddle.no_grad():
                    return loaded(*tensors).numpy()

            eager_out, eager_t = _time(eager, args.warmup, args.repeats)
            jit_out, jit_t = _time(jit, args.warmup, args.repeats)
            pred_out, pred_t = _time(lambda: predictor.run(batch), args.warmup, args.repeats)
            rows.append({"config": os.path.basename(path), "model_name": meta["model_name"], "batch": b,
                         "frames": args.frames, "eager_median_s": statistics.median(eager_t),
                         "eager_min_s": min(eager_t), "jit_load_median_s": statistics.median(jit_t),
                         "jit_load_min_s": min(jit_t), "predictor_median_s": statistics.median(pred_t),
                         "predictor_min_s": min(pred_t),
                         "max_abs_diff": float(max(np.abs(eager_out - pred_out).max(),
                                                   np.abs(eager_out - jit_out).max())),
                         "export_s": export_s, "predictor_load_s": load_s})
        padding = _padding_waste(predictor, meta, max(args.batch_sizes), args, rng)
        padding["model_name"] = meta["model_name"]
    return rows, padding


def _padding_waste(predictor, meta, b: int, args: argparse.Namespace, rng) -> dict:
    """Computed / real frames of one YouTube-8M-like batch padded to its longest video vs to 512 frames, and
    the predictor's time on it vs on the same batch padded to ``--frames``."""
    import numpy as np
    from _common import yt8m_like_lengths

    from paddlevideo.loader.pipelines import collate_frames

    lengths = np.minimum(yt8m_like_lengths(b, rng), args.frames)
    videos = [{n: rng.integers(0, 256, (int(t), d)).astype(np.uint8)
               for n, d in zip(meta["feature_names"], meta["feature_dims"])} for t in lengths]
    variable = collate_frames(videos)
    full = {n: np.zeros((b, args.frames, d), np.uint8) for n, d in zip(meta["feature_names"], meta["feature_dims"])}
    for n in meta["feature_names"]:
        full[n][:, :variable[n].shape[1]] = variable[n]
    full["lengths"] = variable["lengths"]
    _, var_t = _time(lambda: predictor.run(variable), args.warmup, args.repeats)
    _, full_t = _time(lambda: predictor.run(full), args.warmup, args.repeats)
    real = int(lengths.sum())
    return {"batch": b, "real_frames": real, "longest": int(lengths.max()),
            "computed_over_real_pad_to_longest": b * int(lengths.max()) / real,
            "computed_over_real_pad_to_512": b * 512 / real,
            "predictor_padded_to_longest_s": statistics.median(var_t),
            f"predictor_padded_to_{args.frames}_s": statistics.median(full_t)}


def main(argv=None) -> int:
    args = parse_args(argv)
    from paddlevideo.utils.quiet import quiet_paddle

    quiet_paddle()
    import paddle

    paddle.set_device(args.device)
    rows, paddings = [], []
    for path in args.configs:
        r, pad = bench_config(path, args)
        rows += r
        paddings.append(pad)
    info = {"device": args.device, "threads": args.threads, "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
            "enable_mkldnn": args.enable_mkldnn, "warmup": args.warmup, "repeats": args.repeats,
            "paddle": paddle.__version__, "loadavg": list(os.getloadavg()), "results": rows, "padding": paddings}
    print(json.dumps(info))
    head = (f"{'model':<22}{'B':>4}{'T':>5}  {'eager med (min) ms':>20}  {'jit.load med ms':>15}  "
            f"{'predictor med (min) ms':>22}  {'pred/eager':>10}  {'max diff':>9}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['model_name']:<22}{r['batch']:>4}{r['frames']:>5}  "
              f"{1e3 * r['eager_median_s']:>9.1f} ({1e3 * r['eager_min_s']:8.1f})  "
              f"{1e3 * r['jit_load_median_s']:>15.1f}  "
              f"{1e3 * r['predictor_median_s']:>11.1f} ({1e3 * r['predictor_min_s']:8.1f})  "
              f"{r['predictor_median_s'] / r['eager_median_s']:>10.2f}  {r['max_abs_diff']:>9.1e}")
    for p in paddings:
        print(f"{p['model_name']}: batch of {p['batch']} YouTube-8M-like lengths ({p['real_frames']} real frames, "
              f"longest {p['longest']}): computed/real {p['computed_over_real_pad_to_longest']:.2f} padded to the "
              f"longest vs {p['computed_over_real_pad_to_512']:.2f} padded to 512 (PaddleVideo); predictor "
              f"{1e3 * p['predictor_padded_to_longest_s']:.1f} ms padded to the longest vs "
              f"{1e3 * p[f'predictor_padded_to_{args.frames}_s']:.1f} ms padded to {args.frames}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
