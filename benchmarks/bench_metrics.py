"""Metric benchmark: streaming YouTube-8M metrics over the validation split's size, time and peak memory.

    python benchmarks/bench_metrics.py           # 1.1 M videos x 3862 classes (the 2018 validation split)
    python benchmarks/bench_metrics.py --small   # 50 k videos, a few seconds

Feeds :class:`paddlevideo.metrics.youtube8m.YouTube8MMetric` (top-k 20) batch by batch with synthetic
sigmoid-like scores float32 [B, C] (uniform noise, raised on ~3 random labels per video so that GAP is far
from 0) and multi-hot labels, then calls ``accumulate`` once. Reported, on one core (numpy only):

* ``update_s``: summed wall time of the ``update`` calls (data generation excluded), and per video;
* ``accumulate_s``: the final Hit@1 / PERR / GAP / mAP computation;
* ``peak_rss_mb`` (process high-water mark, ``ru_maxrss``) against ``baseline_rss_mb`` before the first
  update, and the metric state in bytes per video (O(N * k)); a dense [N, C] float32 score matrix would
  need N * C * 4 bytes.

Targets from the performance issue: bounded memory (O(N * 20)) and under 60 s of metric time.
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

TARGET_SECONDS = 60.0


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    _common.add_common_args(p)
    p.add_argument("--num_videos", type=int, default=None, help="default 1,100,000 (small: 50,000)")
    p.add_argument("--num_classes", type=int, default=3862)
    p.add_argument("--batch_size", type=int, default=1024, help="videos per update call")
    p.add_argument("--top_k", type=int, default=20)
    return p.parse_args(argv)


def _rss_mb() -> float:
    """Peak resident set size of this process so far, MB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _current_rss_mb() -> float:
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return float("nan")


def main(argv=None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    _common.prepare(threads=1)
    import numpy as np

    from paddlevideo.metrics.youtube8m import YouTube8MMetric

    if args.device == "gpu":
        print("# bench_metrics runs on the host (numpy); --device gpu changes nothing here", file=sys.stderr)
    n_total = args.num_videos or (50_000 if args.small else 1_100_000)
    c, bs = args.num_classes, args.batch_size
    rng = np.random.default_rng(args.seed)
    metric = YouTube8MMetric(c, top_k=args.top_k)
    rows_idx = np.arange(bs)
    baseline = _current_rss_mb()
    load_start = os.getloadavg()
    update_wall = update_cpu = gen = 0.0
    done = 0
    while done < n_total:
        b = min(bs, n_total - done)
        t0 = time.perf_counter()
        labels = np.zeros((b, c), dtype=np.float32)
        picks = rng.integers(0, c, size=(b, 3))
        labels[rows_idx[:b, None], picks] = 1.0
        scores = rng.random((b, c), dtype=np.float32) * np.float32(0.6)
        scores += labels * rng.random((b, c), dtype=np.float32) * np.float32(0.4)
        gen += time.perf_counter() - t0
        w0, c0 = time.perf_counter(), time.process_time()
        metric.update(scores, labels)
        update_wall += time.perf_counter() - w0
        update_cpu += time.process_time() - c0
        done += b
    del labels, scores
    peak_after_updates = _rss_mb()
    w0, c0 = time.perf_counter(), time.process_time()
    result_metrics = metric.accumulate()
    acc_wall, acc_cpu = time.perf_counter() - w0, time.process_time() - c0
    peak = _rss_mb()
    state = metric.state()
    state_bytes = int(sum(v.nbytes for v in state.values() if isinstance(v, np.ndarray)))
    total_metric_s = update_wall + acc_wall
    result = {
        "config": {"num_videos": n_total, "num_classes": c, "batch_size": bs, "top_k": args.top_k,
                   "small": args.small},
        "update_s": update_wall, "update_cpu_s": update_cpu, "update_us_per_video": update_wall / n_total * 1e6,
        "accumulate_s": acc_wall, "accumulate_cpu_s": acc_cpu,
        "metric_s": total_metric_s, "data_generation_s": gen,
        "target_s": TARGET_SECONDS, "meets_target": total_metric_s < TARGET_SECONDS,
        "baseline_rss_mb": baseline, "peak_rss_after_updates_mb": peak_after_updates, "peak_rss_mb": peak,
        "state_bytes": state_bytes, "state_bytes_per_video": state_bytes / n_total,
        "dense_scores_bytes": n_total * c * 4,
        "metrics": {k: float(v) for k, v in result_metrics.items()},
        "machine": {**_common.machine_info("cpu"), "loadavg_at_start": [round(x, 2) for x in load_start]},
    }
    rows = [("update (all batches)", update_wall, update_cpu, update_wall / n_total * 1e6),
            ("accumulate", acc_wall, acc_cpu, acc_wall / n_total * 1e6),
            ("total metric time", total_metric_s, update_cpu + acc_cpu, total_metric_s / n_total * 1e6)]
    _common.emit("bench_metrics", result, rows, ("phase", "wall s", "cpu s", "us/video"), args.json,
                 notes=[f"{n_total:,} videos x {c} classes, batches of {bs}; peak RSS {peak:.0f} MB "
                        f"(baseline {baseline:.0f} MB, after updates {peak_after_updates:.0f} MB); metric state "
                        f"{state_bytes / 1e6:.0f} MB = {state_bytes / n_total:.0f} B/video "
                        f"(dense scores would be {n_total * c * 4 / 1e9:.1f} GB).",
                        f"GAP {result_metrics['gap']:.4f}  Hit@1 {result_metrics['hit_at_one']:.4f}  "
                        f"PERR {result_metrics['perr']:.4f}  mAP {result_metrics['map']:.4f}  (synthetic scores); "
                        f"load average {result['machine']['loadavg_1_5_15']}."])
    return 0


if __name__ == "__main__":
    sys.exit(_common.run_main(main))
