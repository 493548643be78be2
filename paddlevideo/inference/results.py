"""Post-processing of predicted probabilities: top-k classes, class names, printable and JSON results."""
from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["format_result", "load_label_names", "top_k"]


def load_label_names(path: str) -> dict[int, str]:
    """Read class names from a YouTube-8M ``vocabulary.csv``.

    The file has a header row with at least the columns ``Index`` and ``Name``
    (``Index,TrainVideoCount,KnowledgeGraphId,Name,WikiUrl,...``); other columns are ignored. The file is
    UTF-8, with or without a byte-order mark.

    Returns:
        ``{class index: name}``.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the header lacks ``Index`` or ``Name``, or a row has a non-integer index
            (the message names the file and line).
    """
    names: dict[int, str] = {}
    # utf-8-sig: spreadsheet programs save CSV with a byte-order mark, which would glue itself to "Index"
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames or []
        if "Index" not in header or "Name" not in header:
            raise ValueError(f"{path}: label file needs the columns Index and Name (YouTube-8M vocabulary.csv); "
                             f"header is {header}")
        for row in reader:
            try:
                names[int(row["Index"])] = row["Name"] or ""
            except (TypeError, ValueError):
                raise ValueError(f"{path}: line {reader.line_num}: Index {row.get('Index')!r} is not an "
                                 "integer") from None
    return names


def top_k(probs: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` highest-scoring classes of each row.

    Args:
        probs: float [B, C] scores.
        k: how many (clipped to C).

    Returns:
        ``(classes int64 [B, k], scores float32 [B, k])`` ordered by score, highest first; ties keep the
        lower class index first (stable sort).

    Raises:
        ValueError: ``k < 1`` or ``probs`` is not 2-D.
    """
    probs = np.asarray(probs)
    if probs.ndim != 2:
        raise ValueError(f"probs must be [batch, classes], got shape {probs.shape}")
    if k < 1:
        raise ValueError(f"top_k must be >= 1, got {k}")
    k = min(int(k), probs.shape[1])
    order = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    return order.astype(np.int64), np.take_along_axis(probs, order, axis=1).astype(np.float32)


def format_result(source: str, video_id: str, classes: Sequence[int], scores: Sequence[float],
                  label_names: Mapping[int, str] | None = None) -> tuple[str, dict[str, Any]]:
    """PaddleVideo's printed lines (``Current video file``, ``top-1 class``, ``top-1 score``) for one video,
    then one line per top-k entry, and the same result as a JSON-ready dict.

    Scores are sigmoid probabilities (multi-label), not softmax as PaddleVideo prints.
    """
    names = [label_names.get(int(c), "") if label_names else None for c in classes]
    lines = [f"Current video file: {source}", f"\tvideo id: {video_id}",
             f"\ttop-1 class: {int(classes[0])}", f"\ttop-1 score: {float(scores[0])}"]
    for rank, (c, s, n) in enumerate(zip(classes, scores, names), 1):
        label = f" {n}" if n else ""
        lines.append(f"\ttop-{rank}: class {int(c)}{label} score {float(s):.6f}")
    entry: dict[str, Any] = {"file": source, "id": video_id, "top_k_classes": [int(c) for c in classes],
                             "top_k_scores": [float(s) for s in scores]}
    if label_names:
        entry["top_k_labels"] = names
    return "\n".join(lines), entry

