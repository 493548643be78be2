"""Length bucketing: padding saved and its effect on GAP, measured by training on the sample data.

    python benchmarks/bench_bucketing.py            # AttentionLSTM demo config, 2 seeds x (off, on)
    python benchmarks/bench_bucketing.py --small    # 1 seed, fewer videos and epochs

Writes the sample data (``data/yt8m/make_sample_data.py``: learnable synthetic videos, 1-300 frames,
100 classes) to a temporary directory, then trains the config (default: the small AttentionLSTM demo)
with ``DATASET.train.bucket_window`` = 0 (off) and = ``--bucket_window`` for each seed, through the
package's own ``train_model`` with validation every epoch. Reported per run: the final and best
validation GAP, training seconds and ``computed / real frames`` of the training batches (every batch padded
to its longest video, :func:`paddlevideo.loader.datasets.bucketing.padding_ratio`). Also reports the ratio
on YouTube-8M-like lengths (``_common.yt8m_like_lengths``) for the same batch size and window.

The GAP difference (on - off) is set against the seed-to-seed spread of the runs without bucketing.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

DEFAULT_CONFIG = "configs/recognition/attention_lstm/attention_lstm_youtube8m_demo.yaml"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    _common.add_common_args(p)
    p.add_argument("--config", default=DEFAULT_CONFIG)
    p.add_argument("--seeds", type=int, default=None, help="training seeds per setting (default 2, small 1)")
    p.add_argument("--epochs", type=int, default=None, help="default 3 (small 2)")
    p.add_argument("--train_videos", type=int, default=None, help="default 600 (small 300)")
    p.add_argument("--valid_videos", type=int, default=300)
    p.add_argument("--bucket_window", type=int, default=8, help="batches per sorting window")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--threads", type=int, default=None)
    return p.parse_args(argv)


def _make_sample_data(out_dir: str, train_videos: int, valid_videos: int) -> None:
    path = os.path.join(_common.ROOT, "data", "yt8m", "make_sample_data.py")
    spec = importlib.util.spec_from_file_location("make_sample_data", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(["--out_dir", out_dir, "--train_videos", str(train_videos), "--valid_videos", str(valid_videos)])


def _train_padding(cfg, batch_size: int) -> float:
    """computed / real frames of one epoch of training batches, read through the dataset (no model)."""
    from paddlevideo.loader.builder import build_dataset
    from paddlevideo.loader.datasets.bucketing import padding_ratio, record_length

    dataset = build_dataset(cfg, "train")
    if hasattr(dataset, "set_batch_size"):
        dataset.set_batch_size(batch_size)
    dataset.set_epoch(1)
    return padding_ratio([record_length(r) for r in dataset], batch_size)


def main(argv=None) -> int:
    args = parse_args(argv)
    _common.prepare(threads=args.threads)
    import numpy as np
    import paddle  # noqa: F401

    from paddlevideo.loader.datasets.bucketing import bucket_by_length, padding_ratio
    from paddlevideo.tasks.train import train_model
    from paddlevideo.utils.config import load_config

    _common.set_device(args.device)
    seeds = args.seeds or (1 if args.small else 2)
    epochs = args.epochs or (2 if args.small else 3)
    train_videos = args.train_videos or (300 if args.small else 600)
    load_start = os.getloadavg()
    work = tempfile.mkdtemp(prefix="pv_bucketing_")
    data_dir = os.path.join(work, "frame")
    _make_sample_data(data_dir, train_videos, args.valid_videos)
    runs = []
    for seed in range(args.seed, args.seed + seeds):
        for window in (0, args.bucket_window):
            overrides = [f"DATASET.train.file_pattern={data_dir}/sample_train*.tfrecord",
                         f"DATASET.valid.file_pattern={data_dir}/sample_validate*.tfrecord",
                         f"DATASET.test.file_pattern={data_dir}/sample_validate*.tfrecord",
                         f"DATASET.train.bucket_window={window}", f"DATASET.num_workers={args.workers}",
                         f"epochs={epochs}", f"seed={seed}", f"output_dir={work}/run_s{seed}_w{window}",
                         "log_interval=1000"]
            cfg = load_config(os.path.join(_common.ROOT, args.config), overrides)
            batch_size = int(cfg["DATASET"]["batch_size"])
            ratio = _train_padding(cfg, batch_size)
            t0 = time.perf_counter()
            summary = train_model(cfg, validate=True)
            seconds = time.perf_counter() - t0
            runs.append({"seed": seed, "bucket_window": window, "computed_over_real_frames": ratio,
                         "final_gap": float(summary["last_metrics"]["gap"]),
                         "best_gap": float(summary["best"]["value"]),
                         "final_hit_at_one": float(summary["last_metrics"]["hit_at_one"]),
                         "train_seconds": float(summary.get("train_seconds", seconds)), "wall_seconds": seconds})
            print(f"# seed {seed} window {window}: GAP {runs[-1]['final_gap']:.4f}, pad x {ratio:.3f}, "
                  f"{seconds:.0f}s", file=sys.stderr, flush=True)
    off = [r for r in runs if r["bucket_window"] == 0]
    on = [r for r in runs if r["bucket_window"] != 0]
    gap_off, gap_on = np.array([r["final_gap"] for r in off]), np.array([r["final_gap"] for r in on])
    rng = np.random.default_rng(args.seed)
    lengths = _common.yt8m_like_lengths(16 * 1024, rng)
    bucketed = [int(t) for t in bucket_by_length(lengths.tolist(), 16, 32, rng, length_of=int)]
    result = {
        "config": {"config": args.config, "seeds": seeds, "epochs": epochs, "train_videos": train_videos,
                   "valid_videos": args.valid_videos, "bucket_window": args.bucket_window, "small": args.small},
        "runs": runs,
        "gap_off_mean": float(gap_off.mean()), "gap_on_mean": float(gap_on.mean()),
        "gap_diff_on_minus_off": float(gap_on.mean() - gap_off.mean()),
        "gap_seed_spread_off": float(gap_off.max() - gap_off.min()) if len(off) > 1 else None,
        "train_seconds_off": float(np.mean([r["train_seconds"] for r in off])),
        "train_seconds_on": float(np.mean([r["train_seconds"] for r in on])),
        "sample_data_ratio_off": float(np.mean([r["computed_over_real_frames"] for r in off])),
        "sample_data_ratio_on": float(np.mean([r["computed_over_real_frames"] for r in on])),
        "yt8m_like_ratio_random_b16": padding_ratio(lengths, 16),
        "yt8m_like_ratio_bucketed_b16_w32": padding_ratio(bucketed, 16),
        "machine": {**_common.machine_info(args.device), "loadavg_at_start": [round(x, 2) for x in load_start]},
    }
    rows = [(r["seed"], r["bucket_window"], r["computed_over_real_frames"], r["final_gap"], r["best_gap"],
             r["final_hit_at_one"], r["train_seconds"]) for r in runs]
    _common.emit("bench_bucketing", result, rows,
                 ("seed", "window", "pad x", "GAP", "best GAP", "Hit@1", "train s"), args.json,
                 notes=[f"GAP on - off: {result['gap_diff_on_minus_off']:+.4f} (seed spread without bucketing: "
                        f"{result['gap_seed_spread_off']}); YouTube-8M-like lengths, batch 16: computed/real "
                        f"{result['yt8m_like_ratio_random_b16']:.3f} random vs "
                        f"{result['yt8m_like_ratio_bucketed_b16_w32']:.3f} bucketed (window 32 batches).",
                        f"load average {result['machine']['loadavg_1_5_15']}; work dir {work}"])
    return 0


if __name__ == "__main__":
    sys.exit(_common.run_main(main))
