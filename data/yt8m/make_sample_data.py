"""Write a small, learnable sample dataset in the exact YouTube-8M frame-level TFRecord schema.

    python data/yt8m/make_sample_data.py      # -> data/yt8m/sample/frame/sample_{train,validate}000N.tfrecord
    python data/yt8m/make_sample_data.py --out_dir /tmp/yt8m --num_classes 50 --train_videos 400

The set has its own folder and file names (``sample_train0000.tfrecord``, ``sample_validate0000.tfrecord``),
so it can never be taken for the real dataset: the full-size configs read ``data/yt8m/frame/train*.tfrecord``,
the demo configs ``data/yt8m/sample/frame/sample_train*.tfrecord``.

How the videos are made (deterministic for a given --seed):
- every class c has a fixed prototype in rgb space (1024-d) and in audio space (128-d);
- a video has 1-4 labels and 1-300 frames; for each label a random subset of its frames
  (``--signal_fraction`` on average) shows that class's prototype plus Gaussian noise;
- the other frames are noise, or, at a low rate (``--distractor_rate``), the prototype of a class the
  video is not labelled with;
- values are quantized with the YouTube-8M encoder (``round((clip(x, -2, 2) + 2) * 255 / 4)``) and
  written as SequenceExamples with context ``id`` / ``labels`` and feature lists ``rgb`` / ``audio``.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import sys
from collections.abc import Iterator

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
from paddlevideo.loader.yt8m import quantize_numpy, write_tfrecord  # noqa: E402

FEATURE_DIMS = {"rgb": 1024, "audio": 128}
#: Prefix of the shard names (``sample_train0000.tfrecord``): real YouTube-8M shards are ``train0000.tfrecord``.
PREFIX = "sample_"
#: Where versions before the rename wrote the set: the real dataset's folder and shard names.
OLD_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "frame")
#: File in the output directory that records the settings the set was made with.
MANIFEST = "sample_manifest.json"


def make_prototypes(num_classes: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Class prototypes: float32 [num_classes, D] per modality, entries N(0, 0.8^2)."""
    return {k: rng.normal(0.0, 0.8, size=(num_classes, d)).astype(np.float32) for k, d in FEATURE_DIMS.items()}


def make_video(index: int, split: str, num_classes: int, protos: dict[str, np.ndarray], rng: np.random.Generator,
               max_frames: int, signal_fraction: float, distractor_rate: float, noise: float) -> dict:
    """One record dict ``{id, labels int64[L], rgb uint8[T,1024], audio uint8[T,128]}``."""
    num_labels = int(rng.integers(1, 5))
    labels = rng.choice(num_classes, size=num_labels, replace=False).astype(np.int64)
    length = int(rng.integers(1, max_frames + 1))
    feats = {k: rng.normal(0.0, noise, size=(length, d)).astype(np.float32) for k, d in FEATURE_DIMS.items()}
    for c in labels:
        shown = rng.random(length) < signal_fraction
        shown[rng.integers(length)] = True  # every label is visible in at least one frame
        for k in feats:
            feats[k][shown] += protos[k][c]
    others = np.setdiff1d(np.arange(num_classes), labels)
    distract = rng.random(length) < distractor_rate
    if distract.any():
        picks = rng.choice(others, size=int(distract.sum()))
        for k in feats:
            feats[k][distract] += 0.5 * protos[k][picks]
    record = {"id": f"{split[:1]}{index:05d}", "labels": labels}
    record.update({k: quantize_numpy(v) for k, v in feats.items()})
    return record


def generate_split(split: str, num_videos: int, shards: int, out_dir: str, seed: int, protos, args) -> list[str]:
    """Write ``num_videos`` videos of ``split`` into ``shards`` files ``sample_<split>NNNN.tfrecord``; returns
    paths."""
    paths = []
    per_shard = int(np.ceil(num_videos / shards))
    for s in range(shards):
        rng = np.random.default_rng([seed, 1 if split == "train" else 2, s])
        lo, hi = s * per_shard, min(num_videos, (s + 1) * per_shard)

        def records(lo=lo, hi=hi, rng=rng) -> Iterator[dict]:
            for i in range(lo, hi):
                yield make_video(i, split, args.num_classes, protos, rng, args.max_frames,
                                 args.signal_fraction, args.distractor_rate, args.noise)

        path = os.path.join(out_dir, f"{PREFIX}{split}{s:04d}.tfrecord")
        write_tfrecord(path, records())
        paths.append(path)
    return paths


