"""Score a Kaggle segment submission (``Class,Segments`` CSV) against human segment ratings: MAP@K.

The library side of ``tools/segment_map.py``. The submission is read one line at a time and each row is
scored as it is read, so memory holds the ratings and one row, never the whole file. The metric is
:func:`paddlevideo.metrics.segment_map.mean_average_precision` (``docs/segment_metric.md``).

Unlike google/youtube-8m ``segment_eval_inference.py`` under Python 3, this reader: reads ids as text (the
starter formats TF bytes ids as ``"b'abCD':5"``, so nothing matches), accepts the header line (the starter
calls ``int("Class")``), scores classes of the submission that have no positive rating (the starter raises
``KeyError``), strips every line (the starter keeps the ``\\n`` on the last id of each row, which then never
matches), and accepts a submission of one class (the starter's ``MeanAveragePrecisionCalculator`` needs 2).
Lines it cannot read are errors, not skipped: a non-integer class, a malformed ``<id>:<start>`` entry, a
repeated entry in a row, or a repeated class row.
"""
from __future__ import annotations

import glob
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from .segment_map import NEGATIVE, POSITIVE, UNRATED, average_precision_at_k

__all__ = ["SegmentRatingTable", "SubmissionError", "expand_label_files", "iter_submission_rows", "load_rating_table",
           "score_submission"]

_HEADERS = ("class,segments", "class id,segment ids")
_START = re.compile(r"^(0|[1-9][0-9]*)$")


class SubmissionError(ValueError):
    """A submission line that cannot be read; the message is ``<file>: line <n>: <what is wrong>``.

    Attributes:
        path: the submission file. line: the 1-based line number. reason: what is wrong.
    """

    def __init__(self, path: str, line: int, reason: str) -> None:
        self.path, self.line, self.reason = str(path), line, str(reason)
        super().__init__(f"{self.path}: line {self.line}: {self.reason}")

    def __reduce__(self):
        """Pickle with the attributes."""
        return (type(self), (self.path, self.line, self.reason))


def iter_submission_rows(path: str | os.PathLike) -> Iterator[tuple[int, int, list[str]]]:
    """The rows of a submission file, validated, one at a time.

    Line 1 may be the header (``Class,Segments``, or the README's ``Class Id,Segment Ids``; any case, a UTF-8
    BOM is fine); blank lines are skipped; every other line is ``<class>,<id>:<start> <id>:<start> ...`` with
    a non-negative integer class, entries separated by whitespace (a row may have none), each an id without
    whitespace, ``:``, and a non-negative integer start.

    Yields:
        ``(line number, class, [segment id "<id>:<start>", ...])`` in file order.

    Raises:
        SubmissionError: a line that breaks the format, a repeated entry within a row, or a class that
            already had a row (the message names the file, the line and what is wrong).
        OSError: the file cannot be read.
    """
    path = os.fspath(path)
    seen: dict[int, int] = {}
    with open(path, encoding="utf-8-sig", newline=None) as f:
        for n, raw in enumerate(f, 1):
            line = raw.strip()
            if not line:
                continue
            if n == 1 and line.lower().replace(" ,", ",").replace(", ", ",") in _HEADERS:
                continue
            if "," not in line:
                raise SubmissionError(path, n, f"expected '<class>,<id>:<start> ...', got {line[:60]!r}")
            head, body = line.split(",", 1)
            head = head.strip()
            if not _START.match(head):
                what = "the header 'Class,Segments' is only allowed on line 1" if n > 1 and head.lower().startswith(
                    "class") else f"class {head[:40]!r} is not a non-negative integer"
                raise SubmissionError(path, n, what)
            cls = int(head)
            if cls in seen:
                raise SubmissionError(path, n, f"class {cls} already has a row (line {seen[cls]})")
            seen[cls] = n
            entries = body.split()
            for e in entries:
                vid, sep, start = e.rpartition(":")
                if not sep or not vid or not _START.match(start):
                    raise SubmissionError(path, n, f"class {cls}: entry {e[:60]!r} is not '<video id>:<start>' "
                                                   "with a non-negative integer start")
            if len(set(entries)) != len(entries):
                dup = next(e for i, e in enumerate(entries) if e in entries[:i])
                raise SubmissionError(path, n, f"class {cls}: segment {dup!r} is listed twice")
            yield n, cls, entries


@dataclass
class SegmentRatingTable:
    """Human ratings of (segment, class) pairs and the positive count of each class.

    Attributes:
        ratings: ``{(segment id "<id>:<start>", class): score}`` (score > 0 is a positive).
        positives: ``{class: N_c}``, positively rated segments per class.
        sources: ``{(segment id, class): "file: record i"}`` of the first rating, for error messages.
    """

    ratings: dict[tuple[str, int], float]
    positives: dict[int, int]
    sources: dict[tuple[str, int], str]

    @classmethod
    def from_records(cls, records: Iterable[tuple[str, str, np.ndarray, np.ndarray, np.ndarray]]
                     ) -> SegmentRatingTable:
        """Build from ``(where, video id, start times int [m], classes int [m], scores float [m])`` per video
        (``where`` names the file and record, for errors).

        Raises:
            ValueError: one (segment, class) pair rated twice (in one record or across records/files): the
                message names both places.
        """
        ratings: dict[tuple[str, int], float] = {}
        sources: dict[tuple[str, int], str] = {}
        positives: dict[int, int] = {}
        for where, vid, starts, classes, scores in records:
            for s, c, v in zip(np.asarray(starts).tolist(), np.asarray(classes).tolist(), np.asarray(scores).tolist()):
                key = (f"{vid}:{int(s)}", int(c))
                if key in ratings:
                    raise ValueError(f"{where}: segment {key[0]!r} is rated for class {key[1]} again "
                                     f"(first in {sources[key]})")
                ratings[key] = float(v)
                sources[key] = where
                if v > 0:
                    positives[key[1]] = positives.get(key[1], 0) + 1
        return cls(ratings, positives, sources)


