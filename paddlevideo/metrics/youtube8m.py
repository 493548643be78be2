"""YouTube-8M evaluation metrics: Hit@1, PERR, GAP@k and mAP@k, batch functions and a streaming metric.

Definitions follow Google's starter code ``eval_util.py`` (google/youtube-8m), with P = predictions
float [N, C] and Y = labels [N, C] (0/1); ``docs/metrics.md`` states them with their edge cases:

* **Hit@1**: ``mean_i Y[i, argmax_c P[i, c]]``; ties go to the lowest class index; a video with no
  labels counts 0 and stays in the denominator.
* **PERR** (precision at equal recall rate): for each video with ``k_i = sum(Y[i])`` labels, the
  fraction of its ``k_i`` top-scored classes that are positive *and* have a score > 0; a video with
  no labels counts 0 (Google's ``argpartition(P, -0)`` takes all C classes, giving 0/C).
* **GAP@k** (global average precision): every video contributes its top-k (class, score, label)
  triplets to one pool over the whole split; GAP is the average precision of that pool ranked by
  score, normalised by the number of *all* positive labels (positives that never reach a top-k still
  count, so GAP < 1 when a video has more than k labels).
* **mAP@k**: one AP per class over the entries where that class is in a video's top-k, each
  normalised by all positives of that class; classes without positives are left out of the mean
  (``filter_empty_classes=True``), a class whose positives never reach a top-k gets AP 0.

Ties. Google's ``ap_at_n`` shuffles (``random.seed(0)``) and then sorts, so its result on tied scores
depends on the order in which the data arrived. Here every AP is the expected value over all orders of
each group of tied scores (:func:`~paddlevideo.metrics.average_precision.expected_average_precision`,
McSherry & Najork, ECIR 2008): equal to Google's value whenever that does not depend on the order of
ties (no ties, or tie groups that are all positive or all negative), and otherwise independent of batch
order and chunking, so one process and N processes give the same result. Which of several classes tied
at a video's k-th score enter its top-k is decided by ``numpy.argpartition``, the call Google's
``top_k_triplets`` makes.

The streaming :class:`YouTube8MMetric` keeps only each video's top-k triplets plus per-class positive
counts, so memory is O(N * k + C), not O(N * C).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..utils.types import PositiveInt
from .average_precision import expected_average_precision
from .base import BaseMetric
from .registry import METRICS

__all__ = [
    "YouTube8MMetric",
    "calculate_gap",
    "calculate_hit_at_one",
    "calculate_map",
    "calculate_precision_at_equal_recall_rate",
    "top_k_triplets",
]


def _check_pair(predictions: np.ndarray, actuals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate and convert a prediction/label pair to float32 / float32 2-D arrays of one shape."""
    p = np.asarray(predictions, dtype=np.float32)
    y = np.asarray(actuals)
    if p.ndim != 2 or p.shape != y.shape:
        raise ValueError(f"predictions and labels must both be [N, C] of one shape, got "
                         f"{p.shape} and {y.shape}")
    return p, (y > 0).astype(np.float32)


def calculate_hit_at_one(predictions: np.ndarray, actuals: np.ndarray) -> float:
    """Hit@1: the fraction of videos whose top-scored class is one of their labels.

    Args:
        predictions: float [N, C] scores (probabilities or logits; only the order matters).
        actuals: [N, C] multi-hot labels (any value > 0 is a positive).

    Returns:
        float in [0, 1]; 0.0 for N = 0. Ties go to the lowest class index (``numpy.argmax``).

    Raises:
        ValueError: if the two arrays are not 2-D of one shape.

    Source: ``eval_util.calculate_hit_at_one`` (google/youtube-8m).
    """
    p, y = _check_pair(predictions, actuals)
    if p.shape[0] == 0:
        return 0.0
    top = np.argmax(p, axis=1)
    return float(y[np.arange(p.shape[0]), top].astype(np.float64).mean())


