"""Convert YouTube-8M frame-level TFRecords to PaddleVideo's pkl format, without TensorFlow.

    python data/yt8m/tf2pkl.py SRC_DIR_OR_GLOB DST_DIR [--split] [--workers N] [--force]

    python data/yt8m/tf2pkl.py data/yt8m/frame data/yt8m/pkl_frame            # <stem>.pkl per file
    python data/yt8m/tf2pkl.py 'data/yt8m/frame/train*.tfrecord' data/yt8m/pkl_frame --split

Outputs (stem = input file name up to its first dot, e.g. ``train0000``):

* default: ``DST_DIR/<stem>.pkl``, the list of all video dicts of one TFRecord (PaddleVideo's
  ``tf2pkl.py``); ``--split``: ``DST_DIR/<stem>_split_<i>.pkl``, one dict per video (PaddleVideo's
  ``tf2pkl.py`` followed by ``split_yt8m.py``). Dicts have str keys ``video`` (bytes id),
  ``feature`` uint8[n, 1024], ``audio`` uint8[n, 128] (all stored frames), ``label`` (sorted,
  de-duplicated list of int) and ``nframes`` (numpy.int32, min(n, 300)); pickle protocol 2.
* list files, one per group of inputs (group = stem without its trailing digits, e.g. ``train``,
  ``validate``): ``DST_DIR/<group>.list`` (whole-file pkls) or ``DST_DIR/<group>_split.list``
  (split pkls). Each line is a file name relative to DST_DIR, in sorted (``ls``) order, and the
  list covers every finished input of that group in DST_DIR, including earlier runs. Point
  ``YouTube8MPklDataset`` at the list; its ``data_prefix`` defaults to the list's directory.

Resuming: every pkl is written to a temporary file and renamed into place, so a pkl that exists
is complete. A whole-file input is done when ``<stem>.pkl`` exists; a split input when its marker
``.<stem>.split-done`` (the names of its outputs, written last) exists and all those files do.
A second run skips finished inputs (``--force`` converts them again).

Segment ratings (the ``segment_*`` context lists of the 2019 segment-rated files) are not kept: PaddleVideo's
layout has no fields for them; the tool says so on stderr (``tf2pkl: note: ...``) and converts the rest.

Memory: the whole-file mode holds one TFRecord's videos per worker in memory (as PaddleVideo's
tool does); ``--split`` holds one video at a time.

Source: PaddleVideo ``data/yt8m/tf2pkl.py``, ``split_yt8m.py`` and the list-file steps of
``docs/en/dataset/youtube8m.md`` (docs/youtube8m_format.md#paddlevideo-pkl-files, #split-pkl-files,
#list-files-and-the-data-prefix).
"""
from __future__ import annotations

import argparse
import concurrent.futures
import glob
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

from tqdm import tqdm

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
from paddlevideo.loader.yt8m.pkl import tfrecord_to_pkl  # noqa: E402
from paddlevideo.loader.yt8m.segments import count_rated_records  # noqa: E402
from paddlevideo.utils.atomic import atomic_write  # noqa: E402

SPLIT_MARKER = ".{stem}.split-done"
#: Printed when converted videos carry segment ratings (docs/segments.md, "PaddleVideo's pkl files").
SEGMENT_NOTE = ("tf2pkl: note: {n} converted videos carry segment ratings (segment_labels, segment_start_times, "
                "segment_end_times, segment_scores); PaddleVideo's pkl layout (video, feature, audio, label, nframes) "
                "has no fields for them, so they are not in the pkl files. Fine-tune on segments from the TFRecords "
                "(YouTube8MSegmentDataset, docs/segments.md)")


@dataclass
class Summary:
    """What one :func:`convert` call did.

    Attributes:
        converted: input files converted in this run.
        skipped: input files whose outputs were already complete.
        videos: pkl dicts written in this run.
        failed: ``(input file, one-line error)`` for inputs that could not be converted.
        lists: list files written.
        segment_rated: videos converted in this run that carry segment ratings (``segment_*`` context
            lists), which the pkl layout cannot hold (:data:`SEGMENT_NOTE`).
    """

    converted: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    videos: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    lists: list[str] = field(default_factory=list)
    segment_rated: int = 0


def expand_sources(src: str) -> list[str]:
    """The ``.tfrecord`` files of a directory, or the files a glob matches, sorted.

    Raises:
        FileNotFoundError: nothing matches (naming the pattern).
        ValueError: two inputs share a stem, so their outputs would collide.
    """
    src = os.path.expanduser(src)
    files = sorted(glob.glob(os.path.join(src, "*.tfrecord")) if os.path.isdir(src) else glob.glob(src))
    files = [f for f in files if os.path.isfile(f)]
    if not files:
        raise FileNotFoundError(f"no TFRecord file matches {src!r}")
    stems: dict[str, str] = {}
    for f in files:
        s = stem_of(f)
        if s in stems:
            raise ValueError(f"{stems[s]} and {f} share the stem {s!r}; their pkl files would collide")
        stems[s] = f
    return files


def stem_of(path: str) -> str:
    """File name up to the first dot (``train0000.tfrecord`` -> ``train0000``), as tf2pkl.py."""
    return os.path.basename(path).split(".", 1)[0]


def group_of(stem: str) -> str:
    """List-file group of a stem: the stem without its trailing digits (``train0000`` -> ``train``)."""
    return re.sub(r"\d+$", "", stem) or stem


