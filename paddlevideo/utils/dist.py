"""Process-group set-up for ``paddle.distributed.launch`` (one process per device) and plain runs."""
from __future__ import annotations

from typing import Tuple

import paddle
import paddle.distributed as dist

from ..loader.datasets.sharding import dist_rank_and_world


def init_distributed() -> Tuple[int, int]:
    """Initialise the parallel environment when launched with more than one process.

    Returns:
        (rank, world size); (0, 1) for a plain ``python main.py`` run, where no collective is set up
        (collectives then raise in Paddle, so callers guard them with ``world > 1``).
    """
    rank, world = dist_rank_and_world()
    if world > 1:
        dist.init_parallel_env()
        rank, world = dist.get_rank(), dist.get_world_size()
    return rank, world


def set_device(device: str = "auto") -> str:
    """Select ``cpu`` or ``gpu`` (``auto``: gpu when Paddle is compiled with CUDA).

    Raises:
        ValueError: if ``gpu`` is asked for on a CPU-only Paddle build.
    """
    if device == "auto":
        device = "gpu" if paddle.is_compiled_with_cuda() else "cpu"
    if device.startswith("gpu") and not paddle.is_compiled_with_cuda():
        raise ValueError("--device gpu needs a CUDA build of PaddlePaddle; this one is CPU-only")
    if device.startswith("gpu") and world_size() > 1:
        device = f"gpu:{paddle.distributed.ParallelEnv().device_id}"
    paddle.set_device(device)
    return device


def world_size() -> int:
    """Number of training processes (1 without a launcher)."""
    return dist_rank_and_world()[1]
