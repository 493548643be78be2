"""Streaming dataset over PaddleVideo's YouTube-8M pkl files, named by a list file."""
from __future__ import annotations

import os
from typing import Any, Dict, Iterator, List, Optional, Sequence

import numpy as np
from paddle.io import IterableDataset, get_worker_info

from ..pipelines import Compose, collate_frames
from ..registry import DATASETS
from ..yt8m import read_pkl
from .sharding import dist_rank_and_world, reader_shard


def read_list_file(file_path: str, data_prefix: Optional[str] = None) -> List[str]:
    """Paths of the pkl files a PaddleVideo list file names.

    Each non-blank line's first whitespace-separated token is a path; relative paths are joined
    to ``data_prefix`` (PaddleVideo's ``FeatureDataset`` rule, YT8M.md §2.3). With
    ``data_prefix=None`` they are relative to the list file's own directory, which is where
    PaddleVideo keeps its lists (``data/yt8m/train.list`` with ``data_prefix: data/yt8m``) and
    where ``data/yt8m/tf2pkl.py`` writes them.

    Args:
        file_path: the list file (``~`` is expanded).
        data_prefix: directory the listed paths are relative to, or None (see above).

    Returns:
        The paths, in list order.

    Raises:
        FileNotFoundError: the list file is missing, or listed files are missing (the message
            names the list file, the line numbers and up to five missing paths).
        ValueError: the list names no file.
    """
    list_path = os.path.expanduser(file_path)
    if not os.path.isfile(list_path):
        raise FileNotFoundError(f"list file {file_path!r} not found (working directory {os.getcwd()})")
    prefix = os.path.dirname(list_path) if data_prefix is None else os.path.expanduser(data_prefix)
    paths, missing = [], []
    with open(list_path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            tokens = line.split()
            if not tokens:
                continue
            path = os.path.join(prefix, tokens[0])
            paths.append(path)
            if not os.path.isfile(path):
                missing.append(f"line {number}: {path}")
    if missing:
        shown = "; ".join(missing[:5]) + (f"; ... ({len(missing)} in all)" if len(missing) > 5 else "")
        raise FileNotFoundError(f"{file_path}: listed files not found (data_prefix {prefix!r}): {shown}")
    if not paths:
        raise ValueError(f"list file {file_path!r} names no file")
    return paths


@DATASETS.register()
class YouTube8MPklDataset(IterableDataset):
    """YouTube-8M frame-level videos in PaddleVideo's pkl format, streamed through a pipeline.

    Reads the files named by a PaddleVideo list file (split files holding one dict, or whole-file
    pkls holding a list of dicts) with :func:`paddlevideo.loader.yt8m.read_pkl`, which yields the
    same record dicts as the TFRecord reader; pipeline and collate are shared with
    :class:`YouTube8MTFRecordDataset`. Files are split across ranks and loader workers so that
    every video is read by exactly one reader per epoch: whole files when there are at least as
    many files as readers, otherwise every reader reads every file and keeps every
    ``num_readers``-th video (counted over all files). In training the file order is shuffled per
    epoch and videos pass through a bounded shuffle buffer.

    Args:
        file_path: list file of pkl paths (see :func:`read_list_file`).
        data_prefix: directory the listed paths are relative to; None: the list file's directory.
        pipeline: pipeline step configs applied to every record (set from ``PIPELINE.<mode>``).
        feature_names / feature_dims: features to read (``rgb`` and/or ``audio``) and widths.
        shuffle: shuffle files per epoch and records in a buffer (training).
        shuffle_buffer: records held in the shuffle buffer.
        seed: base seed of the shuffling (combined with the epoch and the reader's shard).

    Yields pipeline outputs (record dicts); :meth:`collate` turns a list of them into a batch
    ``{"rgb": uint8[B, Tmax, 1024], "audio": uint8[B, Tmax, 128], "lengths": int64[B],
    "labels": float32[B, C]}``.

    Raises:
        FileNotFoundError: the list file or a listed file is missing (at construction).
        ValueError: the list is empty or a pipeline step rejects a record (naming file and video).
        UnsafePickleError / BadPklError: a pkl references a forbidden global or is malformed.

    Source: PaddleVideo ``FeatureDataset`` (list file + ``data_prefix``), YT8M.md §2.3.
    """

    def __init__(self, file_path: str, data_prefix: Optional[str] = None,
                 pipeline: Optional[Sequence[Any]] = None,
                 feature_names: Sequence[str] = ("rgb", "audio"), feature_dims: Sequence[int] = (1024, 128),
                 shuffle: bool = False, shuffle_buffer: int = 1024, seed: int = 0) -> None:
        super().__init__()
        self.files = read_list_file(file_path, data_prefix)
        self.pipeline = Compose(pipeline)
        self.feature_names = list(feature_names)
        self.feature_dims = list(feature_dims)
        self.shuffle = bool(shuffle)
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
        seen = 0
        for path in (files[shard::num_shards] if by_file else files):
            for index, record in enumerate(read_pkl(path, self.feature_names, self.feature_dims)):
                seen += 1
                if not by_file and (seen - 1) % num_shards != shard:
                    continue
                try:
                    yield self.pipeline(record)
                except (ValueError, KeyError) as e:
                    raise ValueError(f"{path}: video {index} (id {record.get('id')!r}): {e}") from None

    def __iter__(self) -> Iterator[Dict[str, Any]]:
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
