"""Segment MAP@K, the metric of the 2019 YouTube-8M challenge (temporal localisation, K = 100,000).

Definitions (``docs/segment_metric.md`` states them with their sources):

* **AP@K of one class** (:func:`average_precision_at_k`): take the first K entries of the class's ranked
  list, drop the entries that were not rated for the class, and rank the rest 1, 2, ...; then
  ``AP = (1 / N_c) * sum over the positives in that list of (positives so far) / rank``, where ``N_c`` is
  the number of positively rated segments of the class in the whole ground truth (predicted or not).
  Kaggle's evaluation text ("only human-rated segments are scored"), google/youtube-8m
  ``segment_eval_inference.py`` (``--top_n`` truncation before the rated filter, ``num_positives`` from the
  ground truth) and linrongc/solution_youtube8m_v3 ``analysis/metrics.py`` (``MAPK.calculate_scores``)
  agree on this.
* **MAP** (:func:`mean_average_precision`, key ``map``): the mean of AP@K over every class with at least one
  positive rating; a class without a row counts 0 (linrongc's ``mean_class_score(default_value=0.)``).
* **MAP, starter's average** (key ``map_starter``): the mean over the classes that have a row *and* at least
  one positive, as ``segment_eval_inference.py`` averages (``MeanAveragePrecisionCalculator(len(rows))``
  with ``filter_empty_classes``); a row of a class without positives is left out (the starter raises
  ``KeyError`` there).

The streaming :class:`SegmentMAP` builds, from the scores of rated segments, the rows a submission would
hold (:mod:`.segment_topk`: vocabulary, top 20 per segment, top K per class, fixed tie order) and scores
them with these functions; its memory is O(classes * K), not O(segments).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from ..utils.types import PositiveInt
from .base import BaseMetric
from .registry import METRICS
from .segment_topk import ClassTopK, segment_ids, top_classes_per_segment, vocabulary_mask

__all__ = ["SegmentMAP", "average_precision_at_k", "load_segment_label_ids", "mean_average_precision",
           "UNRATED", "NEGATIVE", "POSITIVE"]

#: Rating codes of a ranked entry for its class: not rated, rated negative (score 0), rated positive (score > 0).
UNRATED, NEGATIVE, POSITIVE = -1, 0, 1


def average_precision_at_k(ratings: Sequence[int] | np.ndarray, num_positives: int, top_k: int = 100_000) -> float:
    """AP@K of one class from its ranked list.

    Args:
        ratings: int [n], the rating of each ranked entry for the class, best first: :data:`UNRATED` (-1),
            :data:`NEGATIVE` (0) or :data:`POSITIVE` (1).
        num_positives: N_c, positively rated segments of the class in the whole ground truth.
        top_k: K; entries past rank K are ignored *before* the unrated ones are dropped.

    Returns:
        float in [0, 1]; 0.0 when ``num_positives`` is 0.

    Raises:
        ValueError: ``top_k < 1``, ``num_positives < 0``, a rating code other than -1/0/1, or more positives
            in the list than ``num_positives``.

    Source: Kaggle's evaluation text of the 3rd YouTube-8M challenge; google/youtube-8m
    ``segment_eval_inference.py``; linrongc/solution_youtube8m_v3 ``analysis/metrics.py`` (``MAPK``).
    """
    if top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")
    if num_positives < 0:
        raise ValueError(f"num_positives must be >= 0, got {num_positives}")
    r = np.asarray(ratings, dtype=np.int64).reshape(-1)[: int(top_k)]
    if r.size and (r.min() < -1 or r.max() > 1):
        raise ValueError("ratings must be -1 (unrated), 0 (negative) or 1 (positive)")
    rated = r[r != UNRATED]
    pos = rated == POSITIVE
    hits = int(pos.sum())
    if hits > num_positives:
        raise ValueError(f"the list holds {hits} positives but num_positives is {num_positives}")
    if num_positives == 0:
        return 0.0
    ranks = np.flatnonzero(pos) + 1.0
    return float(np.sum(np.arange(1, hits + 1) / ranks) / num_positives)


def mean_average_precision(rows: Iterable[tuple[int, Sequence[int] | np.ndarray]],
                           positives: Mapping[int, int], top_k: int = 100_000) -> dict[str, Any]:
    """MAP@K of a whole submission, both averages.

    Args:
        rows: ``(class, ratings)`` per submitted row (ratings as in :func:`average_precision_at_k`); a class
            may appear once.
        positives: ``{class: N_c}`` of the ground truth (classes with 0 may be present or absent).
        top_k: K.

    Returns:
        ``{"map", "map_starter", "classes_with_positives", "classes_with_rows",
        "classes_with_rows_and_positives", "classes_without_row", "per_class_ap"}``: ``map`` averages over every
        class with a positive (a class without a row counts 0), ``map_starter`` over the classes with a row
        and a positive; both 0.0 when there is no such class. ``per_class_ap`` is ``{class: AP}`` of the
        classes with a positive.

    Raises:
        ValueError: a class given twice, or see :func:`average_precision_at_k`.
    """
    pos = {int(c): int(n) for c, n in positives.items() if int(n) > 0}
    aps: dict[int, float] = {}
    seen: set[int] = set()
    for c, ratings in rows:
        c = int(c)
        if c in seen:
            raise ValueError(f"class {c} has two rows")
        seen.add(c)
        if c in pos:
            aps[c] = average_precision_at_k(ratings, pos[c], top_k)
        elif np.any(np.asarray(ratings)[: int(top_k)] == POSITIVE):
            raise ValueError(f"class {c} has a positive entry but no positive in the ground truth")
    full = [aps.get(c, 0.0) for c in sorted(pos)]
    starter = [aps[c] for c in sorted(aps)]
    return {
        "map": float(np.mean(full)) if full else 0.0,
        "map_starter": float(np.mean(starter)) if starter else 0.0,
        "classes_with_positives": len(pos),
        "classes_with_rows": len(seen),
        "classes_with_rows_and_positives": len(aps),
        "classes_without_row": len(pos) - len(aps),
        "per_class_ap": {c: aps.get(c, 0.0) for c in sorted(pos)},
    }


def load_segment_label_ids(path: str, num_classes: int | None = None) -> np.ndarray:
    """Read a segment vocabulary in the layout of Google's ``segment_label_ids.csv``: an optional header
    line (``Index``), then one class index per line (blank lines are skipped).

    Args:
        path: the csv file (given by path; it is Google's file and never downloaded).
        num_classes: when given, every index must be in ``[0, num_classes)``.

    Returns:
        int64 [V], the distinct classes sorted ascending.

    Raises:
        ValueError: a line other than the first that is not an integer, a negative or out-of-range index,
            a repeated index, or no index at all; the message names the file and line.
        OSError: the file cannot be read.

    Source: google/youtube-8m ``inference.py`` (``--segment_label_ids_file``, one ``int(line)`` per line).
    """
    classes: list[int] = []
    seen: dict[int, int] = {}
    with open(path, encoding="utf-8-sig") as f:
        for n, line in enumerate(f, 1):
            text = line.strip()
            if not text:
                continue
            try:
                c = int(text)
            except ValueError:
                if n == 1 and not classes:
                    continue        # the header line ("Index")
                raise ValueError(f"{path}: line {n}: {text[:40]!r} is not a class index") from None
            if c < 0 or (num_classes is not None and c >= num_classes):
                raise ValueError(f"{path}: line {n}: class {c} is outside [0, {num_classes})"
                                 if num_classes is not None else f"{path}: line {n}: class {c} is negative")
            if c in seen:
                raise ValueError(f"{path}: line {n}: class {c} repeats line {seen[c]}")
            seen[c] = n
            classes.append(c)
    if not classes:
        raise ValueError(f"{path}: holds no class index")
    return np.asarray(sorted(classes), dtype=np.int64)


def _as_ids(value: Any, b: int) -> list[Any]:
    """The ``id`` batch entry as a list of B ids (a list/tuple/array of str or bytes, or a paddle tensor)."""
    if hasattr(value, "numpy"):
        value = value.numpy()
    ids = list(np.asarray(value).reshape(-1)) if isinstance(value, np.ndarray) else list(value)
    if len(ids) != b:
        raise ValueError(f"SegmentMAP: 'id' has {len(ids)} entries for a batch of {b} segments")
    return ids


@METRICS.register()
class SegmentMAP(BaseMetric):
    """Streaming segment MAP@K over rated segments, as a Kaggle submission of those scores would score.

    Each batch holds rated segments: ``probs`` float32 [B, C], ``labels`` float32 [B, C] (the rating score at
    the rated classes, 0 elsewhere), ``label_weights`` [B, C] (1 at the rated classes), ``segment_start``
    int [B] and ``id`` (B video ids). The segments enter per-class rankings by the submission rules of
    :mod:`.segment_topk` (vocabulary, top ``per_segment_top_k`` classes per segment, top ``top_k`` per class,
    ties by segment id); a ranked entry is positive, negative or unrated for its class from that segment's
    labels and weights, and ``N_c`` counts the positively rated (weight > 0, label > 0) segments of every
    class over the whole stream. Memory: O(classes * top_k), not O(segments).

    Keys: ``segment_map`` (``map`` of :func:`mean_average_precision`: classes with a positive, a class without
    a row counts 0; decides the best checkpoint by default) and ``segment_map_starter`` (the starter
    script's average). They differ from ``YouTube8MMetric``'s keys, so both can be listed under ``METRIC``.

    Args:
        num_classes: C.
        top_k: K, entries per class (100000 in the challenge).
        per_segment_top_k: classes a segment can enter (the starter's 20).
        segment_label_ids: path to a vocabulary csv like ``segment_label_ids.csv``; None: all classes.

    Raises:
        ValueError: bad sizes; see :func:`load_segment_label_ids` for the file.

    Source: google/youtube-8m ``inference.py`` and ``segment_eval_inference.py``; ``docs/segment_metric.md``.
    """

    KEYS = {"segment_map": "SegMAP", "segment_map_starter": "SegMAP_starter"}
    DEFAULT_BEST = "segment_map"
    DEFAULT_MODE = "max"

    def __init__(self, num_classes: PositiveInt, top_k: PositiveInt = 100_000, per_segment_top_k: PositiveInt = 20,
                 segment_label_ids: str | None = None) -> None:
        if int(num_classes) < 1 or int(top_k) < 1 or int(per_segment_top_k) < 1:
            raise ValueError(f"num_classes, top_k and per_segment_top_k must be >= 1, got {num_classes}, "
                             f"{top_k}, {per_segment_top_k}")
        self.num_classes = int(num_classes)
        self.top_k = int(top_k)
        self.per_segment_top_k = int(per_segment_top_k)
        self.segment_label_ids = segment_label_ids
        vocab = load_segment_label_ids(segment_label_ids, self.num_classes) if segment_label_ids else None
        self._mask = vocabulary_mask(self.num_classes, vocab)
        self.reset()

    def reset(self) -> None:
        """Forget everything fed so far."""
        self._ranking = ClassTopK(self.top_k, payload=("rating",))
        self._positives = np.zeros(self.num_classes, dtype=np.int64)
        self._segments = 0

    def update(self, probs: np.ndarray, labels: np.ndarray, label_weights: np.ndarray | None = None,
               segment_start: np.ndarray | None = None, id: Any = None, **extra: Any) -> None:
        """Add one batch of rated segments (see the class docstring for the entries).

        Raises:
            ValueError: a missing ``label_weights`` / ``segment_start`` / ``id`` (the dataset is not a segment
                dataset) or shapes that do not fit.
        """
        missing = [name for name, v in (("label_weights", label_weights), ("segment_start", segment_start),
                                        ("id", id)) if v is None]
        if missing:
            raise ValueError(f"SegmentMAP needs the batch entries {', '.join(missing)}: use a segment-rated "
                             "dataset (one example per rated segment)")
        p = np.asarray(probs, dtype=np.float32)
        y = np.asarray(labels, dtype=np.float32)
        w = np.asarray(label_weights, dtype=np.float32)
        if p.ndim != 2 or p.shape[1] != self.num_classes or y.shape != p.shape or w.shape != p.shape:
            raise ValueError(f"SegmentMAP: expected probs, labels and label_weights of shape [B, {self.num_classes}], "
                             f"got {p.shape}, {y.shape}, {w.shape}")
        b = p.shape[0]
        starts = np.asarray(segment_start, dtype=np.int64).reshape(-1)
        if starts.shape[0] != b:
            raise ValueError(f"SegmentMAP: segment_start has {starts.shape[0]} entries for {b} segments")
        if b == 0:
            return
        sids = segment_ids(_as_ids(id, b), starts)
        rated = w > 0
        self._positives += (rated & (y > 0)).sum(axis=0)
        self._segments += b
        rows, classes, scores = top_classes_per_segment(p, self._mask, self.per_segment_top_k)
        rating = np.where(rated[rows, classes], (y[rows, classes] > 0).astype(np.int8), np.int8(UNRATED))
        self._ranking.push(classes, scores, sids[rows], rating=rating)

    def state(self) -> dict[str, Any]:
        """The kept rankings (at most ``top_k`` entries per class), the positive counts and the options."""
        return {"num_classes": self.num_classes, "top_k": self.top_k, "per_segment_top_k": self.per_segment_top_k,
                "vocabulary": np.flatnonzero(self._mask), "segments": self._segments,
                "positives": self._positives.copy(), "ranking": self._ranking.state()}

    def merge(self, state: Mapping[str, Any]) -> None:
        """Add another instance's :meth:`state` (another process's segments).

        Raises:
            ValueError: the other metric was built with other options.
        """
        same = (state["num_classes"] == self.num_classes and state["top_k"] == self.top_k
                and state["per_segment_top_k"] == self.per_segment_top_k
                and np.array_equal(state["vocabulary"], np.flatnonzero(self._mask)))
        if not same:
            raise ValueError("cannot merge a SegmentMAP state built with another num_classes, top_k, "
                             "per_segment_top_k or vocabulary")
        self._segments += int(state["segments"])
        self._positives += np.asarray(state["positives"], dtype=np.int64)
        self._ranking.merge(state["ranking"])

    def rows(self) -> Iterable[tuple[int, dict[str, np.ndarray]]]:
        """``(class, {"scores", "sids", "rating"})`` of every class row, in rank order: the submission that
        the fed scores make."""
        return self._ranking.ranked()

    def accumulate(self) -> dict[str, float]:
        """``{"segment_map", "segment_map_starter"}`` over everything fed (0.0 when no class has a positive)."""
        positives = {c: int(n) for c, n in enumerate(self._positives) if n > 0}
        result = mean_average_precision(((c, row["rating"]) for c, row in self.rows()), positives, self.top_k)
        return {"segment_map": result["map"], "segment_map_starter": result["map_starter"]}
