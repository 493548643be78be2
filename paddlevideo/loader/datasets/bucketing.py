"""Length bucketing: reorder a record stream so that each batch holds videos of similar length.

Batches are padded to their longest video (:func:`paddlevideo.loader.pipelines.collate_frames`), and the
bi-LSTM of AttentionLSTM costs time in proportion to the *padded* frames ``B * max(T_i)``. On YouTube-8M
lengths (mostly 120-300 frames, mean about 215) random batches of 16 compute about 1.3-1.4 frames per
real frame. Bucketing holds a bounded window of ``window_batches * batch_size`` records, sorts it by
length, cuts it into batches of consecutive lengths and emits those batches in random order, so the
waste drops to a few percent while memory stays bounded and the order still changes every epoch.

The scheme is the sorted-pool batching of torchtext's legacy ``BucketIterator`` (``data.pool``: sort
chunks of ``100 * batch_size`` examples by length, batch consecutive examples, shuffle the batches),
applied to a stream of record dicts that a ``paddle.io.DataLoader`` groups ``batch_size`` at a time.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from ..pipelines.frames import frame_feature_keys

__all__ = ["bucket_by_length", "padding_ratio", "record_length"]

Record = dict[str, Any]


def record_length(record: Mapping[str, Any]) -> int:
    """Number of frames of a record: the length of its first frame feature (a 2-D array), 0 if none.

    Args:
        record: a record dict ``{"id", "labels", <feature>: [T, D] ...}`` (after the pipeline).

    Returns:
        ``T`` as an ``int``.
    """
    keys = frame_feature_keys(record)
    return int(len(record[keys[0]])) if keys else 0


def bucket_by_length(records: Iterable[Record], batch_size: int, window_batches: int,
                     rng: np.random.Generator | None = None,
                     length_of: Callable[[Mapping[str, Any]], int] = record_length) -> Iterator[Record]:
    """Yield ``records`` reordered so that every run of ``batch_size`` consecutive records has similar lengths.

    The stream is read in windows of ``window_batches * batch_size`` records. Each window is sorted by
    length (a stable sort, so equal lengths keep their incoming, already shuffled, order), cut into
    batches of ``batch_size`` consecutive records, and the batches are emitted in an order drawn from
    ``rng``. Every window except possibly the last has a multiple of ``batch_size`` records, so batch
    boundaries of the output line up with the DataLoader's: a consumer that groups the output
    ``batch_size`` at a time gets exactly the bucketed batches. In the last window the only short batch
    is emitted last (it would be the DataLoader's last, short, batch anyway).

    Every input record is yielded exactly once; at most one window of records is held in memory.

    Args:
        records: any iterable of record dicts (or other objects, given a matching ``length_of``).
        batch_size: videos per batch, the DataLoader's ``batch_size`` (per worker stream).
        window_batches: batches per sorting window (>= 1). Larger windows give less padding and less
            randomness in batch composition; memory is ``window_batches * batch_size`` records.
        rng: generator for the batch order; None uses ``np.random.default_rng()``.
        length_of: maps a record to its length in frames (default :func:`record_length`).

    Yields:
        The same record objects, reordered.

    Raises:
        ValueError: if ``batch_size`` or ``window_batches`` is smaller than 1.
    """
    batch_size, window_batches = int(batch_size), int(window_batches)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if window_batches < 1:
        raise ValueError(f"window_batches (bucket_window) must be >= 1, got {window_batches}")
    rng = np.random.default_rng() if rng is None else rng
    window_size = batch_size * window_batches
    window: list[Record] = []
    for record in records:
        window.append(record)
        if len(window) == window_size:
            yield from _emit_window(window, batch_size, rng, length_of)
            window = []
    if window:
        yield from _emit_window(window, batch_size, rng, length_of)


def _emit_window(window: list[Record], batch_size: int, rng: np.random.Generator,
                 length_of: Callable[[Mapping[str, Any]], int]) -> Iterator[Record]:
    """Sort one window by length, shuffle the order of its full batches, short batch (if any) last."""
    lengths = np.fromiter((length_of(r) for r in window), dtype=np.int64, count=len(window))
    order = np.argsort(lengths, kind="stable")
    full = len(window) // batch_size
    batch_order = rng.permutation(full)
    for b in batch_order:
        for i in order[b * batch_size:(b + 1) * batch_size]:
            yield window[i]
    for i in order[full * batch_size:]:
        yield window[i]


def padding_ratio(lengths: Sequence[int], batch_size: int) -> float:
    """Computed frames / real frames when ``lengths`` are batched ``batch_size`` at a time, in order.

    Each batch is padded to its longest video, so it computes ``len(batch) * max(lengths in batch)``
    frames; the ratio is ``sum over batches of that`` divided by ``sum(lengths)`` (1.0 means no padding).

    Args:
        lengths: frames per video, in the order the loader batches them (int, >= 0).
        batch_size: videos per batch (>= 1); the last batch may be shorter.

    Returns:
        The ratio as a float (>= 1.0); 1.0 when all lengths are 0 or the sequence is empty.

    Raises:
        ValueError: if ``batch_size`` < 1 or a length is negative.
    """
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    arr = np.asarray(lengths, dtype=np.int64).reshape(-1)
    if arr.size and arr.min() < 0:
        raise ValueError(f"lengths must be >= 0, found {int(arr.min())}")
    real = int(arr.sum())
    if real == 0:
        return 1.0
    starts = np.arange(0, arr.size, int(batch_size))
    maxima = np.maximum.reduceat(arr, starts)
    sizes = np.diff(np.append(starts, arr.size))
    return float(np.dot(maxima, sizes)) / real
