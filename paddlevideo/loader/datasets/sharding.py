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
does the same for streamed TFRecords by indexing the record offsets first (only the 12-byte headers
are read, TFRecord framing as in docs/youtube8m_format.md#tfrecord-framing).
"""
from __future__ import annotations

import math
import os
import stat
import struct
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple

import numpy as np

from ..yt8m import CorruptRecordError, DataReadError
from ..yt8m.tfrecord import FOOTER_SIZE, HEADER_SIZE, masked_crc32c

_HEADER = struct.Struct("<QI")
_GZIP_MAGIC = b"\x1f\x8b"
_FILE_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
               (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


def regular_file_size(path: str) -> int:
    """Size in bytes of ``path``, which must be a regular file (symlinks followed).

    Raises:
        DataReadError: the path is missing (also a dangling symlink), unreadable (a symlink loop,
            permissions) or not a regular file (a directory, a FIFO, which would block a reader forever).
    """
    try:
        st = os.stat(path)
    except OSError as e:
        raise DataReadError.from_exception(e, path) from None
    if not stat.S_ISREG(st.st_mode):
        kind = next((name for test, name in _FILE_KINDS if test(st.st_mode)), "not a regular file")
        raise DataReadError(path, f"cannot read the file: it is {kind}, not a regular file")
    return int(st.st_size)


def dist_rank_and_world() -> Tuple[int, int]:
    """(rank, world size) of this process from the launcher's environment (``paddle.distributed.launch``
    sets ``PADDLE_TRAINER_ID`` / ``PADDLE_TRAINERS_NUM``); (0, 1) without a launcher."""
    rank = int(os.environ.get("PADDLE_TRAINER_ID", os.environ.get("PADDLE_GLOBAL_RANK", "0")))
    world = int(os.environ.get("PADDLE_TRAINERS_NUM", os.environ.get("PADDLE_GLOBAL_SIZE", "1")))
    return rank, max(world, 1)


def reader_shard(rank: int, world: int, worker_id: int, num_workers: int) -> Tuple[int, int]:
    """Global shard ``(index, count)`` of one loader worker of one rank: ``index = rank * num_workers +
    worker_id`` out of ``world * num_workers``; every record is read by exactly one shard."""
    num_workers = max(num_workers, 1)
    return rank * num_workers + worker_id, world * num_workers


@dataclass
class FileIndex:
    """Where the records of one TFRecord file start.

    Attributes:
        path: the file.
        offsets: int64 [n], byte offset of each record's 12-byte header.
        lengths: int64 [n], payload length of each record in bytes (its length CRC was checked).
        problem: the framing error that stopped indexing (truncated file, length CRC mismatch), or
            None when the whole file was indexed. Records before it are usable; nothing after it is.
    """

    path: str
    offsets: np.ndarray
    lengths: np.ndarray
    problem: Optional[CorruptRecordError] = field(default=None)

    def __len__(self) -> int:
        return int(len(self.offsets))


def index_tfrecord(path: str) -> FileIndex:
    """Index a TFRecord file by walking its record headers (12 bytes read per record, payloads skipped).

    The length CRC of every header is checked, so a length that is used later is trustworthy. A file
    that ends inside a record or a header whose CRC does not match stops the walk: the records before
    it are indexed and the problem is kept in :attr:`FileIndex.problem` (the caller decides whether to
    raise it). Payload CRCs are checked later, when the payload is read.

    Args:
        path: an uncompressed ``.tfrecord`` file.

    Returns:
        The :class:`FileIndex`.

    Raises:
        DataReadError: the file cannot be opened or read (see :func:`regular_file_size`), or it is
            gzip-compressed (only uncompressed TFRecords are read).
    """
    size = regular_file_size(path)
    try:
        return _index(path, size)
    except OSError as e:
        raise DataReadError.from_exception(e, path) from None


def _index(path: str, size: int) -> FileIndex:
    offsets: List[int] = []
    lengths: List[int] = []
    problem = None
    with open(path, "rb") as f:
        offset, index = 0, 0
        while offset < size:
            header = f.read(HEADER_SIZE)
            if len(header) < HEADER_SIZE:
                problem = CorruptRecordError(path, index, offset, f"truncated header: file ends after "
                                             f"{len(header)} of {HEADER_SIZE} bytes")
                break
            length, crc = _HEADER.unpack(header)
            if crc != masked_crc32c(header[:8]):
                if index == 0 and header.startswith(_GZIP_MAGIC):
                    raise DataReadError(path, "the file is gzip-compressed (a TFRecord written with compression "
                                        "GZIP); only uncompressed TFRecords are read: decompress it first, "
                                        "e.g. gunzip -c FILE > FILE.tfrecord")
                problem = CorruptRecordError(path, index, offset, f"length CRC mismatch for length field {length} "
                                             "(the rest of the file cannot be framed)")
                break
            end = offset + HEADER_SIZE + length + FOOTER_SIZE
            if end > size:
                problem = CorruptRecordError(path, index, offset, f"truncated record: it needs {end - offset} "
                                             f"bytes but the file ends after {size - offset}")
                break
            offsets.append(offset)
            lengths.append(length)
            offset, index = end, index + 1
            f.seek(offset)
    return FileIndex(path, np.asarray(offsets, np.int64), np.asarray(lengths, np.int64), problem)


def num_global_steps(total: int, world: int, batch_size: int) -> int:
    """Steps per epoch of every rank: ``ceil(total / (world * batch_size))`` (0 for no records)."""
    return math.ceil(total / (world * batch_size)) if total > 0 else 0


def rank_step_ranges(total: int, world: int, batch_size: int, rank: int) -> List[Tuple[int, int]]:
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


def worker_ranges(ranges: Sequence[Tuple[int, int]], worker_id: int, num_workers: int) -> List[Tuple[int, int]]:
    """The steps of one loader worker: every ``num_workers``-th step of the rank, from ``worker_id``."""
    return list(ranges[worker_id::max(num_workers, 1)])


def locate(start: int, stop: int, counts: Sequence[int]) -> List[Tuple[int, int, int]]:
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
