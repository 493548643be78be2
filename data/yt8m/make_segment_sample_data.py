"""Write a small, learnable segment-rated sample set in the layout of YouTube-8M's 2019 segment-rated files.

    python data/yt8m/make_segment_sample_data.py   # -> data/yt8m/sample/segment/sample_segment_*.tfrecord
    python data/yt8m/make_segment_sample_data.py --out_dir /tmp/seg --train_videos 100

The files are frame-level ``SequenceExample`` records like those of ``3/frame/validate`` (docs/segments.md): context
``id``, ``labels`` and the four parallel lists ``segment_labels``, ``segment_start_times``, ``segment_end_times``
(start + 5) and ``segment_scores`` (1.0 / 0.0), feature lists ``rgb`` and ``audio``. Next to them,
``sample_segment_label_ids.csv`` (header ``Index``, one class per line, not sorted) lists the classes that are
rated, a subset of the sample data's classes, in the format of Google's ``segment_label_ids.csv``.

How the videos are made (deterministic for a given --seed):
- the class prototypes are those of ``make_sample_data.py`` with the same --seed and --num_classes, so a model
  trained on the video-level sample set already knows the classes and fine-tuning starts from it;
- a video has 20..--max_frames frames of noise and 1-2 labels from the rated classes; each label is shown
  (its prototype plus noise in all frames) in about --shown_fraction of the 5-frame windows starting at
  0, 5, 10, ..., and in at least one;
- every label gets 1-2 positive ratings (windows that show it) and 1-2 negative ones (windows that do not, when
  there are any); some videos also rate a class they do not show (negative). The pairs are written in random
  order, so start times are unsorted and repeat, as in the real files;
- about 1 video in 20 also rates a start time past its last frame (negative), a quirk of the real files that
  the reader skips and counts;
- values are quantized with the YouTube-8M encoder.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
from make_sample_data import FEATURE_DIMS, make_prototypes  # noqa: E402

from paddlevideo.loader.yt8m import quantize_numpy  # noqa: E402
from paddlevideo.loader.yt8m.segments import SEGMENT_SIZE, encode_segment_example  # noqa: E402
from paddlevideo.loader.yt8m.tfrecord import write_records  # noqa: E402

PREFIX = "sample_segment_"
VOCABULARY = "sample_segment_label_ids.csv"
MANIFEST = "sample_segment_manifest.json"


def rated_classes(num_classes: int, count: int, seed: int) -> np.ndarray:
    """The ``count`` rated classes: a seeded random subset of ``0..num_classes-1``, in random order (int64)."""
    return np.random.default_rng([seed, 7]).choice(num_classes, size=count, replace=False).astype(np.int64)


def make_video(index: int, split: str, vocab: np.ndarray, protos: dict[str, np.ndarray], rng: np.random.Generator,
               args: argparse.Namespace) -> tuple[dict, dict]:
    """One video: ``(record {id, labels, rgb, audio}, ratings {start_times, classes, scores, end_times})``."""
    length = int(rng.integers(20, args.max_frames + 1))
    starts = np.arange(0, length, SEGMENT_SIZE)
    feats = {k: rng.normal(0.0, args.noise, size=(length, d)).astype(np.float32) for k, d in FEATURE_DIMS.items()}
    labels = rng.choice(vocab, size=int(rng.integers(1, 3)), replace=False).astype(np.int64)
    pairs: list[tuple[int, int, float]] = []
    for c in labels.tolist():
        shown = rng.random(starts.size) < args.shown_fraction
        shown[rng.integers(starts.size)] = True
        for s in starts[shown]:
            for k in feats:
                feats[k][s:s + SEGMENT_SIZE] += protos[k][c]
        for pool, score in ((starts[shown], 1.0), (starts[~shown], 0.0)):
            if pool.size:
                for s in rng.choice(pool, size=min(pool.size, int(rng.integers(1, 3))), replace=False):
                    pairs.append((int(s), c, score))
    if rng.random() < 0.5:                     # a class the video does not show, rated negative
        others = np.setdiff1d(vocab, labels)
        pairs.append((int(rng.choice(starts)), int(rng.choice(others)), 0.0))
    if rng.random() < 0.05:                    # a start past the last frame, as real files hold
        pairs.append((int(starts[-1]) + SEGMENT_SIZE * int(rng.integers(1, 4)), int(labels[0]), 0.0))
    order = rng.permutation(len(pairs))
    pairs = [pairs[i] for i in order]
    record = {"id": f"s{split[:1]}{index:05d}", "labels": labels}
    record.update({k: quantize_numpy(v) for k, v in feats.items()})
    ratings = {"start_times": np.array([p[0] for p in pairs], np.int64),
               "classes": np.array([p[1] for p in pairs], np.int64),
               "scores": np.array([p[2] for p in pairs], np.float32)}
    ratings["end_times"] = ratings["start_times"] + SEGMENT_SIZE
    return record, ratings


def write_split(split: str, num_videos: int, shards: int, vocab: np.ndarray, protos, args) -> list[str]:
    """Write ``num_videos`` videos of ``split`` into ``shards`` files; returns their paths."""
    paths = []
    per_shard = int(np.ceil(num_videos / shards))
    for s in range(shards):
        rng = np.random.default_rng([args.seed, 11 if split == "train" else 12, s])

        def payloads(lo=s * per_shard, hi=min(num_videos, (s + 1) * per_shard), rng=rng):
            for i in range(lo, hi):
                record, ratings = make_video(i, split, vocab, protos, rng, args)
                yield encode_segment_example(record["id"], record["labels"],
                                             {"rgb": record["rgb"], "audio": record["audio"]}, **ratings)

        path = os.path.join(args.out_dir, f"{PREFIX}{split}{s:04d}.tfrecord")
        write_records(path, payloads())
        paths.append(path)
    return paths


def parse_args(argv=None) -> argparse.Namespace:
    """Parse the command line (sizes, difficulty, seed; see ``--help``)."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out_dir", default=os.path.join(HERE, "sample", "segment"),
                   help="where the files go (default data/yt8m/sample/segment)")
    p.add_argument("--num_classes", type=int, default=100, help="classes of the sample data (make_sample_data.py)")
    p.add_argument("--rated_classes", type=int, default=40, help="how many of them are rated")
    p.add_argument("--train_videos", type=int, default=400)
    p.add_argument("--valid_videos", type=int, default=100)
    p.add_argument("--train_shards", type=int, default=2)
    p.add_argument("--valid_shards", type=int, default=1)
    p.add_argument("--max_frames", type=int, default=100)
    p.add_argument("--shown_fraction", type=float, default=0.3)
    p.add_argument("--noise", type=float, default=0.6)
    p.add_argument("--seed", type=int, default=2018, help="the same as make_sample_data.py's for its prototypes")
    p.add_argument("--force", action="store_true",
                   help="rewrite even when the set exists, or when out_dir holds other .tfrecord files")
    args = p.parse_args(argv)
    if not 1 <= args.rated_classes <= args.num_classes or args.max_frames < 20:
        p.error("need 1 <= --rated_classes <= --num_classes and --max_frames >= 20")
    return args


