"""Latency of the exported model on Paddle Inference next to the eager (dynamic-graph) model, side by side.

    OMP_NUM_THREADS=1 python benchmarks/bench_infer.py                       # demo + full config, B=1 and 32, T=300
    python benchmarks/bench_infer.py --configs configs/.../attention_lstm_youtube8m_demo.yaml --batch_sizes 1 8 \
        --frames 150 --repeats 5 --device cpu --threads 2

For every config the model is built with random weights (seeded), exported to a temporary directory with
:func:`paddlevideo.inference.export.export_model` and loaded into a :class:`Predictor`. Each (config, batch)
runs on the same random uint8 batch with every video ``--frames`` long: ``--warmup`` untimed runs, then
``--repeats`` timed runs per engine; the median and minimum seconds per batch are reported together with the
largest absolute difference between the two engines' probabilities. Prints one JSON line (machine-readable)
followed by a table.
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

DEFAULT_CONFIGS = ["configs/recognition/attention_lstm/attention_lstm_youtube8m_demo.yaml",
                   "configs/recognition/attention_lstm/attention_lstm_youtube8m.yaml"]


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
        rng = np.random.default_rng(args.seed)
        for b in args.batch_sizes:
            batch = {n: rng.integers(0, 256, (b, args.frames, d)).astype(np.uint8)
                     for n, d in zip(meta["feature_names"], meta["feature_dims"])}
            batch["lengths"] = np.full(b, args.frames, np.int64)
            tensors = [paddle.to_tensor(batch[n]) for n in meta["feature_names"]] + [paddle.to_tensor(batch["lengths"])]

            def eager():
                with paddle.no_grad():
                    return model.infer_forward(*tensors).numpy()

            eager_out, eager_t = _time(eager, args.warmup, args.repeats)
            pred_out, pred_t = _time(lambda: predictor.run(batch), args.warmup, args.repeats)
            rows.append({"config": os.path.basename(path), "model_name": meta["model_name"], "batch": b,
                         "frames": args.frames, "eager_median_s": statistics.median(eager_t),
                         "eager_min_s": min(eager_t), "predictor_median_s": statistics.median(pred_t),
                         "predictor_min_s": min(pred_t), "max_abs_diff": float(np.abs(eager_out - pred_out).max()),
                         "export_s": export_s, "predictor_load_s": load_s})
    return rows


def main(argv=None) -> int:
    args = parse_args(argv)
    from paddlevideo.utils.quiet import quiet_paddle

    quiet_paddle()
    import paddle

    paddle.set_device(args.device)
    rows = [r for path in args.configs for r in bench_config(path, args)]
    info = {"device": args.device, "threads": args.threads, "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
            "enable_mkldnn": args.enable_mkldnn, "warmup": args.warmup, "repeats": args.repeats,
            "paddle": paddle.__version__, "results": rows}
    print(json.dumps(info))
    head = (f"{'model':<22}{'B':>4}{'T':>5}  {'eager med (min) ms':>22}  {'predictor med (min) ms':>24}  "
            f"{'speed-up':>8}  {'max diff':>9}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['model_name']:<22}{r['batch']:>4}{r['frames']:>5}  "
              f"{1e3 * r['eager_median_s']:>11.1f} ({1e3 * r['eager_min_s']:8.1f})  "
              f"{1e3 * r['predictor_median_s']:>13.1f} ({1e3 * r['predictor_min_s']:8.1f})  "
              f"{r['eager_median_s'] / r['predictor_median_s']:>7.2f}x  {r['max_abs_diff']:>9.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
