"""Score a Kaggle segment submission against segment-rated TFRecords: MAP@K (the 2019 YouTube-8M metric).

    python tools/segment_map.py --submission submission.csv --labels 'data/yt8m/3/frame/validate*.tfrecord'
    python tools/segment_map.py --submission sub.csv --labels validate.list --top_k 100000

``--submission``: the ``Class,Segments`` CSV (``tools/predict.py --segments`` writes one). ``--labels``: the
rated records, as files, globs, directories or list files (several may be given). The last line of stdout is
one JSON object: ``map`` (mean AP@K over every class with a positive rating, a class without a row counting 0),
``map_starter`` (the mean over classes with a row and a positive, as google/youtube-8m
``segment_eval_inference.py`` averages), the class and entry counts. The definitions are in
``docs/segment_metric.md``. A line of the submission that cannot be read (a non-integer class, a malformed
``<id>:<start>``, a class with two rows) or a broken record ends the run with one ``error:`` line naming the
file and line (or record), and exit code 2.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def parse_args(argv=None) -> argparse.Namespace:
    """Parse the command line (see ``--help``)."""
    p = argparse.ArgumentParser(description="MAP@K of a Kaggle segment submission against segment-rated TFRecords.")
    p.add_argument("--submission", required=True, help="the Class,Segments CSV")
    p.add_argument("--labels", required=True, nargs="+", help="rated TFRecords: files, globs, dirs or list files")
    p.add_argument("--top_k", type=int, default=100_000, help="K: entries of each row that count (default 100000)")
    p.add_argument("--num_classes", type=int, default=None,
                   help="check that every rated class is below this (e.g. 3862); default: no check")
    p.add_argument("--verbose", action="store_true", help="print tracebacks")
    return p.parse_args(argv)


def _score(args: argparse.Namespace) -> int:
    from paddlevideo.metrics.segment_submission_eval import expand_label_files, load_rating_table, score_submission

    if args.top_k < 1:
        raise ValueError(f"--top_k must be >= 1, got {args.top_k}")
    if not os.path.isfile(args.submission):
        raise FileNotFoundError(f"--submission {args.submission!r}: no such file (working directory {os.getcwd()})")
    files = expand_label_files(args.labels)
    table = load_rating_table(files, num_classes=args.num_classes)
    if not table.ratings:
        raise ValueError(f"--labels: the {len(files)} file(s) hold no segment ratings (no segment_* context keys)")
    result = score_submission(args.submission, table, top_k=args.top_k)
    result = {**result, "submission": args.submission, "label_files": len(files)}
    print(f"MAP@{args.top_k} {result['map']:.6f} over {result['classes_with_positives']} classes with a positive "
          f"rating ({result['classes_without_row']} without a row); starter's average {result['map_starter']:.6f} "
          f"over {result['classes_with_rows_and_positives']}")
    print(json.dumps(result))
    return 0


def main(argv=None) -> int:
    """Score the submission; returns the exit code (2 with one ``error:`` line for a user's mistake)."""
    args = parse_args(argv)
    from paddlevideo.utils.cli import run_guarded

    return run_guarded(_score, args)


if __name__ == "__main__":
    sys.exit(main())
