"""The Kaggle submission of the 2019 YouTube-8M segment challenge: ``Class,Segments`` rows, written from a stream.

Format (google/youtube-8m README "Training without this Starter Code" and ``inference.py``): a header line
``Class,Segments``, then one line per class, ``<class>,<video id>:<start> <video id>:<start> ...``, the
segments space-separated in descending score, at most K (100,000) per class; only classes of the segment
vocabulary (``segment_label_ids.csv``) get a row, and only classes that received a segment. A segment enters
class ``c`` only if ``c`` is among its 20 best scores after the non-vocabulary classes are zeroed. Rows are
written by class id ascending (the starter writes them in order of first appearance; the order of rows does
not matter to the score). The ranking, ties included, is :mod:`paddlevideo.metrics.segment_topk`'s, the same
as the :class:`~paddlevideo.metrics.segment_map.SegmentMAP` metric's; ``docs/segment_metric.md`` has the rules.

The writer keeps at most K entries per class (plus a bounded buffer), never all segments.
"""
from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ..metrics.segment_topk import ClassTopK, segment_ids, top_classes_per_segment, vocabulary_mask
from ..utils.atomic import atomic_write

__all__ = ["HEADER", "SegmentSubmissionWriter"]

#: The header line of a submission.
HEADER = "Class,Segments"


class SegmentSubmissionWriter:
    """Collect segment scores batch by batch and write the Kaggle CSV.

    Args:
        num_classes: C, the width of the score arrays.
        top_k: K, segments kept per class (the starter's ``--segment_max_pred``, 100000).
        per_segment_top_k: classes a segment can enter (the starter's ``--top_k``, 20).
        classes: the segment vocabulary (class indices, e.g. from
            :func:`paddlevideo.metrics.segment_map.load_segment_label_ids`); None keeps every class.

    Raises:
        ValueError: sizes below 1 or a vocabulary class outside ``[0, num_classes)``.
    """

    def __init__(self, num_classes: int, top_k: int = 100_000, per_segment_top_k: int = 20,
                 classes: Sequence[int] | np.ndarray | None = None) -> None:
        if int(num_classes) < 1 or int(per_segment_top_k) < 1:
            raise ValueError(f"num_classes and per_segment_top_k must be >= 1, got {num_classes}, {per_segment_top_k}")
        self.num_classes = int(num_classes)
        self.per_segment_top_k = int(per_segment_top_k)
        self.mask = vocabulary_mask(self.num_classes, classes)
        self.ranking = ClassTopK(top_k)
        self.segments = 0

    def add(self, video_ids: Sequence[Any], starts: Sequence[int] | np.ndarray, probs: np.ndarray) -> None:
        """Add B scored segments: their video ids (str or bytes) [B], start times int [B] (seconds = frames)
        and scores float32 [B, C].

        Raises:
            ValueError: lengths or widths that do not fit, a negative start time.
        """
        p = np.asarray(probs, dtype=np.float32)
        if p.ndim != 2 or p.shape[1] != self.num_classes:
            raise ValueError(f"expected scores [B, {self.num_classes}], got shape {p.shape}")
        sids = segment_ids(video_ids, starts)
        if sids.shape[0] != p.shape[0]:
            raise ValueError(f"{sids.shape[0]} segments but scores for {p.shape[0]}")
        rows, classes, scores = top_classes_per_segment(p, self.mask, self.per_segment_top_k)
        self.ranking.push(classes, scores, sids[rows])
        self.segments += p.shape[0]

    def lines(self) -> Iterator[str]:
        """The CSV lines without newlines: the header, then one row per class that has segments."""
        yield HEADER
        for c, row in self.ranking.ranked():
            yield f"{c}," + " ".join(row["sids"].tolist())

    def write(self, path: str | os.PathLike) -> dict[str, int]:
        """Write the CSV to ``path`` atomically (the whole file or nothing).

        Returns:
            ``{"rows": classes written, "entries": segment entries written, "segments": segments added}``.

        Raises:
            OSError: ``path`` cannot be written (it names the file).
        """
        counts = {"rows": 0, "entries": 0, "segments": self.segments}

        def _write(tmp: str) -> None:
            with open(tmp, "w", encoding="utf-8", newline="\n") as f:
                for i, line in enumerate(self.lines()):
                    f.write(line + "\n")
                    if i:
                        counts["rows"] += 1
                        counts["entries"] += line.count(" ") + 1
        atomic_write(path, _write)
        return counts
