"""What the streaming YouTube-8M datasets share: the epoch split across ranks, steps and loader workers,
the shuffle buffer, length bucketing, the batch collate, and how errors and skipped records reach the
main process. A format only says which sources (files) an epoch reads, how many videos each holds, and
how to read a range of them.

Errors inside ``paddle.io.DataLoader``: Paddle 3.3's single-process loader reads the dataset in a thread
whose exceptions are lost (the loader then waits forever), and its worker processes re-raise an error
in the main process as ``type(e)(traceback text)``, which breaks errors whose constructor takes more
than a message. So inside a loader the dataset never lets an exception escape: it turns it into a
:class:`~paddlevideo.loader.yt8m.DataError` naming the file, record and byte offset, writes a JSON
description of it to a per-dataset report folder, and ends its stream; the main process finds it with
:meth:`ShardedVideoDataset.recorded_error` (:func:`paddlevideo.tasks.loop.iterate_batches` checks after
every batch). Iterated directly (no loader), the dataset raises the same error.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import weakref
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np
from paddle.io import IterableDataset, get_worker_info

from ...utils.dist import dist_rank_and_world
from ..pipelines import Compose, collate_frames
from ..yt8m.errors import (
    BadPklError,
    CorruptRecordError,
    DataError,
    DataReadError,
    describe_error,
    error_from_description,
)
from .bucketing import bucket_by_length
from .sharding import num_global_steps, rank_step_ranges, worker_ranges

_ERROR_FILE = "error.json"
#: Errors that ``skip_corrupt`` skips: damaged or malformed content of one record / video.
SKIPPABLE = (CorruptRecordError, BadPklError)


def in_loader() -> bool:
    """True when running inside a ``paddle.io.DataLoader``: in a worker process, or in the reading
    thread of the single-process loader (any thread but the main one)."""
    return get_worker_info() is not None or threading.current_thread() is not threading.main_thread()


def shuffle_buffered(records: Iterable[dict[str, Any]], size: int,
                     rng: np.random.Generator) -> Iterator[dict[str, Any]]:
    """Shuffle a stream through a buffer of ``size`` records (tf.data's ``shuffle(buffer_size)``).

    Args:
        records: the stream.
        size: records held at once (>= 1); memory is ``size`` records.
        rng: the generator deciding the order.

    Yields:
        Every record of ``records`` exactly once.
    """
    buffer: list[dict[str, Any]] = []
    for r in records:
        if len(buffer) < size:
            buffer.append(r)
            continue
        i = int(rng.integers(len(buffer)))
        buffer[i], r = r, buffer[i]
        yield r
    rng.shuffle(buffer)
    yield from buffer


class ShardedVideoDataset(IterableDataset):
    """Base of the streaming datasets: one epoch of videos split so that every video is read by
    exactly one reader (:mod:`.sharding`) and every rank takes the same number of steps.

    Subclasses implement :meth:`epoch_sources` (the sources of this epoch, in order, and the videos in
    each) and :meth:`read_ranges` (the pipeline outputs of the given global video ranges).

    Args:
        pipeline: pipeline step configs applied to every record.
        feature_names / feature_dims: frame features and their widths (bytes per frame).
        shuffle: shuffle sources per epoch and records in a buffer (training).
        shuffle_buffer: records held in the shuffle buffer.
        seed: base seed of the shuffling; the epoch order is seeded by ``(seed, epoch)``, the buffer by
            ``(seed, epoch, rank, worker)``, so an epoch's order is reproducible.
        bucket_window: length bucketing (:mod:`.bucketing`) over windows of this many batches; 0 = off.
        skip_corrupt: skip (and count, :meth:`pop_skipped`) records whose content is damaged
            (:data:`SKIPPABLE`) instead of raising. Unreadable files are never skipped.

    Every error while reading is a :class:`~paddlevideo.loader.yt8m.DataError` (see the module doc
    for how it leaves a DataLoader).

    Class attributes:
        extra_keys: batch keys beyond the frame features, ``lengths`` and ``labels`` that this format's
            records carry (e.g. ``label_weights`` float32 [C]); :meth:`collate` stacks them and refuses any
            other record key. None here.

    Implements :class:`~paddlevideo.loader.datasets.protocol.VideoDataset`, the contract the tasks use.

    Raises:
        ValueError: ``feature_names`` and ``feature_dims`` differ in length.
    """

    extra_keys: tuple[str, ...] = ()

    def __init__(self, pipeline: Sequence[Any] | None, feature_names: Sequence[str],
                 feature_dims: Sequence[int], shuffle: bool, shuffle_buffer: int, seed: int,
                 bucket_window: int, skip_corrupt: bool = False) -> None:
        super().__init__()
        self.pipeline = Compose(pipeline)
        self.feature_names = list(feature_names)
        self.feature_dims = [int(d) for d in feature_dims]
        if len(self.feature_names) != len(self.feature_dims):
            raise ValueError(f"feature_names {self.feature_names} and feature_dims {self.feature_dims} "
                             "must have the same length")
        self.shuffle = bool(shuffle)
        self.shuffle_buffer = max(int(shuffle_buffer), 1)
        self.seed = int(seed)
        self.bucket_window = int(bucket_window)
        self.epoch = 0
        self.batch_size = 1
        self.skip_corrupt = bool(skip_corrupt)
        self._report_dir = tempfile.mkdtemp(prefix="pv_data_")
        weakref.finalize(self, shutil.rmtree, self._report_dir, True)

    # ------------------------------------------------------------------ what a format provides

    def epoch_sources(self) -> tuple[list[Any], list[int]]:
        """``(sources, videos per source)`` of this epoch, in reading order."""
        raise NotImplementedError

    def read_ranges(self, sources: list[Any], counts: list[int],
                    ranges: Sequence[tuple[int, int]]) -> Iterator[dict[str, Any]]:
        """Pipeline outputs of the videos ``[start, stop)`` of each range, counted over ``sources``."""
        raise NotImplementedError

    def num_records(self) -> int:
        """Videos in all sources."""
        return sum(self.epoch_sources()[1])

    def source_name(self) -> str:
        """What the dataset reads (file pattern or list file), for errors that concern no single file."""
        return type(self).__name__

    def persistent_skips(self) -> list[DataError]:
        """Skipped problems found while indexing (they are reported again every epoch); none by default."""
        return []

    # ------------------------------------------------------------------ shared mechanics

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch that seeds this epoch's shuffling (call before iterating)."""
        self.epoch = int(epoch)

    def set_batch_size(self, batch_size: int) -> None:
        """Records per rank and step; must equal the DataLoader's batch size so that batches line up
        with the steps of :mod:`.sharding` (default 1).

        Raises:
            ValueError: for a batch size below 1.
        """
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = int(batch_size)

    def num_steps(self, world: int | None = None) -> int:
        """Batches per epoch of every rank: ``ceil(num_records / (world * batch_size))``."""
        world = dist_rank_and_world()[1] if world is None else int(world)
        return num_global_steps(self.num_records(), world, self.batch_size)

    def collate(self, records: list[dict[str, Any]]) -> dict[str, np.ndarray]:
        """Batch collate with this dataset's :attr:`extra_keys`, see
        :func:`paddlevideo.loader.pipelines.collate_frames`. Inside a loader an error is recorded
        (:meth:`recorded_error`) and ends the stream instead of escaping."""
        try:
            return collate_frames(records, self.extra_keys)
        except Exception as e:
            if not in_loader():
                raise
            self._record_error(self._as_data_error(e))
            raise StopIteration from None  # the loader's fetcher ends the stream cleanly on this

    # ------------------------------------------------------------------ errors and skipped records

    def _as_data_error(self, e: BaseException) -> DataError:
        """``e`` itself for a data error; else a DataReadError (readers add file and record themselves,
        so what reaches here concerns no single file)."""
        if isinstance(e, DataError):
            return e
        return DataReadError.from_exception(e, self.source_name())

    def _on_corrupt(self, e: DataError) -> None:
        """Skip (and count) ``e`` when ``skip_corrupt`` and it is :data:`SKIPPABLE`; else raise it."""
        if not (self.skip_corrupt and isinstance(e, SKIPPABLE)):
            raise e
        self._write(f"skipped.{os.getpid()}.jsonl", describe_error(e), mode="a")

    def _write(self, name: str, data: dict[str, Any], mode: str) -> None:
        if not os.path.isdir(self._report_dir):
            return
        with open(os.path.join(self._report_dir, name), mode, encoding="utf-8") as f:
            f.write(json.dumps(data) + "\n")

    def _record_error(self, e: DataError) -> None:
        """Leave ``e`` where :meth:`recorded_error` finds it (written whole, then renamed into place)."""
        if not os.path.isdir(self._report_dir):
            return
        tmp = os.path.join(self._report_dir, f".{_ERROR_FILE}.{os.getpid()}.{threading.get_ident()}")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(json.dumps(describe_error(e)))
        os.replace(tmp, os.path.join(self._report_dir, _ERROR_FILE))

    def recorded_error(self) -> DataError | None:
        """The error that ended a reader of this dataset (in a loader thread or worker process) since
        :meth:`begin_pass`, rebuilt with its type and attributes, or None. One ``stat`` when there is none."""
        path = os.path.join(self._report_dir, _ERROR_FILE)
        try:
            with open(path, encoding="utf-8") as f:
                return error_from_description(json.load(f))
        except FileNotFoundError:
            return None

    def clear_recorded_error(self) -> None:
        """Forget a recorded error."""
        try:
            os.remove(os.path.join(self._report_dir, _ERROR_FILE))
        except FileNotFoundError:
            pass

    def begin_pass(self) -> None:
        """Call in the main process before a DataLoader pass over the data: forgets an old recorded
        error and builds the sources' index here, so that an error in it (an unreadable or truncated
        file) is raised in the caller's thread, and loader workers inherit the index.

        Raises:
            DataError: a problem found while indexing (unless ``skip_corrupt`` skips it).
        """
        self.clear_recorded_error()
        try:
            self.epoch_sources()
        except DataError:
            raise
        except Exception as e:
            raise self._as_data_error(e) from None

    def pop_skipped(self) -> list[dict[str, Any]]:
        """The records skipped since the last call (all readers of this process and its loader workers),
        each ``{"path", "index", "offset", "reason", "message", "type"}`` (``offset`` None for pkl files),
        sorted by path and index; then forgets them. Problems found while indexing (the unframeable
        tail of a TFRecord, an unreadable pkl) are listed every epoch, on rank 0 only."""
        skipped: list[dict[str, Any]] = []
        if os.path.isdir(self._report_dir):
            for name in os.listdir(self._report_dir):
                if name.startswith("skipped."):
                    full = os.path.join(self._report_dir, name)
                    with open(full, encoding="utf-8") as f:
                        skipped.extend(json.loads(line) for line in f if line.strip())
                    os.remove(full)
        if self.skip_corrupt and dist_rank_and_world()[0] == 0:
            skipped.extend(describe_error(e) for e in self.persistent_skips())
        for d in skipped:
            d.pop("args", None)
        return sorted(skipped, key=lambda d: (d["path"] or "", -1 if d["index"] is None else d["index"]))

    # ------------------------------------------------------------------ iteration

    def __iter__(self) -> Iterator[dict[str, Any]]:
        try:
            yield from self._iter_records()
        except Exception as e:
            err = self._as_data_error(e)
            if not in_loader():
                raise err from (None if err is e else e)
            self._record_error(err)  # and end the stream: the main process raises it

    def _iter_records(self) -> Iterator[dict[str, Any]]:
        info = get_worker_info()
        worker_id, num_workers = (info.id, info.num_workers) if info is not None else (0, 1)
        rank, world = dist_rank_and_world()
        records = self.iter_shard(rank, world, worker_id, num_workers)
        if self.bucket_window > 0:
            rng = np.random.default_rng((self.seed, self.epoch, rank, worker_id, 1))
            records = bucket_by_length(records, self.batch_size, self.bucket_window, rng)
        yield from records

    def iter_shard(self, rank: int, world: int, worker_id: int = 0,
                   num_workers: int = 1) -> Iterator[dict[str, Any]]:
        """The records of one reader (loader worker ``worker_id`` of ``num_workers`` on ``rank`` of
        ``world``) in this epoch, through the pipeline and the shuffle buffer."""
        sources, counts = self.epoch_sources()
        ranges = worker_ranges(rank_step_ranges(sum(counts), world, self.batch_size, rank), worker_id, num_workers)
        records = self.read_ranges(sources, counts, ranges)
        if not self.shuffle:
            yield from records
            return
        yield from shuffle_buffered(records, self.shuffle_buffer,
                                    np.random.default_rng((self.seed, self.epoch, rank, worker_id)))

    def epoch_order(self, n: int) -> list[int]:
        """Source order of this epoch: ``0..n-1``, permuted by ``(seed, epoch)`` when shuffling."""
        if not self.shuffle:
            return list(range(n))
        return [int(i) for i in np.random.default_rng((self.seed, self.epoch)).permutation(n)]
