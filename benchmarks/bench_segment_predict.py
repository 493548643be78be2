"""Segment inference throughput and memory: ``tools/predict.py --segments`` over a synthetic set of many videos.

    OMP_NUM_THREADS=1 python benchmarks/bench_segment_predict.py                  # 10,000 videos, K = 100000
    python benchmarks/bench_segment_predict.py --videos 20000 --max_frames 60 --batch_size 512 --top_k 1000

Writes ``--videos`` random frame-level videos (``--min_frames`` .. ``--max_frames`` frames, uint8 rgb 1024 +
audio 128, 1,000 videos per TFRecord shard) and a vocabulary of ``--vocabulary`` classes to a temporary
directory, exports a small AttentionLSTM (random weights, ``--classes`` classes) there, and runs the segment
mode of ``tools/predict.py`` in a subprocess on the whole set: every 5-frame window scored, the top 20 classes
of each window, the ``--top_k`` best windows per class, the Kaggle CSV written. Prints one JSON line and a
summary: windows, videos, wall seconds, windows/s and the peak resident memory of the predict process
(its own ``resource.getrusage(RUSAGE_SELF).ru_maxrss``, reported by a small wrapper), next to a second run
on ``--scale_videos`` of the videos, so that the memory growth with the number of videos can be read off
(it should be small: the per-class ranking is bounded by K per class, not by the number of windows).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Windows/s and peak memory of predict.py --segments.")
    p.add_argument("--videos", type=int, default=10_000, help="videos in the synthetic set (>= 10000 for the note)")
    p.add_argument("--scale_videos", type=float, default=0.25, help="second run on this fraction of the videos")
    p.add_argument("--min_frames", type=int, default=5)
    p.add_argument("--max_frames", type=int, default=40)
    p.add_argument("--classes", type=int, default=3862, help="model classes")
    p.add_argument("--vocabulary", type=int, default=1000, help="segment vocabulary size")
    p.add_argument("--batch_size", type=int, default=512, help="windows per batch")
    p.add_argument("--top_k", type=int, default=100_000, help="windows kept per class (--segment_max_pred)")
    p.add_argument("--threads", type=int, default=1, help="--cpu_threads of the predictor")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--keep", default=None, help="write the set here and keep it (default: a temporary directory)")
    return p.parse_args(argv)


def write_set(d: str, videos: int, lo: int, hi: int, classes: int, vocabulary: int, seed: int) -> list[str]:
    """The shards, the vocabulary csv and the tiny model export in ``d``; returns the shard paths."""
    import numpy as np

    from paddlevideo.inference.export import export_model
    from paddlevideo.loader.yt8m import write_tfrecord

    rng = np.random.default_rng(seed)
    shards = []
    for s in range(0, videos, 1000):
        recs = []
        for i in range(s, min(s + 1000, videos)):
            n = int(rng.integers(lo, hi + 1))
            recs.append({"id": f"{i:05d}", "labels": np.array([i % classes]),
                         "rgb": rng.integers(0, 256, (n, 1024), dtype=np.uint8),
                         "audio": rng.integers(0, 256, (n, 128), dtype=np.uint8)})
        path = os.path.join(d, f"bench{s // 1000:04d}.tfrecord")
        write_tfrecord(path, recs)
        shards.append(path)
    vocab = rng.choice(classes, size=min(vocabulary, classes), replace=False)
    with open(os.path.join(d, "segment_label_ids.csv"), "w") as f:
        f.write("Index\n" + "".join(f"{int(c)}\n" for c in vocab))
    cfg = {"model_name": "BenchSeg",
           "MODEL": {"framework": "Recognizer1D",
                     "backbone": {"name": "AttentionLSTM", "feature_names": ["rgb", "audio"],
                                  "feature_dims": [1024, 128], "embedding_size": 32, "lstm_size": 32},
                     "head": {"name": "MLPHead", "num_classes": classes, "hidden_sizes": [64],
                              "activations": ["relu"]}},
           "INFERENCE": {"max_frames": 5}}
    export_model(cfg, os.path.join(d, "model"))
    return shards


def run_predict(d: str, shards: list[str], args: argparse.Namespace) -> dict:
    """Run predict.py --segments on ``shards`` in a fresh process; wall time and its peak RSS."""
    lst = os.path.join(d, f"set{len(shards)}.list")
    with open(lst, "w") as f:
        f.write("".join(s + "\n" for s in shards))
    # the child reports its own peak resident memory (ru_maxrss of RUSAGE_SELF, KiB on Linux) after predict.py ran
    wrapper = ("import resource, runpy, sys\n"
               "sys.argv = sys.argv[1:]\n"
               "try:\n    runpy.run_path(sys.argv[0], run_name='__main__')\n"
               "except SystemExit as e:\n    code = e.code\nelse:\n    code = 0\n"
               "print('peak_rss_kib', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
               "sys.exit(code)\n")
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", wrapper, os.path.join(ROOT, "tools", "predict.py"), "--segments",
                        "--input_file", lst, "--model_file", os.path.join(d, "model", "BenchSeg.json"),
                        "--use_gpu=False", "--segment_label_ids", os.path.join(d, "segment_label_ids.csv"),
                        "--batch_size", str(args.batch_size), "--segment_max_pred", str(args.top_k),
                        "--cpu_threads", str(args.threads), "--output", os.path.join(d, f"sub{len(shards)}.csv")],
                       capture_output=True, text=True, env={**os.environ, "GLOG_minloglevel": "2"})
    wall = time.perf_counter() - t
    if r.returncode != 0:
        raise SystemExit(f"predict failed:\n{r.stderr}")
    peak = int(r.stderr.strip().splitlines()[-1].split()[1])
    last = r.stdout.strip().splitlines()[-1]          # "scored W windows of V videos; ..."
    words = last.split()
    windows, videos = int(words[1]), int(words[4])
    return {"videos": videos, "windows": windows, "wall_s": round(wall, 2), "windows_per_s": round(windows / wall, 1),
            "peak_rss_mb": round(peak / 1024, 1),
            "csv_mb": round(os.path.getsize(os.path.join(d, f"sub{len(shards)}.csv")) / 2**20, 2)}


def main(argv=None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("GLOG_minloglevel", "2")     # before paddle is imported (write_set exports the model)
    own = args.keep is None
    d = tempfile.mkdtemp(prefix="bench_segment_") if own else args.keep
    os.makedirs(d, exist_ok=True)
    t = time.perf_counter()
    shards = write_set(d, args.videos, args.min_frames, args.max_frames, args.classes, args.vocabulary, args.seed)
    setup = time.perf_counter() - t
    small = run_predict(d, shards[: max(1, int(round(len(shards) * args.scale_videos)))], args)
    full = run_predict(d, shards, args)
    result = {"setup_s": round(setup, 1), "batch_size": args.batch_size, "top_k": args.top_k,
              "classes": args.classes, "vocabulary": args.vocabulary, "threads": args.threads,
              "small": small, "full": full, "data_dir": None if own else d}
    print(json.dumps(result))
    for name, r in (("small", small), ("full", full)):
        print(f"{name}: {r['videos']} videos, {r['windows']} windows in {r['wall_s']} s -> {r['windows_per_s']} "
              f"windows/s (whole process: start-up, reading, inference, ranking, CSV); peak RSS "
              f"{r['peak_rss_mb']} MB; CSV {r['csv_mb']} MB")
    if own:
        import shutil

        shutil.rmtree(d, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
