"""What the streaming YouTube-8M datasets share: the epoch split across ranks, steps and loader workers,
the shuffle buffer, length bucketing and the batch collate. A format only says which sources (files) an
epoch reads, how many videos each holds, and how to read a range of them."""
from __future__ import annotations

from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy as np
from paddle.io import IterableDataset, get_worker_info

from ..pipelines import Compose, collate_frames
from .bucketing import bucket_by_length
from .sharding import dist_rank_and_world, num_global_steps, rank_step_ranges, worker_ranges


def shuffle_buffered(records: Iterable[Dict[str, Any]], size: int,
                     rng: np.random.Generator) -> Iterator[Dict[str, Any]]:
    """Shuffle a stream through a buffer of ``size`` records (tf.data's ``shuffle(buffer_size)``).

    Args:
        records: the stream.
        size: records held at once (>= 1); memory is ``size`` records.
        rng: the generator deciding the order.

    Yields:
        Every record of ``records`` exactly once.
    """
    buffer: List[Dict[str, Any]] = []
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

    Raises:
        ValueError: ``feature_names`` and ``feature_dims`` differ in length.
    """

    def __init__(self, pipeline: Optional[Sequence[Any]], feature_names: Sequence[str],
                 feature_dims: Sequence[int], shuffle: bool, shuffle_buffer: int, seed: int,
                 bucket_window: int) -> None:
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

    # ------------------------------------------------------------------ what a format provides

    def epoch_sources(self) -> Tuple[List[Any], List[int]]:
        """``(sources, videos per source)`` of this epoch, in reading order."""
        raise NotImplementedError

    def read_ranges(self, sources: List[Any], counts: List[int],
                    ranges: Sequence[Tuple[int, int]]) -> Iterator[Dict[str, Any]]:
        """Pipeline outputs of the videos ``[start, stop)`` of each range, counted over ``sources``."""
        raise NotImplementedError

    def num_records(self) -> int:
        """Videos in all sources."""
        return sum(self.epoch_sources()[1])

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

    def num_steps(self, world: Optional[int] = None) -> int:
        """Batches per epoch of every rank: ``ceil(num_records / (world * batch_size))``."""
        world = dist_rank_and_world()[1] if world is None else int(world)
        return num_global_steps(self.num_records(), world, self.batch_size)

    @staticmethod
    def collate(records: List[Dict[str, Any]]) -> Dict[str, np.ndarray]:
        """Batch collate, see :func:`paddlevideo.loader.pipelines.collate_frames`."""
        return collate_frames(records)

    def __iter__(self) -> Iterator[Dict[str, Any]]:
        info = get_worker_info()
        worker_id, num_workers = (info.id, info.num_workers) if info is not None else (0, 1)
        rank, world = dist_rank_and_world()
        records = self.iter_shard(rank, world, worker_id, num_workers)
        if self.bucket_window > 0:
            rng = np.random.default_rng((self.seed, self.epoch, rank, worker_id, 1))
            records = bucket_by_length(records, self.batch_size, self.bucket_window, rng)
        yield from records

    def iter_shard(self, rank: int, world: int, worker_id: int = 0,
                   num_workers: int = 1) -> Iterator[Dict[str, Any]]:
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

    def epoch_order(self, n: int) -> List[int]:
        """Source order of this epoch: ``0..n-1``, permuted by ``(seed, epoch)`` when shuffling."""
        if not self.shuffle:
            return list(range(n))
        return [int(i) for i in np.random.default_rng((self.seed, self.epoch)).permutation(n)]
