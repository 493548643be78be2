"""Streaming dataset over YouTube-8M TFRecord shards."""
from __future__ import annotations

import glob
import os
from typing import Any, Dict, Iterator, List, Optional, Sequence, Union

import numpy as np
from paddle.io import IterableDataset, get_worker_info

from ...utils.logger import get_logger
from ..pipelines import Compose, collate_frames
from ..registry import DATASETS
from ..yt8m import CorruptRecordError, read_tfrecord
from .bucketing import bucket_by_length
from .sharding import dist_rank_and_world, reader_shard


def expand_file_pattern(file_pattern: Union[str, Sequence[str]]) -> List[str]:
    """Sorted list of files matching a glob (or a list of globs / paths); ``~`` is expanded.

    Raises:
        FileNotFoundError: if nothing matches, naming the pattern.
    """
    patterns = [file_pattern] if isinstance(file_pattern, str) else list(file_pattern)
    files: List[str] = []
    for p in patterns:
        files.extend(sorted(glob.glob(os.path.expanduser(p))))
    if not files:
        raise FileNotFoundError(f"no file matches {file_pattern!r} (working directory {os.getcwd()})")
    return files


@DATASETS.register()
class YouTube8MTFRecordDataset(IterableDataset):
    """YouTube-8M frame-level TFRecords, streamed record by record through a pipeline.

    Files are split across ranks and loader workers so that each record is read by exactly one reader
    per epoch: whole files when there are at least as many files as readers, otherwise every reader reads
    every file and keeps one record in ``num_readers``. In training the file order is shuffled per epoch
    and records pass through a bounded shuffle buffer.

    Args:
        file_pattern: glob (or list of globs) of ``.tfrecord`` shards.
        pipeline: list of pipeline step configs, applied to every record (set from ``PIPELINE.<mode>``).
        feature_names / feature_dims: frame features to read and their widths.
        id_key: context key of the video id; None auto-detects ``id`` (2018) or ``video_id`` (2017).
        shuffle: shuffle files per epoch and records in a buffer (training).
        shuffle_buffer: records held in the shuffle buffer.
        seed: base seed of the shuffling (combined with the epoch).
        bucket_window: length bucketing (see :mod:`.bucketing`): batches per sorting window, 0 = off.
        bucket_batch_size: the loader's batch size, required when ``bucket_window > 0``.

    Yields pipeline outputs (record dicts); :meth:`collate` turns a list of them into a batch.

    Raises:
        FileNotFoundError: if the pattern matches no file.
        CorruptRecordError: on a corrupt record (file, record index, byte offset and the reason).
        ValueError: if a pipeline step rejects a record (re-raised naming file and record).
    """

    def __init__(self, file_pattern: Union[str, Sequence[str]], pipeline: Optional[Sequence[Any]] = None,
                 feature_names: Sequence[str] = ("rgb", "audio"), feature_dims: Sequence[int] = (1024, 128),
                 id_key: Optional[str] = None, shuffle: bool = False, shuffle_buffer: int = 1024,
                 seed: int = 0, bucket_window: int = 0, bucket_batch_size: Optional[int] = None) -> None:
        super().__init__()
        if int(bucket_window) > 0 and not bucket_batch_size:
            raise ValueError("bucket_window > 0 needs bucket_batch_size (set it to DATASET.batch_size)")
        self.bucket_window, self.bucket_batch_size = int(bucket_window), bucket_batch_size
        self.files = expand_file_pattern(file_pattern)
        self.pipeline = Compose(pipeline)
        self.feature_names = list(feature_names)
        self.feature_dims = list(feature_dims)
        self.id_key = id_key
        self.shuffle = shuffle
        self.shuffle_buffer = max(int(shuffle_buffer), 1)
        self.seed = int(seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch that seeds this epoch's shuffling (call before iterating)."""
        self.epoch = int(epoch)

    @staticmethod
    def collate(records: List[Dict[str, Any]]) -> Dict[str, np.ndarray]:
        """Batch collate, see :func:`paddlevideo.loader.pipelines.collate_frames`."""
        return collate_frames(records)

    def _shard(self):
        info = get_worker_info()
        worker_id, num_workers = (info.id, info.num_workers) if info is not None else (0, 1)
        rank, world = dist_rank_and_world()
        return reader_shard(rank, world, worker_id, num_workers)

    def _records(self, shard: int, num_shards: int) -> Iterator[Dict[str, Any]]:
        files = list(self.files)
        if self.shuffle:
            np.random.default_rng((self.seed, self.epoch)).shuffle(files)
        by_file = len(files) >= num_shards
        for path in (files[shard::num_shards] if by_file else files):
            for index, record in enumerate(read_tfrecord(path, "frame", self.id_key,
                                                          self.feature_names, self.feature_dims)):
                if not by_file and index % num_shards != shard:
                    continue
                try:
                    yield self.pipeline(record)
                except (ValueError, KeyError) as e:
                    raise ValueError(f"{path}: record {index} (id {record.get('id')!r}): {e}") from None

    def __iter__(self) -> Iterator[Dict[str, Any]]:
        if self.bucket_window <= 0:
            return self._unbucketed()
        rng = np.random.default_rng((self.seed, self.epoch, *self._shard(), 1))
        return bucket_by_length(self._unbucketed(), int(self.bucket_batch_size), self.bucket_window, rng)

    def _unbucketed(self) -> Iterator[Dict[str, Any]]:
        shard, num_shards = self._shard()
        records = self._records(shard, num_shards)
        if not self.shuffle:
            yield from records
            return
        rng = np.random.default_rng((self.seed, self.epoch, shard))
        buffer: List[Dict[str, Any]] = []
        for r in records:
            if len(buffer) < self.shuffle_buffer:
                buffer.append(r)
                continue
            i = int(rng.integers(len(buffer)))
            buffer[i], r = r, buffer[i]
            yield r
        rng.shuffle(buffer)
        yield from buffer