def _perr_sum(p: np.ndarray, y: np.ndarray, sorted_top: np.ndarray | None = None) -> float:
    """Sum over rows of the PERR precision. ``sorted_top``: optional [N, k] class indices of each row's
    top-k scores in descending order, reused (vectorised) for rows with at most k labels."""
    counts = y.sum(axis=1).astype(np.int64)
    total = 0.0
    kmax = 0
    if sorted_top is not None and sorted_top.size:
        kmax = sorted_top.shape[1]
        rows = (counts > 0) & (counts <= kmax)
        top = sorted_top[rows]
        hit = np.take_along_axis(y[rows], top, axis=1) * (np.take_along_axis(p[rows], top, axis=1) > 0)
        first_k = np.arange(kmax)[None, :] < counts[rows][:, None]
        total += float(np.sum((hit * first_k).sum(axis=1, dtype=np.float64) / counts[rows]))
    for i in np.nonzero(counts > kmax)[0]:
        k = int(counts[i])
        top = np.argpartition(p[i], -k)[-k:]
        total += float(np.sum(y[i, top] * (p[i, top] > 0))) / k
    return total


def calculate_precision_at_equal_recall_rate(predictions: np.ndarray, actuals: np.ndarray) -> float:
    """PERR: mean over videos of the precision among the video's ``k`` top-scored classes, where
    ``k`` is its number of labels.

    Only positive scores count as hits (Google counts ``P > 0``); a video with no labels counts 0 and
    stays in the denominator.

    Args:
        predictions: float [N, C] scores.
        actuals: [N, C] multi-hot labels.

    Returns:
        float in [0, 1]; 0.0 for N = 0.

    Raises:
        ValueError: if the two arrays are not 2-D of one shape.

    Source: ``eval_util.calculate_precision_at_equal_recall_rate`` (google/youtube-8m).
    """
    p, y = _check_pair(predictions, actuals)
    if p.shape[0] == 0:
        return 0.0
    return _perr_sum(p, y) / p.shape[0]


