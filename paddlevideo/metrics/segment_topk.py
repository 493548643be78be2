"""Per-class top-K ranking of scored segments, as a Kaggle segment submission is built: bounded memory.

This is the ranking step shared by the streaming :class:`~paddlevideo.metrics.segment_map.SegmentMAP`
metric and the submission writer (:mod:`paddlevideo.inference.segment_submission`), so that the metric
scores exactly the rows the writer would submit. ``docs/segment_metric.md`` states the rules; they follow
google/youtube-8m ``inference.py`` (``format_lines`` and the heap post-processing of ``--segment_labels``):

1. **Whitelist.** Scores of classes outside the segment vocabulary (``segment_label_ids.csv``) are set to 0.
2. **Top 20.** A segment enters class ``c`` only if ``c`` is among its ``per_segment_top_k`` (20) highest
   scores after step 1; ties at the 20th score go to the lower class index. Non-vocabulary classes that
   reach the top 20 anyway (a vocabulary of fewer than 20 classes) are dropped, as the starter's heap skips
   them.
3. **Top K per class.** Each class keeps its ``top_k`` (K = 100,000 in the challenge) best segments.
4. **Order.** Higher score first; among equal scores, the segment id ``"<video id>:<start>"`` that is
   larger as a string comes first. The starter keeps a min-heap of ``(score, segment_id)`` tuples and
   evicts the smallest, so its choice of which tied segments survive at rank K is this order; its final
   ``sort(key=score)`` then leaves ties in heap order, which this module replaces by the same string order.

Scores are compared as float32 (the model's output). The starter first prints them with ``%g`` (6
significant digits), which can turn close scores into ties; here they are not rounded.

Memory: :class:`ClassTopK` holds at most ``top_k`` entries per class after each pruning and prunes once
the entries added since the last pruning outnumber the entries kept (or ``min_prune`` of them), so it
stays below about ``2 * classes * top_k + min_prune + one batch`` entries, whatever the number of
segments: the bound of a min-heap of size K per class, pruned in vectorised steps.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["ClassTopK", "segment_ids", "top_classes_per_segment", "vocabulary_mask"]


def vocabulary_mask(num_classes: int, classes: Sequence[int] | np.ndarray | None) -> np.ndarray:
    """A bool [num_classes] mask that is True at the vocabulary ``classes`` (all True for None).

    Raises:
        ValueError: a class outside ``[0, num_classes)``.
    """
    mask = np.zeros(int(num_classes), dtype=bool)
    if classes is None:
        mask[:] = True
        return mask
    c = np.asarray(classes, dtype=np.int64).reshape(-1)
    bad = c[(c < 0) | (c >= num_classes)]
    if bad.size:
        raise ValueError(f"segment class {int(bad[0])} is outside [0, {num_classes}) (num_classes={num_classes})")
    mask[c] = True
    return mask


def top_classes_per_segment(probs: np.ndarray, mask: np.ndarray, per_segment_top_k: int = 20
                            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The (segment, class, score) entries that a submission would contain for one batch (rules 1-2 above).

    Args:
        probs: float [B, C] scores of B segments.
        mask: bool [C], True at the vocabulary classes (:func:`vocabulary_mask`).
        per_segment_top_k: classes kept per segment (the starter's ``--top_k``, 20).

    Returns:
        ``(rows int64 [E], classes int64 [E], scores float32 [E])``: row of ``probs``, class and score of
        every kept entry (E <= B * per_segment_top_k), row-major.

    Raises:
        ValueError: ``probs`` is not [B, C] with C = ``len(mask)``, or ``per_segment_top_k < 1``.

    Source: google/youtube-8m ``inference.format_lines`` (whitelist product, then ``argpartition`` top-k).
    """
    p = np.asarray(probs, dtype=np.float32)
    if p.ndim != 2 or p.shape[1] != mask.shape[0]:
        raise ValueError(f"expected scores [B, {mask.shape[0]}], got shape {p.shape}")
    if per_segment_top_k < 1:
        raise ValueError(f"per_segment_top_k must be >= 1, got {per_segment_top_k}")
    b, c = p.shape
    if b == 0:
        empty = np.zeros(0, np.int64)
        return empty, empty.copy(), np.zeros(0, np.float32)
    z = np.where(mask[None, :], p, np.float32(0.0))
    k = min(int(per_segment_top_k), c)
    # stable argsort on -score: equal scores keep ascending class order, so ties at rank k go to the lower class
    top = np.argsort(-z, axis=1, kind="stable")[:, :k]
    rows = np.repeat(np.arange(b, dtype=np.int64), k)
    classes = top.reshape(-1).astype(np.int64)
    keep = mask[classes]
    rows, classes = rows[keep], classes[keep]
    return rows, classes, z[rows, classes]


def segment_ids(video_ids: Sequence[Any], starts: Sequence[int] | np.ndarray) -> np.ndarray:
    """``"<video id>:<start>"`` for each segment, as a numpy unicode array [B] (bytes ids are decoded as UTF-8).

    Raises:
        ValueError: the two lengths differ or a start time is negative.
    """
    ids = [v.decode("utf-8") if isinstance(v, (bytes, np.bytes_)) else str(v) for v in video_ids]
    st = np.asarray(starts, dtype=np.int64).reshape(-1)
    if len(ids) != st.shape[0]:
        raise ValueError(f"{len(ids)} video ids but {st.shape[0]} segment start times")
    if (st < 0).any():
        raise ValueError(f"negative segment start time {int(st[st < 0][0])}")
    return np.asarray([f"{v}:{int(s)}" for v, s in zip(ids, st)], dtype=str)


