"""Which part of a list of files (or records) one reader reads: split across ranks and loader workers."""
from __future__ import annotations

import os
from typing import Tuple


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
