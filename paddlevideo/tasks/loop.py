"""One training epoch: steps with optional AMP, a NaN/Inf guard, equal step counts across ranks,
throughput logs and the fault-injection knob used by the kill-and-resume test."""
from __future__ import annotations

import math
import os
import signal
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import paddle

from ..utils.logger import get_logger

if TYPE_CHECKING:
    from ..loader.datasets.protocol import VideoDataset

#: Test-only fault injection: ``PADDLEVIDEO_KILL_AT_STEP=N`` makes the training process send itself
#: SIGKILL right after global step ``N`` (1-based, counted over all epochs). The training path is the
#: same with or without it; it only decides when the process dies.
KILL_AT_STEP_ENV = "PADDLEVIDEO_KILL_AT_STEP"


class TrainingDiverged(RuntimeError):
    """The loss became NaN or Inf; the message names the epoch, step and the last good checkpoint.
    ``main.py`` exits with :attr:`exit_code` (:func:`paddlevideo.utils.cli.run_guarded`)."""

    exit_code = 3


@dataclass
class AmpSettings:
    """Automatic mixed precision for GPU training.

    Attributes:
        enabled: use ``paddle.amp.auto_cast`` with a dynamic loss scaler (GPU only; on CPU Paddle 3.3 has
            no half-precision kernels and ``auto_cast`` does nothing, so training stays float32).
        level: ``O1`` (white-listed ops in float16) or ``O2`` (almost everything in float16, with float32
            master weights through ``paddle.amp.decorate``).
        dtype: ``float16`` or ``bfloat16``.
    """

    enabled: bool = False
    level: str = "O1"
    dtype: str = "float16"


@dataclass
class EpochContext:
    """What every training epoch of a run uses, built once by the caller (:func:`train_one_epoch`).

    Attributes:
        net: the model, wrapped in ``paddle.DataParallel`` when ``world > 1``; ``net(batch, "train")``
            returns ``{"loss": scalar float32}``.
        loader: the training DataLoader (any iterable of batches, e.g. a list in tests).
        dataset: its dataset (:class:`~paddlevideo.loader.datasets.protocol.VideoDataset`, for reader
            error reports), or None when ``loader`` is a plain iterable.
        optimizer: the optimizer (``step``, ``clear_grad``, ``get_lr``).
        scheduler / iter_step: LR scheduler (or None), stepped after each step when ``iter_step``.
        epochs: the run's last epoch (for the log line and the ETA).
        num_steps: steps every rank must take per epoch (from the dataset's sharding); when this
            rank's loader runs out earlier, it repeats its last batch with loss weight 0 so the
            gradient all-reduce of the other ranks does not wait forever. None: as many as the loader gives.
        world: number of ranks (videos/s are logged for all ranks together, assuming equal batches).
        log_interval: log a line (loss, lr, videos/s, ETA) every ``log_interval`` steps (>= 1), and after
            the epoch's last step when no line was logged in the epoch.
        amp / scaler: mixed precision settings and the ``paddle.amp.GradScaler`` (None without AMP).
        on_log: called as ``on_log(global_step, {"loss": ..., "lr": ...})`` at every log line
            (VisualDL scalars, :class:`paddlevideo.utils.visualdl.ScalarWriter`).
        deadline: a ``time.perf_counter()`` value; when a step ends at or after it, the epoch ends there
            (the wall-time budget ``max_train_seconds``). None: no limit. Only honoured when ``num_steps``
            is None, since ranks that must take equal step counts cannot each stop on their own clock.
    """

    net: paddle.nn.Layer
    loader: Iterable[Any]
    dataset: VideoDataset | None
    optimizer: Any
    scheduler: Any = None
    iter_step: bool = False
    epochs: int = 1
    num_steps: int | None = None
    world: int = 1
    log_interval: int = 10
    amp: AmpSettings = field(default_factory=AmpSettings)
    scaler: Any | None = None
    on_log: Callable[[int, dict[str, float]], None] | None = None
    deadline: float | None = None