def score_submission(path: str | os.PathLike, table: SegmentRatingTable, top_k: int = 100_000) -> dict[str, Any]:
    """MAP@K of the submission at ``path`` against ``table``, both averages.

    Returns:
        ``{"map", "map_starter", "top_k", "classes_with_positives", "classes_with_rows",
        "classes_with_rows_and_positives", "classes_without_row", "rows_without_positives",
        "submitted_entries", "scored_entries", "rated_pairs", "positive_pairs"}``: ``map`` averages AP@K over
        every class with a positive rating (a class without a row counts 0), ``map_starter`` over the classes
        with a row and a positive (``segment_eval_inference.py``); ``scored_entries`` are the rated entries
        within the first K of their rows.

    Raises:
        SubmissionError: see :func:`iter_submission_rows`.
        ValueError: ``top_k < 1``.
        OSError: the file cannot be read.
    """
    if top_k < 1:
        raise ValueError(f"--top_k must be >= 1, got {top_k}")
    aps: dict[int, float] = {}
    rows = submitted = scored = no_pos = 0
    get = table.ratings.get
    for _, cls, entries in iter_submission_rows(path):
        rows += 1
        submitted += len(entries)
        codes = np.full(min(len(entries), top_k), UNRATED, dtype=np.int8)
        for i, sid in enumerate(entries[:top_k]):
            v = get((sid, cls))
            if v is not None:
                codes[i] = POSITIVE if v > 0 else NEGATIVE
        scored += int((codes != UNRATED).sum())
        n_pos = table.positives.get(cls, 0)
        if n_pos == 0:
            no_pos += 1
            continue
        aps[cls] = average_precision_at_k(codes, n_pos, top_k)
    classes = sorted(c for c, n in table.positives.items() if n > 0)
    full = [aps.get(c, 0.0) for c in classes]
    return {
        "map": float(np.mean(full)) if full else 0.0,
        "map_starter": float(np.mean(list(aps.values()))) if aps else 0.0,
        "top_k": int(top_k),
        "classes_with_positives": len(classes),
        "classes_with_rows": rows,
        "classes_with_rows_and_positives": len(aps),
        "classes_without_row": len(classes) - len(aps),
        "rows_without_positives": no_pos,
        "submitted_entries": submitted,
        "scored_entries": scored,
        "rated_pairs": len(table.ratings),
        "positive_pairs": int(sum(table.positives.values())),
    }



def expand_label_files(specs: Iterable[str]) -> list[str]:
    """The TFRecord files named by ``specs``: each a file, a glob, a directory (its ``.tfrecord`` files) or a
    list file (``.list`` / ``.txt``, one path per line, relative to the list file's directory:
    :func:`paddlevideo.loader.yt8m.list_file.read_list_file`). Duplicates are kept once, in order.

    Raises:
        FileNotFoundError: a spec matches nothing (named, with the working directory).
    """
    from ..loader.yt8m.list_file import read_list_file

    files: list[str] = []
    for spec in specs:
        path = os.path.expanduser(spec)
        if os.path.isdir(path):
            found = sorted(glob.glob(os.path.join(path, "*.tfrecord")))
        elif os.path.isfile(path) and path.lower().endswith((".list", ".txt")):
            found = read_list_file(path)
        elif os.path.isfile(path):
            found = [path]
        else:
            found = sorted(glob.glob(path))
        if not found:
            raise FileNotFoundError(f"--labels {spec!r}: no file matches (working directory {os.getcwd()})")
        files.extend(found)
    return list(dict.fromkeys(files))


def load_rating_table(files: Iterable[str], num_classes: int | None = None) -> SegmentRatingTable:
    """Read the segment ratings of every record of the TFRecord ``files`` (records without ``segment_*`` keys
    add nothing).

    Raises:
        CorruptRecordError / SegmentLabelError: a damaged record or broken ``segment_*`` lists (file, record,
            key: :func:`paddlevideo.loader.yt8m.segments.iter_segment_ratings`).
        ValueError: a (segment, class) pair rated in two records.
        OSError: a file cannot be read.
    """
    from ..loader.yt8m.segments import iter_segment_ratings

    def records():
        for path in files:
            for i, r in enumerate(iter_segment_ratings(path, num_classes=num_classes)):
                if len(r):
                    yield f"{path}: record {i}", r.video_id, r.start_times, r.classes, r.scores

    return SegmentRatingTable.from_records(records())
