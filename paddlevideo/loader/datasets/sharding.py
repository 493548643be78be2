"""Which records one reader reads: an index of record offsets and the split of an epoch across ranks,
steps and loader workers.

The split (used by :class:`~paddlevideo.loader.datasets.yt8m_tfrecord.YouTube8MTFRecordDataset`):

* the epoch's files (shuffled or not) are concatenated into one global sequence of ``N`` records;
* the sequence is cut into **global steps** of ``world * batch_size`` records; in global step ``g``
  rank ``r`` takes the ``r``-th block of ``batch_size`` records. The last global step holds
  ``R = N - (S - 1) * world * batch_size`` records, shared as evenly as possible (rank ``r`` gets
  ``[R*r // world, R*(r+1) // world)``), so a rank may get nothing in the last step when ``R < world``;
* a rank's steps are dealt round-robin to its loader workers (step ``j`` of the rank to worker
  ``j % num_workers``), which is the order in which ``paddle.io.DataLoader`` collects worker batches.

Every record therefore belongs to exactly one (rank, worker, step), every rank has the same number of
steps ``S = ceil(N / (world * batch_size))`` (or one fewer, see above, which the training loop pads
with a zero-weight step), and every byte of the data is read by one reader only.

Source of the idea: ``DistributedBatchSampler`` in Paddle splits a map-style dataset by index; this
does the same for streamed TFRecords by indexing the record offsets first
(:func:`paddlevideo.loader.yt8m.tfrecord.index_tfrecord` reads only the 12-byte headers).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def reader_shard(rank: int, world: int, worker_id: int, num_workers: int) -> tuple[int, int]:
    """Global shard ``(index, count)`` of one loader worker of one rank: ``index = rank * num_workers +
    worker_id`` out of ``world * num_workers``; every record is read by exactly one shard."""
    num_workers = max(num_workers, 1)
    return rank * num_workers + worker_id, world * num_workers


def num_global_steps(total: int, world: int, batch_size: int) -> int:
    """Steps per epoch of every rank: ``ceil(total / (world * batch_size))`` (0 for no records)."""
    return math.ceil(total / (world * batch_size)) if total > 0 else 0


def rank_step_ranges(total: int, world: int, batch_size: int, rank: int) -> list[tuple[int, int]]:
    """The global record ranges ``[start, stop)`` of the steps of ``rank`` in one epoch (see module doc).

    Args:
        total: records in the epoch (N).
        world: number of ranks.
        batch_size: records per rank and step.
        rank: this rank, ``0 <= rank < world``.

    Returns:
        One range per step, in step order; an empty last range is left out (that rank has one step
        fewer than the others).

    Raises:
        ValueError: for ``batch_size < 1``, ``world < 1`` or a rank outside ``[0, world)``.
    """
    if batch_size < 1 or world < 1 or not 0 <= rank < world:
        raise ValueError(f"need batch_size >= 1, world >= 1 and 0 <= rank < world; got batch_size {batch_size}, "
                         f"world {world}, rank {rank}")
    steps = num_global_steps(total, world, batch_size)
    ranges = []
    per_step = world * batch_size
    for g in range(steps):
        base = g * per_step
        if g < steps - 1:
            start, stop = base + rank * batch_size, base + (rank + 1) * batch_size
        else:
            rest = total - base
            start, stop = base + rest * rank // world, base + rest * (rank + 1) // world
        if stop > start:
            ranges.append((start, stop))
    return ranges


def worker_ranges(ranges: Sequence[tuple[int, int]], worker_id: int, num_workers: int) -> list[tuple[int, int]]:
    """The steps of one loader worker: every ``num_workers``-th step of the rank, from ``worker_id``."""
    return list(ranges[worker_id::max(num_workers, 1)])


def locate(start: int, stop: int, counts: Sequence[int]) -> list[tuple[int, int, int]]:
    """Map a global record range onto files: ``[(file_position, first, stop), ...]`` with record
    indices inside each file, for files holding ``counts`` records, concatenated in order."""
    out = []
    bounds = np.concatenate([[0], np.cumsum(np.asarray(counts, np.int64))])
    f = int(np.searchsorted(bounds, start, side="right") - 1)
    while start < stop and f < len(counts):
        lo, hi = int(bounds[f]), int(bounds[f + 1])
        if hi > start:
            end = min(stop, hi)
            out.append((f, start - lo, end - lo))
            start = end
        f += 1
    return out