def iterate_batches(loader: Iterable[Any], dataset: VideoDataset | None = None) -> Iterator[Any]:
    """Iterate a DataLoader, raising the data error that ended one of the dataset's readers.

    Inside ``paddle.io.DataLoader`` a dataset of :mod:`paddlevideo.loader.datasets` does not raise: it
    records the error (file, record, byte offset) and ends its stream, because Paddle's loader thread
    drops exceptions and its workers rebuild them from their message alone (see
    :mod:`paddlevideo.loader.datasets.base`). This checks for a recorded error after every batch (one
    ``stat``) and at the end, raises it, and stops the loader's workers.

    Args:
        loader: the DataLoader (any iterable of batches).
        dataset: its dataset (:class:`~paddlevideo.loader.datasets.protocol.VideoDataset`), or None for a
            plain iterable; ``begin_pass()`` is called first (it raises errors in the index of the files
            here), ``recorded_error()`` is checked as described.

    Yields:
        The loader's batches.

    Raises:
        paddlevideo.loader.yt8m.DataError: the recorded error, with its type and attributes.
    """
    if dataset is not None:
        dataset.begin_pass()
    recorded = dataset.recorded_error if dataset is not None else (lambda: None)
    it = iter(loader)
    try:
        while True:
            try:
                batch = next(it)
            except StopIteration:
                err = recorded()
                if err is not None:
                    raise err from None
                return
            except Exception:
                err = recorded()
                if err is not None:
                    raise err from None
                raise
            err = recorded()
            if err is not None:
                raise err from None
            yield batch
    finally:
        # Stop the loader's worker processes now: a traceback keeps the iterator alive, and its workers
        # would otherwise block the interpreter's exit on their result queues.
        shutdown = getattr(it, "_try_shutdown_all", None)
        if shutdown is not None:
            shutdown()


def _hms(seconds: float) -> str:
    """``H:MM:SS`` of a duration in seconds."""
    s = int(round(max(seconds, 0.0)))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _check_finite(nonfinite: paddle.Tensor, value: float, epoch: int, step: int, global_step: int,
                  every: int, checkpoint_hint: str) -> None:
    """Raise :class:`TrainingDiverged` when the device flag says a loss since the last check was NaN/Inf."""
    if not bool(nonfinite.item()):
        return
    when = f"step {step}" if every == 1 else f"one of the {every} steps up to step {step}"
    raise TrainingDiverged(f"loss is {value if not math.isfinite(value) else 'NaN or Inf'} at epoch {epoch} {when} "
                           f"(global step {global_step + step}); training stopped, the last good checkpoint "
                           f"is kept ({checkpoint_hint}). Lower OPTIMIZER.learning_rate (or enable "
                           "OPTIMIZER.grad_clip) and run again with --resume.")


