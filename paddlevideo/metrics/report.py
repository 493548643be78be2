"""Evaluation report of :class:`~paddlevideo.metrics.youtube8m.YouTube8MMetric`, written by ``main.py --test``
beside ``test_metrics.json`` through :meth:`~paddlevideo.metrics.youtube8m.YouTube8MMetric.report`.

Computed from the state of the streaming :class:`paddlevideo.metrics.youtube8m.YouTube8MMetric` (each
video's top-k (class, score, hit) triplets and the per-class positive counts), so it costs no second
pass over the data:

* ``<prefix>_per_class_ap.csv``: one row per class: ``class``, ``name`` (from ``--label_file``; empty
  without one, or for an index the file does not list), ``ap`` (AP@k of the class, as in mAP; empty for a
  class with no positive label, which mAP leaves out), ``positives`` (videos labelled with the class) and
  ``top_k_entries`` (videos that had the class in their top-k);
* ``<prefix>_report.png``: left, the distribution (histogram) of per-class AP over the classes that have
  positives, with the mAP marked; right, the precision-recall curve of the pooled top-k predictions,
  the list GAP is computed on.

The per-class APs and the GAP in the title come from
:func:`paddlevideo.metrics.average_precision.expected_average_precision`, the function the metric's GAP and
mAP use, so they equal the metric's numbers (tied scores: the expected AP over all their orders,
``docs/metrics.md``). Precision and recall of the curve follow Google's ``eval_util.calculate_gap`` pool
(google/youtube-8m): entries are all videos' top-k triplets ranked by score; recall is divided by **all**
positive labels, so the curve ends below recall 1 when some positives never reach a top-k. Tied scores
form one point of the curve (the threshold convention of ``sklearn.metrics.precision_recall_curve``); the
area under it equals the GAP when no scores tie.
"""
from __future__ import annotations

import csv
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from .average_precision import expected_average_precision

__all__ = ["precision_recall_curve", "write_eval_report"]


def precision_recall_curve(scores: np.ndarray, hits: np.ndarray,
                           total_positives: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision and recall of a ranked list at every distinct score threshold.

    Args:
        scores: float [M] scores of the entries (any order).
        hits: [M] bool or 0/1, whether each entry is a positive.
        total_positives: recall denominator (default: the positives among ``hits``). For GAP this is
            every positive label of the split, also those outside the pooled top-k.

    Returns:
        ``(precision float64 [K], recall float64 [K], thresholds float32 [K])`` for the K distinct scores
        in descending order: at threshold t, every entry with score >= t is predicted positive.
        Empty arrays when M = 0; recall is all 0 when ``total_positives`` is 0.

    Raises:
        ValueError: ``scores`` and ``hits`` differ in size.

    Source: the threshold convention of ``sklearn.metrics.precision_recall_curve``; the pooled list and
    normaliser of Google's ``eval_util.calculate_gap`` (google/youtube-8m).
    """
    s = np.asarray(scores, dtype=np.float32).reshape(-1)
    h = np.asarray(hits).reshape(-1) > 0
    if s.size != h.size:
        raise ValueError(f"scores and hits must have one size, got {s.size} and {h.size}")
    if s.size == 0:
        return np.zeros(0), np.zeros(0), np.zeros(0, np.float32)
    order = np.argsort(-s, kind="stable")
    s, h = s[order], h[order]
    tp = np.cumsum(h, dtype=np.float64)
    last_of_run = np.append(s[1:] != s[:-1], True)          # the last entry of each tie run
    idx = np.nonzero(last_of_run)[0]
    total = float(h.sum()) if total_positives is None else float(total_positives)
    precision = tp[idx] / (idx + 1)
    recall = tp[idx] / total if total > 0 else np.zeros(idx.size)
    return precision, recall, s[idx]


def _per_class(state: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AP@k (NaN for a class without positives), positives and top-k entry counts per class."""
    c = int(state["num_classes"])
    classes = np.asarray(state["classes"]).reshape(-1).astype(np.int64)
    positives = np.asarray(state["positives"], dtype=np.int64)
    ap = expected_average_precision(state["scores"], state["hits"], positives, groups=classes, num_groups=c)
    ap[positives == 0] = np.nan
    return ap, positives, np.bincount(classes, minlength=c)


def write_eval_report(metric: Any, output_dir: str, prefix: str = "test",
                      label_names: Mapping[int, str] | None = None) -> dict[str, Any]:
    """Write the per-class AP CSV and the report PNG (module docstring) for a filled metric.

    Args:
        metric: a metric with ``state()`` as :class:`~paddlevideo.metrics.youtube8m.YouTube8MMetric`
            (``num_classes``, ``top_k``, ``positives`` int [C], ``classes`` / ``scores`` / ``hits`` [N, k]).
        output_dir: directory of the files (created when missing).
        prefix: file name prefix (``test`` -> ``test_per_class_ap.csv``, ``test_report.png``).
        label_names: ``{class index: name}`` for the CSV's ``name`` column (e.g. YouTube-8M's
            ``vocabulary.csv`` read by :func:`paddlevideo.inference.results.load_label_names`).

    Returns:
        ``{"csv": path, "png": path, "gap": GAP of the plotted pool, "map": mean of the CSV's APs}``
        (the two numbers equal the metric's GAP and mAP).

    Raises:
        KeyError: ``metric.state()`` lacks one of the fields above.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    state = metric.state()
    os.makedirs(output_dir, exist_ok=True)
    ap, positives, entries = _per_class(state)
    csv_path = os.path.join(output_dir, f"{prefix}_per_class_ap.csv")
    with open(csv_path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["class", "name", "ap", "positives", "top_k_entries"])
        for k in range(ap.size):
            w.writerow([k, (label_names or {}).get(k, ""), "" if np.isnan(ap[k]) else f"{ap[k]:.6f}",
                        int(positives[k]), int(entries[k])])

    total = int(positives.sum())
    precision, recall, _ = precision_recall_curve(state["scores"], state["hits"], total)
    gap = float(expected_average_precision(state["scores"], state["hits"], total)[0])
    valid = ap[~np.isnan(ap)]
    mean_ap = float(valid.mean()) if valid.size else 0.0
    k = int(state["top_k"])

    fig = Figure(figsize=(11, 4.2), dpi=100)
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2)
    left.hist(valid, bins=np.linspace(0.0, 1.0, 21), color="#4c72b0", edgecolor="white")
    left.axvline(mean_ap, color="#c44e52", linestyle="--", label=f"mAP@{k} = {mean_ap:.4f}")
    left.set_xlim(0, 1)
    left.set_xlabel(f"per-class AP@{k}")
    left.set_ylabel("classes")
    left.set_title(f"Per-class AP ({valid.size} of {ap.size} classes have positives)")
    left.legend(loc="upper left")
    if recall.size:
        right.step(np.concatenate([[0.0], recall]), np.concatenate([[precision[0]], precision]),
                   where="pre", color="#55a868")
    right.set_xlim(0, 1)
    right.set_ylim(0, 1.02)
    right.set_xlabel("recall (of all positive labels)")
    right.set_ylabel("precision")
    right.set_title(f"Pooled top-{k} predictions: GAP = {gap:.4f}")
    right.grid(alpha=0.3)
    fig.suptitle(f"{int(state['num_videos'])} videos, {total} positive labels")
    fig.tight_layout()
    png_path = os.path.join(output_dir, f"{prefix}_report.png")
    fig.savefig(png_path)
    return {"csv": csv_path, "png": png_path, "gap": gap, "map": mean_ap}
