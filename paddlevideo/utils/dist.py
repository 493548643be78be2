"""Process-group set-up for ``paddle.distributed.launch`` (one process per device) and the few
collectives training needs, each a no-op in a plain one-process run."""
from __future__ import annotations

import os
from typing import Any

import paddle
import paddle.distributed as dist

from .quiet import banner_filter


def dist_rank_and_world() -> tuple[int, int]:
    """(rank, world size) of this process from the launcher's environment (``paddle.distributed.launch``
    sets ``PADDLE_TRAINER_ID`` / ``PADDLE_TRAINERS_NUM``); (0, 1) without a launcher."""
    rank = int(os.environ.get("PADDLE_TRAINER_ID", os.environ.get("PADDLE_GLOBAL_RANK", "0")))
    world = int(os.environ.get("PADDLE_TRAINERS_NUM", os.environ.get("PADDLE_GLOBAL_SIZE", "1")))
    return rank, max(world, 1)


def init_distributed() -> tuple[int, int]:
    """Initialise the parallel environment when launched with more than one process.

    On a CPU build the launcher selects the gloo backend; on GPUs NCCL
    (docs/paddle3_notes.md#data-parallel-with-launch-on-cpu).

    Returns:
        (rank, world size); (0, 1) for a plain ``python main.py`` run, where no collective is set up
        (collectives then raise in Paddle, so the helpers below return early when ``world == 1``).
    """
    rank, world = dist_rank_and_world()
    if world > 1:
        if not dist.is_initialized():
            with banner_filter():       # Paddle's "Modified FLAGS detected" lines (paddlevideo.utils.quiet)
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


def rank() -> int:
    """This process's rank (0 without a launcher)."""
    return dist_rank_and_world()[0]


def all_gather_objects(obj: Any) -> list[Any]:
    """Every rank's ``obj`` (picklable), in rank order, on every rank; ``[obj]`` in a one-process run.

    Source: ``paddle.distributed.all_gather_object`` (pickles through the process group).
    """
    if world_size() == 1:
        return [obj]
    out: list[Any] = []
    dist.all_gather_object(out, obj)
    return out


def barrier() -> None:
    """Wait for all ranks (no-op in a one-process run)."""
    if world_size() > 1:
        dist.barrier()