def train_one_epoch(ctx: EpochContext, epoch: int, global_step: int = 0, checkpoint_hint: str = "none saved yet",
                    eta_steps: int | None = None) -> dict[str, Any]:
    """Run one epoch of optimisation steps.

    Args:
        ctx: what stays the same from epoch to epoch (model, data, optimizer, ranks, AMP, logging).
        epoch: this epoch (1-based).
        global_step: steps done before this epoch (all epochs).
        checkpoint_hint: where the last good checkpoint is, for the divergence message.
        eta_steps: expected steps of an epoch when ``ctx.num_steps`` is None (e.g. the previous epoch's
            count); only used for the ETA in the log line. The ETA covers the rest of the run's epochs
            at this epoch's speed (validation time not included).

    Returns:
        ``{"global_step", "steps", "videos" (this rank), "seconds", "loss" (last finite loss),
        "last_batch" (this rank's last batch with data, or None), "timed_out" (the epoch ended at
        ``ctx.deadline`` before the loader was exhausted)}``.

    Raises:
        TrainingDiverged: the loss is NaN or Inf. On CPU it is checked every step before the optimizer
            step; on GPU every ``log_interval`` steps and at the end of the epoch, without a host sync in
            between.
        RuntimeError: the loader gave more batches than ``ctx.num_steps`` (the data changed during training).
    """
    net, optimizer, scheduler, scaler, amp = ctx.net, ctx.optimizer, ctx.scheduler, ctx.scaler, ctx.amp
    num_steps, epochs, world, on_log = ctx.num_steps, ctx.epochs, ctx.world, ctx.on_log
    log_interval = max(int(ctx.log_interval), 1)
    logger = get_logger()
    kill_at = int(os.environ.get(KILL_AT_STEP_ENV, "0") or 0)
    net.train()
    tic = time.perf_counter()
    videos, step, last_loss = 0, 0, float("nan")
    batches = iterate_batches(ctx.loader, ctx.dataset)
    last_batch = None
    # Reading the loss on the host costs nothing on CPU but stalls a GPU's queue, so there the NaN/Inf
    # flag stays on the device and is read every log_interval steps and at the end of the epoch
    # (always before a checkpoint is written).
    sync_every = 1 if paddle.get_device().startswith("cpu") else log_interval
    nonfinite, value = None, float("nan")
    logged = 0
    deadline = ctx.deadline if num_steps is None else None
    timed_out = False

    def log_step(step: int, value: float) -> None:
        elapsed = time.perf_counter() - tic
        planned = num_steps or eta_steps
        eta = ""
        if planned:
            left = max(planned - step, 0) + (epochs - epoch) * planned
            eta = f"  eta {_hms(left * elapsed / step)}"
        lr = optimizer.get_lr()
        logger.info(f"epoch {epoch}/{epochs} step {step}{'/' + str(num_steps) if num_steps else ''}  "
                    f"loss {value:.5f}  lr {lr:.3e}  "
                    f"{videos * world / max(elapsed, 1e-9):.1f} videos/s{eta}")
        if on_log is not None:
            on_log(global_step + step, {"loss": value, "lr": float(lr)})
    while num_steps is None or step < num_steps:
        batch = next(batches, None)
        weight = 1.0
        if batch is None:
            if num_steps is None or last_batch is None:
                break
            batch, weight = last_batch, 0.0  # filler step: no data left on this rank
        step += 1
        with paddle.amp.auto_cast(enable=amp.enabled, level=amp.level, dtype=amp.dtype):
            loss = net(batch, "train")["loss"]
        bad = paddle.logical_not(paddle.isfinite(loss))
        nonfinite = bad if nonfinite is None else paddle.logical_or(nonfinite, bad)
        if step % sync_every == 0 or step % log_interval == 0:
            value = float(loss.item())              # the one host sync of a step, when it is a check step
            _check_finite(nonfinite, value, epoch, step, global_step, sync_every, checkpoint_hint)
            nonfinite = None
        if weight != 1.0:
            loss = loss * weight
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()
        optimizer.clear_grad()
        if scheduler is not None and ctx.iter_step:
            scheduler.step()
        if weight:
            videos += int(batch["lengths"].shape[0])
            last_batch = batch
            if nonfinite is None:
                last_loss = value
        if kill_at and global_step + step == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        if step % log_interval == 0:
            log_step(step, value)
            logged = step
        if deadline is not None and time.perf_counter() >= deadline:
            timed_out = True
            break
    if nonfinite is not None:
        value = float(loss.item())
        _check_finite(nonfinite, value, epoch, step, global_step, sync_every, checkpoint_hint)
    if step and (not logged or (timed_out and logged != step)):
        log_step(step, value)   # log_interval exceeds this epoch's steps, or the time is up: a line for the end
    if timed_out:
        batches.close()         # stops the loader's workers (iterate_batches' finally)
    elif num_steps is not None and next(batches, None) is not None:
        raise RuntimeError(f"the training loader gave more than the {num_steps} batches planned for epoch "
                           f"{epoch}; did the data files change during training?")
    return {"global_step": global_step + step, "steps": step, "videos": videos,
            "seconds": time.perf_counter() - tic, "loss": last_loss, "last_batch": last_batch, "timed_out": timed_out}