def _order(classes: np.ndarray, scores: np.ndarray, sids: np.ndarray) -> np.ndarray:
    """Indices sorting by class ascending, then score descending, then segment id descending (rule 4)."""
    if sids.size == 0:
        return np.zeros(0, dtype=np.int64)
    _, sid_rank = np.unique(sids, return_inverse=True)
    return np.lexsort((-sid_rank.reshape(-1), -scores.astype(np.float64), classes))


class ClassTopK:
    """The ``top_k`` best (score, segment id) entries of every class, fed in batches, with optional
    per-entry payload arrays (e.g. the rating of the segment for that class).

    Args:
        top_k: entries kept per class (K).
        payload: names of the int8 payload arrays every :meth:`push` gives.
        min_prune: prune no earlier than this many new entries (amortises the sort).

    Raises:
        ValueError: ``top_k < 1``.
    """

    def __init__(self, top_k: int, payload: Sequence[str] = (), min_prune: int = 1 << 16) -> None:
        if int(top_k) < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        self.top_k = int(top_k)
        self.payload = tuple(payload)
        self.min_prune = int(min_prune)
        self._chunks: list[dict[str, np.ndarray]] = []
        self._kept = 0       # entries in the first chunk after the last pruning
        self._pending = 0    # entries added since

    def __len__(self) -> int:
        """Entries held now (at most K per class right after a pruning)."""
        return self._kept + self._pending

    def push(self, classes: np.ndarray, scores: np.ndarray, sids: np.ndarray,
             **payload: np.ndarray) -> None:
        """Add entries: class int [E], score float32 [E], segment id str [E] and each payload int8 [E].

        Raises:
            ValueError: arrays of different lengths or a missing/unknown payload name.
        """
        if set(payload) != set(self.payload):
            raise ValueError(f"payload {sorted(payload)} given, {sorted(self.payload)} expected")
        chunk = {"classes": np.asarray(classes, dtype=np.int64).reshape(-1),
                 "scores": np.asarray(scores, dtype=np.float32).reshape(-1),
                 "sids": np.asarray(sids, dtype=str).reshape(-1)}
        for name in self.payload:
            chunk[name] = np.asarray(payload[name], dtype=np.int8).reshape(-1)
        n = chunk["classes"].shape[0]
        if any(v.shape[0] != n for v in chunk.values()):
            raise ValueError(f"entries of different lengths: {({k: v.shape[0] for k, v in chunk.items()})}")
        if n == 0:
            return
        self._chunks.append(chunk)
        self._pending += n
        if self._pending >= max(self._kept, self.min_prune):
            self.prune()

    def prune(self) -> None:
        """Sort everything held by (class, rule 4) and keep the first ``top_k`` of each class."""
        if not self._chunks:
            return
        allc = {k: np.concatenate([c[k] for c in self._chunks]) for k in self._chunks[0]}
        order = _order(allc["classes"], allc["scores"], allc["sids"])
        cls = allc["classes"][order]
        first = np.searchsorted(cls, cls, side="left")
        keep = order[(np.arange(cls.shape[0]) - first) < self.top_k]
        self._chunks = [{k: v[keep] for k, v in allc.items()}]
        self._kept, self._pending = int(keep.shape[0]), 0

    def ranked(self) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
        """``(class, {"scores", "sids", <payload>...})`` for every class that has entries, by class id
        ascending, each list in rank order (best first) and at most ``top_k`` long."""
        self.prune()
        if not self._chunks:
            return
        held = self._chunks[0]
        cls = held["classes"]
        bounds = np.flatnonzero(np.diff(cls)) + 1
        for start, stop in zip(np.r_[0, bounds], np.r_[bounds, cls.shape[0]]):
            yield int(cls[start]), {k: v[start:stop] for k, v in held.items() if k != "classes"}

    def state(self) -> dict[str, Any]:
        """The kept entries as plain numpy arrays (picklable), after pruning: at most ``top_k`` per class."""
        self.prune()
        held = self._chunks[0] if self._chunks else {
            "classes": np.zeros(0, np.int64), "scores": np.zeros(0, np.float32), "sids": np.zeros(0, str),
            **{name: np.zeros(0, np.int8) for name in self.payload}}
        return {"top_k": self.top_k, "payload": list(self.payload), **{k: v.copy() for k, v in held.items()}}

    def merge(self, state: Mapping[str, Any]) -> None:
        """Add the entries of another instance's :meth:`state`.

        Raises:
            ValueError: the other instance has another ``top_k`` or payload.
        """
        if int(state["top_k"]) != self.top_k or tuple(state["payload"]) != self.payload:
            raise ValueError(f"cannot merge a ranking with top_k={state['top_k']}, payload={state['payload']} "
                             f"into top_k={self.top_k}, payload={list(self.payload)}")
        self.push(state["classes"], state["scores"], state["sids"], **{k: state[k] for k in self.payload})