def top_k_triplets(predictions: np.ndarray, actuals: np.ndarray, k: int = 20
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each video's top-k (class, score, label) triplets, sorted by descending score.

    Args:
        predictions: float [N, C] scores.
        actuals: [N, C] multi-hot labels.
        k: how many classes per video; ``min(k, C)`` are taken.

    Returns:
        ``(classes int32 [N, k'], scores float32 [N, k'], hits bool [N, k'])`` with ``k' = min(k, C)``.
        Which of several classes tied at the k-th score is kept is decided by ``numpy.argpartition``.

    Raises:
        ValueError: if the arrays are not 2-D of one shape or ``k < 1``.

    Source: ``eval_util.top_k_by_class`` / ``top_k_triplets`` (google/youtube-8m).
    """
    p, y = _check_pair(predictions, actuals)
    if k < 1:
        raise ValueError(f"top_k must be >= 1, got {k}")
    k = min(int(k), p.shape[1])
    if k < p.shape[1]:
        c = p.shape[1]
        idx = np.argpartition(p, c - k, axis=1)[:, c - k:]
    else:
        idx = np.broadcast_to(np.arange(k), p.shape).copy()
    scores = np.take_along_axis(p, idx, axis=1)
    order = np.argsort(-scores, axis=1, kind="stable")
    idx = np.take_along_axis(idx, order, axis=1).astype(np.int32)
    scores = np.take_along_axis(scores, order, axis=1)
    hits = np.take_along_axis(y, idx, axis=1) > 0
    return idx, scores, hits


def calculate_gap(predictions: np.ndarray, actuals: np.ndarray, top_k: int = 20) -> float:
    """GAP@top_k of one set of predictions (the whole split at once).

    Args:
        predictions: float [N, C] scores.
        actuals: [N, C] multi-hot labels.
        top_k: triplets per video in the pool (YouTube-8M: 20).

    Returns:
        float in [0, 1]; 0.0 when there is no positive label.

    Raises:
        ValueError: if the arrays are not 2-D of one shape or ``top_k < 1``.

    Source: ``eval_util.calculate_gap`` (google/youtube-8m); ties as described in the module docstring.
    """
    metric = YouTube8MMetric(np.shape(predictions)[1], top_k=top_k)
    metric.update(predictions, actuals)
    return metric.accumulate()["gap"]


def calculate_map(predictions: np.ndarray, actuals: np.ndarray, top_k: int = 20) -> float:
    """mAP@top_k: mean over classes with positives of the class's AP over its top-k entries.

    Args:
        predictions: float [N, C] scores.
        actuals: [N, C] multi-hot labels.
        top_k: classes kept per video.

    Returns:
        float in [0, 1]; 0.0 when no class has a positive.

    Raises:
        ValueError: if the arrays are not 2-D of one shape or ``top_k < 1``.

    Source: ``eval_util.EvaluationMetrics`` with ``MeanAveragePrecisionCalculator(filter_empty_classes=
    True)`` (google/youtube-8m); ties as described in the module docstring.
    """
    metric = YouTube8MMetric(np.shape(predictions)[1], top_k=top_k)
    metric.update(predictions, actuals)
    return metric.accumulate()["map"]


@METRICS.register()
class YouTube8MMetric(BaseMetric):
    """Streaming Hit@1, PERR, GAP@k and mAP@k over a whole split, with O(N * k) memory.

    The metric contract is :class:`~paddlevideo.metrics.base.BaseMetric`: keys ``hit_at_one`` (Hit@1),
    ``perr`` (PERR), ``gap`` (GAP) and ``map`` (mAP); GAP decides the best checkpoint unless
    ``METRIC.save_best`` names another key. :meth:`report` writes the per-class AP table and the
    precision-recall plot (:mod:`paddlevideo.metrics.report`).

    Feed one batch at a time with :meth:`update`; :meth:`accumulate` computes the metrics of
    everything fed since :meth:`reset`. The result does not depend on how the videos were split into
    batches or in what order they came, so :meth:`state` / :meth:`merge` can gather the parts seen by
    several processes.

    Args:
        num_classes: C.
        top_k: triplets kept per video for GAP and mAP (YouTube-8M: 20).

    Raises:
        ValueError: ``num_classes < 1`` or ``top_k < 1``.

    Source: ``eval_util.EvaluationMetrics(num_class, top_k=20)`` (google/youtube-8m); definitions and
    ties in the module docstring and ``docs/metrics.md``.
    """

    KEYS = {"hit_at_one": "Hit@1", "perr": "PERR", "gap": "GAP", "map": "mAP"}
    DEFAULT_BEST = "gap"
    DEFAULT_MODE = "max"

    def __init__(self, num_classes: PositiveInt, top_k: PositiveInt = 20) -> None:
        if int(num_classes) < 1 or int(top_k) < 1:
            raise ValueError(f"num_classes and top_k must be >= 1, got {num_classes} and {top_k}")
        self.num_classes = int(num_classes)
        self.top_k = min(int(top_k), self.num_classes)
        self.reset()

    def reset(self) -> None:
        """Forget everything fed so far."""
        self._num_videos = 0
        self._hit_sum = 0.0
        self._perr_sum = 0.0
        self._positives = np.zeros(self.num_classes, dtype=np.int64)
        self._classes: list[np.ndarray] = []
        self._scores: list[np.ndarray] = []
        self._hits: list[np.ndarray] = []

    def update(self, predictions: np.ndarray, actuals: np.ndarray, **extra: Any) -> None:
        """Add one batch.

        Args:
            predictions: float [B, C] scores (sigmoid probabilities).
            actuals: [B, C] multi-hot labels.
            extra: other batch entries (unused).

        Raises:
            ValueError: wrong shapes or a class count other than ``num_classes``.
        """
        p, y = _check_pair(predictions, actuals)
        if p.shape[1] != self.num_classes:
            raise ValueError(f"expected {self.num_classes} classes, got predictions of shape {p.shape}")
        if p.shape[0] == 0:
            return
        classes, scores, hits = top_k_triplets(p, y, self.top_k)
        self._hit_sum += float(y[np.arange(p.shape[0]), np.argmax(p, axis=1)].sum())
        self._perr_sum += _perr_sum(p, y, classes)
        self._positives += y.sum(axis=0).astype(np.int64)
        self._num_videos += p.shape[0]
        self._classes.append(classes)
        self._scores.append(scores)
        self._hits.append(hits)

    def state(self) -> dict[str, Any]:
        """Everything :meth:`accumulate` needs, as plain numpy values (picklable, for gathering)."""
        k = self.top_k
        return {
            "num_classes": self.num_classes,
            "top_k": k,
            "num_videos": self._num_videos,
            "hit_sum": self._hit_sum,
            "perr_sum": self._perr_sum,
            "positives": self._positives.copy(),
            "classes": np.concatenate(self._classes) if self._classes else np.zeros((0, k), np.int32),
            "scores": np.concatenate(self._scores) if self._scores else np.zeros((0, k), np.float32),
            "hits": np.concatenate(self._hits) if self._hits else np.zeros((0, k), bool),
        }

    def merge(self, state: Mapping[str, Any]) -> None:
        """Add the videos of another metric's :meth:`state` (e.g. gathered from another process).

        Raises:
            ValueError: if the other metric has a different ``num_classes`` or ``top_k``.
        """
        if state["num_classes"] != self.num_classes or state["top_k"] != self.top_k:
            raise ValueError(f"cannot merge a metric state with num_classes={state['num_classes']}, "
                             f"top_k={state['top_k']} into num_classes={self.num_classes}, top_k={self.top_k}")
        self._num_videos += int(state["num_videos"])
        self._hit_sum += float(state["hit_sum"])
        self._perr_sum += float(state["perr_sum"])
        self._positives += np.asarray(state["positives"], dtype=np.int64)
        if len(state["classes"]):
            self._classes.append(np.asarray(state["classes"], dtype=np.int32))
            self._scores.append(np.asarray(state["scores"], dtype=np.float32))
            self._hits.append(np.asarray(state["hits"], dtype=bool))

    def accumulate(self) -> dict[str, float]:
        """Compute the metrics of everything fed since :meth:`reset`.

        Returns:
            ``{"hit_at_one", "perr", "gap", "map", "num_videos"}``; all 0.0 when nothing was fed.
        """
        n = self._num_videos
        if n == 0:
            return {"hit_at_one": 0.0, "perr": 0.0, "gap": 0.0, "map": 0.0, "num_videos": 0}
        st = self.state()
        classes = st["classes"].reshape(-1)
        scores = st["scores"].reshape(-1)
        hits = st["hits"].reshape(-1)
        del st
        positives = self._positives
        order = np.argsort(-scores, kind="stable")          # shared by GAP and mAP
        gap = float(expected_average_precision(scores, hits, positives.sum(), score_order=order)[0])
        per_class = expected_average_precision(scores, hits, positives, groups=classes,
                                               num_groups=self.num_classes, score_order=order)
        has_pos = positives > 0
        mean_ap = float(np.mean(per_class[has_pos])) if has_pos.any() else 0.0
        return {"hit_at_one": self._hit_sum / n, "perr": self._perr_sum / n, "gap": gap, "map": mean_ap,
                "num_videos": n}

    def report(self, output_dir: str, prefix: str = "test",
               label_names: Mapping[int, str] | None = None) -> dict[str, str]:
        """Write ``<prefix>_per_class_ap.csv`` and ``<prefix>_report.png`` into ``output_dir``
        (:func:`paddlevideo.metrics.report.write_eval_report`).

        Returns:
            ``{"per-class AP": csv path, "per-class AP, precision-recall": png path}``.
        """
        from .report import write_eval_report

        out = write_eval_report(self, output_dir, prefix, label_names=label_names)
        return {"per-class AP": out["csv"], "per-class AP, precision-recall": out["png"]}