def finished_outputs(stem: str, dst_dir: str, split: bool) -> list[str] | None:
    """Names (relative to dst_dir) of a finished input's outputs, or None if not finished."""
    if not split:
        name = f"{stem}.pkl"
        return [name] if os.path.isfile(os.path.join(dst_dir, name)) else None
    marker = os.path.join(dst_dir, SPLIT_MARKER.format(stem=stem))
    if not os.path.isfile(marker):
        return None
    with open(marker, encoding="utf-8") as f:
        names = [line.strip() for line in f if line.strip()]
    return names if all(os.path.isfile(os.path.join(dst_dir, n)) for n in names) else None


def _write_text(path: str, lines: Sequence[str]) -> None:
    """Write lines to path atomically (:func:`paddlevideo.utils.atomic.atomic_write`)."""
    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            f.writelines(line + "\n" for line in lines)

    atomic_write(path, write)


def convert_one(src: str, dst_dir: str, split: bool) -> tuple[str, int, str, int]:
    """Convert one input (runs in a pool worker); returns (src, videos written or -1, error, videos with
    segment ratings, which are not kept)."""
    try:
        paths, videos = tfrecord_to_pkl(src, dst_dir, split=split)
        if split:
            names = [os.path.basename(p) for p in paths]
            _write_text(os.path.join(dst_dir, SPLIT_MARKER.format(stem=stem_of(src))), names)
        return src, videos, "", count_rated_records(src)
    except Exception as exc:  # reported per file; the other files still convert
        return src, -1, f"{type(exc).__name__}: {exc}", 0


def write_lists(dst_dir: str, split: bool) -> list[str]:
    """(Re)write the list file of every group with finished inputs in dst_dir; returns their paths."""
    groups: dict[str, list[str]] = {}
    if split:
        pattern = re.compile(r"^\.(.+)\.split-done$")
    else:
        pattern = re.compile(r"^(.+)\.pkl$")
    for name in sorted(os.listdir(dst_dir)):
        m = pattern.match(name)
        if not m or (not split and "_split_" in name):
            continue
        outputs = finished_outputs(m.group(1), dst_dir, split)
        if outputs:
            groups.setdefault(group_of(m.group(1)), []).extend(outputs)
    written = []
    for group, names in sorted(groups.items()):
        path = os.path.join(dst_dir, f"{group}_split.list" if split else f"{group}.list")
        _write_text(path, sorted(names))
        written.append(path)
    return written


def convert(src: str, dst_dir: str, split: bool = False, workers: int = 1, force: bool = False,
            progress: bool = True) -> Summary:
    """Convert every TFRecord matched by ``src`` into ``dst_dir``, skipping finished ones.

    Args:
        src: a directory (its ``*.tfrecord`` files) or a glob.
        dst_dir: output directory (created if needed).
        split: one pkl per video instead of one per input file.
        workers: worker processes; 1 converts in this process.
        force: convert finished inputs again.
        progress: show a tqdm progress bar over input files.

    Returns:
        A :class:`Summary`. Inputs that fail are listed in ``Summary.failed``; the others are
        converted regardless.

    Raises:
        FileNotFoundError, ValueError: see :func:`expand_sources`.
    """
    files = expand_sources(src)
    os.makedirs(dst_dir, exist_ok=True)
    summary = Summary()
    todo = []
    for f in files:
        if not force and finished_outputs(stem_of(f), dst_dir, split) is not None:
            summary.skipped.append(f)
        else:
            todo.append(f)
    bar = tqdm(total=len(todo), unit="file", desc="tf2pkl", disable=not progress or not todo)
    if workers > 1 and len(todo) > 1:
        with concurrent.futures.ProcessPoolExecutor(max_workers=min(workers, len(todo))) as pool:
            futures = [pool.submit(convert_one, f, dst_dir, split) for f in todo]
            results = []
            for fut in concurrent.futures.as_completed(futures):
                results.append(fut.result())
                bar.update(1)
    else:
        results = []
        for f in todo:
            results.append(convert_one(f, dst_dir, split))
            bar.update(1)
    bar.close()
    for f, videos, error, rated in sorted(results):
        if videos < 0:
            summary.failed.append((f, error))
        else:
            summary.converted.append(f)
            summary.videos += videos
            summary.segment_rated += rated
    summary.lists = write_lists(dst_dir, split)
    return summary


def parse_args(argv=None) -> argparse.Namespace:
    """Parse ``SRC DST [--split] [--workers N] [--force] [--quiet]``."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("src", help="directory of .tfrecord files, or a glob (quote it)")
    p.add_argument("dst_dir", help="output directory for the .pkl and .list files")
    p.add_argument("--split", action="store_true", help="one pkl per video (<stem>_split_<i>.pkl)")
    p.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1),
                   help="worker processes (default: min(4, CPUs))")
    p.add_argument("--force", action="store_true", help="convert inputs whose outputs already exist")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p.parse_args(argv)


def main(argv=None) -> int:
    """Convert, print a summary, and return 0, or 1 when an input failed (the others are still converted)."""
    args = parse_args(argv)
    try:
        s = convert(args.src, args.dst_dir, args.split, args.workers, args.force, not args.quiet)
    except (FileNotFoundError, ValueError) as exc:
        print(f"tf2pkl: error: {exc}", file=sys.stderr)
        return 1
    for f, error in s.failed:
        print(f"tf2pkl: failed: {f}: {error}", file=sys.stderr)
    if s.segment_rated:
        print(SEGMENT_NOTE.format(n=s.segment_rated), file=sys.stderr)
    print(f"converted {len(s.converted)} files ({s.videos} videos), skipped {len(s.skipped)} already "
          f"converted, failed {len(s.failed)}; lists: {', '.join(s.lists) or 'none'}")
    return 1 if s.failed else 0


if __name__ == "__main__":
    sys.exit(main())