def parse_args(argv=None) -> argparse.Namespace:
    """Parse the command line (sizes, difficulty, seed; see ``--help``)."""
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out_dir", default=os.path.join(here, "sample", "frame"),
                   help="where the shards go (default data/yt8m/sample/frame)")
    p.add_argument("--num_classes", type=int, default=100)
    p.add_argument("--train_videos", type=int, default=2000)
    p.add_argument("--valid_videos", type=int, default=250)
    p.add_argument("--train_shards", type=int, default=4)
    p.add_argument("--valid_shards", type=int, default=2)
    p.add_argument("--max_frames", type=int, default=300)
    p.add_argument("--signal_fraction", type=float, default=0.15)
    p.add_argument("--distractor_rate", type=float, default=0.05)
    p.add_argument("--noise", type=float, default=0.6)
    p.add_argument("--seed", type=int, default=2018)
    p.add_argument("--force", action="store_true",
                   help="rewrite even when the set exists, or when out_dir holds other .tfrecord files")
    return p.parse_args(argv)


def main(argv=None) -> int:
    """Write the sample set to ``--out_dir`` unless the same set is there; returns the exit code (2 when
    ``--out_dir`` holds TFRecords this script did not write)."""
    args = parse_args(argv)
    # The manifest (written last) records the settings and files of the set in out_dir: the same settings
    # skip the work, other settings rewrite the set (removing its shards the new set does not have).
    # TFRecords without a manifest were not written by this script and are never overwritten without --force.
    settings = {k: v for k, v in sorted(vars(args).items()) if k not in ("out_dir", "force")}
    manifest = os.path.join(args.out_dir, MANIFEST)
    if not args.force and os.path.isfile(manifest):
        with open(manifest, encoding="utf-8") as f:
            recorded = json.load(f)
        if {k: v for k, v in recorded.items() if k != "files"} == settings:
            print(f"sample data already in {args.out_dir} (use --force to rewrite)")
            _warn_old_sample_set()
            return 0
    previous = []
    if os.path.isfile(manifest):
        with open(manifest, encoding="utf-8") as f:
            previous = json.load(f).get("files", [])
    elif glob.glob(os.path.join(args.out_dir, "*.tfrecord")) and not args.force:
        # never overwrite TFRecords this script did not write (a real YouTube-8M download, say)
        print(f"error: {args.out_dir} holds .tfrecord files but no {MANIFEST}: they were not written by this "
              "script (or by an older version of it); use another --out_dir, or --force to overwrite them",
              file=sys.stderr)
        return 2
    os.makedirs(args.out_dir, exist_ok=True)
    protos = make_prototypes(args.num_classes, np.random.default_rng([args.seed, 0]))
    train = generate_split("train", args.train_videos, args.train_shards, args.out_dir, args.seed, protos, args)
    valid = generate_split("validate", args.valid_videos, args.valid_shards, args.out_dir, args.seed, protos, args)
    files = [os.path.basename(p) for p in train + valid]
    for name in set(previous) - set(files):          # shards of the previous set that this one has not
        path = os.path.join(args.out_dir, name)
        if os.path.isfile(path):
            os.remove(path)
    with open(manifest, "w", encoding="utf-8") as f:
        json.dump({**settings, "files": files}, f, indent=1)
    print(f"wrote {len(train)} train and {len(valid)} validate shards to {args.out_dir}")
    _warn_old_sample_set()
    return 0


def _warn_old_sample_set() -> None:
    """Say so when an older version's sample set sits where the full-size configs look for real data."""
    if os.path.isfile(os.path.join(OLD_DIR, MANIFEST)):
        print(f"warning: {OLD_DIR} holds a sample set written by an older version of this script, where the "
              "full-size configs look for the real dataset; remove it (the sample set now lives in "
              "data/yt8m/sample/frame)", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