def main(argv=None) -> int:
    """Write the set unless the same one is in ``--out_dir``; exit code 2 when ``--out_dir`` holds TFRecords
    this script did not write (they are left alone)."""
    args = parse_args(argv)
    settings = {k: v for k, v in sorted(vars(args).items()) if k not in ("out_dir", "force")}
    manifest = os.path.join(args.out_dir, MANIFEST)
    previous = []
    if os.path.isfile(manifest):
        with open(manifest, encoding="utf-8") as f:
            recorded = json.load(f)
        if not args.force and {k: v for k, v in recorded.items() if k != "files"} == settings:
            print(f"segment sample data already in {args.out_dir} (use --force to rewrite)")
            return 0
        previous = recorded.get("files", [])
    elif glob.glob(os.path.join(args.out_dir, "*.tfrecord")) and not args.force:
        print(f"error: {args.out_dir} holds .tfrecord files but no {MANIFEST}: they were not written by this script; "
              "use another --out_dir, or --force to write next to them", file=sys.stderr)
        return 2
    os.makedirs(args.out_dir, exist_ok=True)
    protos = make_prototypes(args.num_classes, np.random.default_rng([args.seed, 0]))
    vocab = rated_classes(args.num_classes, args.rated_classes, args.seed)
    train = write_split("train", args.train_videos, args.train_shards, vocab, protos, args)
    valid = write_split("validate", args.valid_videos, args.valid_shards, vocab, protos, args)
    with open(os.path.join(args.out_dir, VOCABULARY), "w", encoding="utf-8") as f:
        f.write("Index\n" + "".join(f"{c}\n" for c in vocab.tolist()))
    files = [os.path.basename(p) for p in train + valid]
    for name in set(previous) - set(files):
        if os.path.isfile(os.path.join(args.out_dir, name)):
            os.remove(os.path.join(args.out_dir, name))
    with open(manifest, "w", encoding="utf-8") as f:
        json.dump({**settings, "files": files}, f, indent=1)
    print(f"wrote {len(train)} train and {len(valid)} validate shards and {VOCABULARY} to {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
