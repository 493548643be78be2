"""The training run: set-up (data, model, optimizer, data parallel, AMP, resume), epochs, checkpoints,
validation and the best model. One epoch's steps are in :mod:`.loop`, checkpoints in :mod:`.checkpointing`."""
from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import paddle

from ..loader.builder import build_dataloader, build_dataset
from ..loader.datasets.protocol import VideoDataset
from ..metrics.base import BestRule
from ..metrics.group import MetricGroup
from ..modeling import build_model
from ..modeling.size import model_size
from ..solver import build_optimizer
from ..utils.atomic import atomic_write
from ..utils.checkpoint import load_weights, save_atomic
from ..utils.dist import all_gather_objects, barrier, init_distributed
from ..utils.logger import get_logger
from ..utils.visualdl import VDL_SUBDIR, ScalarWriter
from .checkpointing import (
    check_finite,
    checkpoint_prefix,
    latest_epoch,
    output_dir_of,
    resume_training,
    save_training_checkpoint,
)
from .evaluate import build_metric, evaluate
from .loop import AmpSettings, EpochContext, TrainingDiverged, train_one_epoch

__all__ = ["TrainingDiverged", "AmpSettings", "seed_everything", "checkpoint_prefix", "output_dir_of",
           "write_json", "format_metrics", "best_from_counters", "train_model", "test_model"]


def seed_everything(seed: int) -> None:
    """Seed Python's, numpy's and Paddle's generators."""
    random.seed(seed)
    np.random.seed(seed)
    paddle.seed(seed)


def write_json(data: dict[str, Any], path: str) -> None:
    """Write ``data`` as indented JSON, atomically (:func:`paddlevideo.utils.atomic.atomic_write`)."""
    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, sort_keys=True)

    atomic_write(path, write)


def format_metrics(m: Mapping[str, float], metric: MetricGroup) -> str:
    """One line of the keys ``metric`` declares, then the count and the loss, e.g. for YouTube8MMetric
    ``Hit@1 0.9100  PERR 0.8500  GAP 0.9000  mAP 0.8000  (N videos, loss L)``
    (:meth:`~paddlevideo.metrics.group.MetricGroup.format_line`;
    :mod:`paddlevideo.visualization.training_log` parses it)."""
    return f"{metric.format_line(m)}  ({int(m['num_videos'])} videos, loss {m['loss']:.4f})"


def best_from_counters(recorded: Mapping[str, Any] | None, rule: BestRule) -> dict[str, Any]:
    """The best-checkpoint record ``{"key", "mode", "value", "epoch"}`` to continue with under ``rule``.

    Args:
        recorded: ``counters["best"]`` of a ``.pdstate``: this format, the format before declared metric
            keys (``{"gap": float, "epoch": int or None}``, GAP by max, -1.0 meaning none), or None.
        rule: the config's :class:`~paddlevideo.metrics.base.BestRule`.

    Returns:
        the recorded best when it was kept by the same key and mode, else an empty record (value and
        epoch None): a best by another rule does not compare (the caller logs that it restarts).
    """
    empty = {"key": rule.key, "mode": rule.mode, "value": None, "epoch": None}
    if not recorded:
        return empty
    if "key" not in recorded:          # written before metrics declared their keys: GAP, max
        old_epoch = recorded.get("epoch")
        recorded = {"key": "gap", "mode": "max", "epoch": old_epoch,
                    "value": None if old_epoch is None else recorded.get("gap")}
    if recorded["key"] != rule.key or recorded["mode"] != rule.mode:
        return empty
    return {**empty, "value": recorded.get("value"), "epoch": recorded.get("epoch")}


def _report_skipped(dataset: VideoDataset, epoch: int, out_dir: str, rank: int, split: str) -> int:
    """Gather the records every rank skipped this epoch; rank 0 logs them and writes
    ``skipped_<split>_epoch_<NNNNN>.json``. Returns the total."""
    skipped: list[dict[str, Any]] = [d for part in all_gather_objects(dataset.pop_skipped()) for d in part]
    if skipped and rank == 0:
        first = "; ".join(f"{d['path']}: record {d['index']}"
                          + (f" at byte {d['offset']}" if d.get("offset") is not None else "")
                          + f": {d['reason']}" for d in skipped[:3])
        get_logger().warning(f"epoch {epoch}: skipped {len(skipped)} corrupt {split} record(s) "
                             f"(DATASET.{split}.skip_corrupt): {first}{' ...' if len(skipped) > 3 else ''}")
        write_json({"epoch": epoch, "skipped": skipped},
                   os.path.join(out_dir, f"skipped_{split}_epoch_{epoch:05d}.json"))
    return len(skipped)


def _amp_settings(amp: bool, amp_level: str) -> AmpSettings:
    """AMP on GPU; on CPU a logged no-op.

    Paddle 3.3 has no CPU half-precision kernels (docs/paddle3_notes.md#amp-on-cpu).
    """
    if amp_level not in ("O1", "O2"):
        raise ValueError(f"--amp_level must be O1 or O2, got {amp_level!r}")
    if amp and not paddle.get_device().startswith("gpu"):
        get_logger().warning("--amp has no effect on CPU (Paddle has no CPU float16/bfloat16 kernels); "
                             "training in float32")
        amp = False
    return AmpSettings(enabled=amp, level=amp_level)


def train_model(cfg: Mapping[str, Any], validate: bool = False, weights: str | None = None,
                resume: bool = False, amp: bool = False, amp_level: str = "O1",
                use_visualdl: bool = False, max_train_seconds: float | None = None) -> dict[str, Any]:
    """Train the model of ``cfg`` and return a summary: ``best`` (``{"key", "mode", "value", "epoch"}`` of
    the best checkpoint), ``best_epoch``, ``last_metrics``
    (of the last validation, gathered over all ranks), ``train_seconds`` (wall time of the epoch loop),
    ``step_seconds`` (of the training steps alone, without validation and checkpoints), ``videos`` (trained
    on, all ranks; a filler step of a rank without data left counts none), ``epochs_done``,
    ``stopped_by_time``, ``global_step`` and the trained ``model`` (this rank's copy, identical on all ranks).

    Under ``python -m paddle.distributed.launch`` this is data-parallel: one process per device,
    ``paddle.DataParallel`` averages the gradients, ``DATASET.batch_size`` is per device, each rank
    reads its own share of the records (exactly once per epoch), and rank 0 alone logs and writes files.

    Args:
        cfg: the full config (see ``configs/``).
        validate: evaluate on ``DATASET.valid`` after every epoch, write
            ``<output_dir>/metrics_epoch_<NNNNN>.json`` and keep ``<model_name>_best.pdparams`` (with
            ``metrics_best.json``) by the ``METRIC.save_best`` key and ``mode`` (default: the first metric's
            default key, e.g. GAP by max), stated once in ``train.log``.
        weights: optional ``.pdparams`` to start from (ignored when resuming).
        resume: continue from the last complete checkpoint in the output dir (a fresh start when there
            is none); ``cfg["resume_epoch"]`` picks a given epoch instead.
        amp / amp_level: mixed precision on GPU (``O1`` or ``O2``); a logged no-op on CPU.
        use_visualdl: also write loss, lr and the validation metrics as VisualDL scalars to
            ``<output_dir>/vdl`` (or set ``use_visualdl: true`` in the config); a warning and no-op when
            VisualDL is not installed (:mod:`paddlevideo.utils.visualdl`).
        max_train_seconds: a wall-time budget (seconds) for the training steps, validation and checkpoints not
            counted (or ``max_train_seconds`` in the config; the argument wins). When it is used up the epoch
            ends after the current step, is validated and saved as usual (as that epoch), and training stops.
            In a one-process run the epoch stops mid-way; with several ranks, which must take equal step
            counts, the budget is checked after each epoch (rank 0's clock decides for all).

    Checkpoints ``<model_name>_epoch_<NNNNN>.pdparams`` / ``.pdopt`` / ``.pdstate`` are written every
    ``save_interval`` epochs and after the last one (see :mod:`.checkpointing`), and only when the
    parameters, the loss of the epoch's last batch and the validation results are finite
    (:func:`.checkpointing.check_finite`). On resume, a changed ``OPTIMIZER`` section takes effect
    and is logged (:func:`.checkpointing.resume_training`).

    Raises:
        TrainingDiverged: if the loss, the parameters or the validation results become NaN or Inf
            (nothing is saved after the last good checkpoint, which the message names).
        CheckpointError: a checkpoint to resume from is missing, truncated or does not fit.
        ConfigError / ValueError / KeyError: invalid config sections.
        CorruptRecordError: a corrupt record in the data (file, record index, offset), unless
            ``DATASET.<split>.skip_corrupt``.
    """
    logger = get_logger()
    rank, world = init_distributed()
    epochs = int(cfg.get("epochs", 1))
    log_interval = max(int(cfg.get("log_interval", 10)), 1)
    save_interval = max(int(cfg.get("save_interval", 1)), 1)
    out_dir = output_dir_of(cfg)
    data_cfg = cfg["DATASET"]
    batch_size = int(data_cfg.get("batch_size", 16))
    num_workers = int(data_cfg.get("num_workers", 0))
    amp_cfg = _amp_settings(amp, amp_level)
    budget = max_train_seconds if max_train_seconds is not None else cfg.get("max_train_seconds")
    budget = None if budget is None else float(budget)
    if budget is not None and not budget > 0:
        raise ValueError(f"max_train_seconds must be > 0, got {budget}")

    model = build_model(cfg["MODEL"])
    logger.info(f"model size: {model_size(model).describe()}")
    num_classes = int(model.head.num_classes)
    train_set = build_dataset(cfg, "train")
    train_set.set_batch_size(batch_size)
    train_loader = build_dataloader(train_set, batch_size, num_workers)
    num_steps = train_set.num_steps(world) if world > 1 else None
    if validate:
        valid_set = build_dataset(cfg, "valid")
        valid_bs = int(data_cfg.get("valid_batch_size", batch_size))
        valid_set.set_batch_size(valid_bs)
        valid_loader = build_dataloader(valid_set, valid_bs, num_workers)
        metric = build_metric(cfg, num_classes)
    optimizer, scheduler, iter_step = build_optimizer(cfg["OPTIMIZER"], model.parameters())
    scaler = None
    if amp_cfg.enabled:
        if amp_cfg.level == "O2":
            model, optimizer = paddle.amp.decorate(models=model, optimizers=optimizer, level="O2")
        scaler = paddle.amp.GradScaler()

    rule = metric.rule if validate else None
    counters: dict[str, Any] = {"global_step": 0, "best": None}
    start_epoch = 1
    last_saved: str | None = None  # the .pdparams of the last checkpoint written or resumed from
    resume_epoch = cfg.get("resume_epoch")
    if resume_epoch is None and resume:
        resume_epoch = latest_epoch(cfg)
        if resume_epoch is None:
            logger.info(f"--resume: no complete checkpoint in {out_dir}; starting from epoch 1")
    if resume_epoch is not None:
        resume_epoch = int(resume_epoch)
        counters = resume_training(cfg, resume_epoch, model, optimizer, scaler, scheduler, iter_step)
        start_epoch = resume_epoch + 1
        last_saved = checkpoint_prefix(cfg, resume_epoch) + ".pdparams"
        logger.info(f"resumed from {checkpoint_prefix(cfg, resume_epoch)} (epoch {resume_epoch}, "
                    f"global step {counters['global_step']}, lr {optimizer.get_lr():.3e})")
    elif weights:
        load_weights(model, weights)
    net = paddle.DataParallel(model) if world > 1 else model
    logger.info(f"{world} process(es) x batch {batch_size} = {world * batch_size} videos per step"
                + (f", {num_steps} steps per epoch" if num_steps else ""))

    best = counters.get("best")
    if rule is not None:
        kept = best_from_counters(best, rule)
        if best and kept["epoch"] is None and (best.get("epoch") is not None):
            logger.warning(f"the best checkpoint so far was chosen by another rule than {rule.describe()}; the next "
                           f"validation replaces {checkpoint_prefix(cfg)}.pdparams")
        best = kept
        logger.info(f"[valid] metrics: {metric.describe()}")
    last_metrics: dict[str, float] = {}
    vdl = ScalarWriter(os.path.join(out_dir, VDL_SUBDIR), bool(use_visualdl or cfg.get("use_visualdl", False)), rank)
    eta_steps = num_steps
    ctx = EpochContext(net, train_loader, train_set, optimizer, scheduler, iter_step, epochs, num_steps, world,
                       log_interval, amp_cfg, scaler, on_log=lambda step, v: vdl.add_scalars("train", v, step))
    start = time.perf_counter()
    step_seconds, time_up, epochs_done, videos_done = 0.0, False, 0, 0
    if budget is not None:
        logger.info(f"training time budget: {budget:g} s of training steps (max_train_seconds)")
    for epoch in range(start_epoch, epochs + 1):
        train_set.set_epoch(epoch)
        last_good = last_saved or "none saved yet"
        ctx.deadline = time.perf_counter() + (budget - step_seconds) if budget is not None and world == 1 else None
        stats = train_one_epoch(ctx, epoch, counters["global_step"], last_good, eta_steps)
        epochs_done += 1
        videos_done += stats["videos"] * world
        step_seconds += stats["seconds"]
        if budget is not None:
            time_up = bool(all_gather_objects(bool(stats.get("timed_out")) or step_seconds >= budget)[0])
        eta_steps = eta_steps or stats["steps"]
        counters["global_step"] = stats["global_step"]
        if scheduler is not None and not iter_step:
            scheduler.step()
        logger.info(f"epoch {epoch} done: {stats['steps']} steps, {stats['videos'] * world} videos in "
                    f"{stats['seconds']:.1f}s ({stats['videos'] * world / max(stats['seconds'], 1e-9):.1f} videos/s)")
        _report_skipped(train_set, epoch, out_dir, rank, "train")
        check_finite(model, epoch, last_saved, batch=stats.get("last_batch"), amp=amp_cfg)
        if validate:
            last_metrics = evaluate(model, valid_loader, metric, "valid", valid_set)
            _report_skipped(valid_set, epoch, out_dir, rank, "valid")
            logger.info(f"[valid] epoch {epoch}: {format_metrics(last_metrics, metric)}")
            check_finite(model, epoch, last_saved, metrics=last_metrics)
            vdl.add_scalars("valid", last_metrics, epoch)
            if rank == 0:
                write_json({"epoch": epoch, **last_metrics}, os.path.join(out_dir, f"metrics_epoch_{epoch:05d}.json"))
            if rule.better(last_metrics[rule.key], best["value"]):
                best = {**best, "value": last_metrics[rule.key], "epoch": epoch}
                if rank == 0:
                    save_atomic(model.state_dict(), checkpoint_prefix(cfg) + ".pdparams")
                    write_json({"epoch": epoch, **last_metrics}, os.path.join(out_dir, "metrics_best.json"))
        counters["best"] = best
        last = epoch == epochs or time_up
        if rank == 0 and (epoch % save_interval == 0 or last):
            save_training_checkpoint(cfg, epoch, model, optimizer, counters, scaler)
        if epoch % save_interval == 0 or last:
            last_saved = checkpoint_prefix(cfg, epoch) + ".pdparams"
        barrier()
        if time_up:
            logger.info(f"training time budget of {budget:g} s used up ({step_seconds:.1f} s of training steps) "
                        f"in epoch {epoch}{' (stopped mid-epoch)' if stats.get('timed_out') else ''}, "
                        f"global step {counters['global_step']}; training stops")
            break
    vdl.close()
    best_epoch = best["epoch"] if best else None
    summary = {"best": best, "best_epoch": best_epoch, "last_metrics": last_metrics,
               "train_seconds": time.perf_counter() - start, "step_seconds": step_seconds, "epochs_done": epochs_done,
               "videos": videos_done,
               "stopped_by_time": time_up, "global_step": counters["global_step"], "model": model}
    if validate and best_epoch is not None:
        logger.info(f"best {rule.display} {metric.format_value(rule.key, best['value'])} at epoch {best_epoch} "
                    f"-> {checkpoint_prefix(cfg)}.pdparams")
    return summary


def test_model(cfg: Mapping[str, Any], weights: str,
               label_names: Mapping[int, str] | None = None) -> dict[str, float]:
    """Evaluate ``weights`` on ``DATASET.test`` (or ``DATASET.valid`` when there is no test split) and
    write ``<output_dir>/test_metrics.json`` (rank 0), with ``test_report.png`` and
    ``test_per_class_ap.csv`` beside it (:mod:`.report`; ``label_names`` ``{class index: name}``, as
    :func:`paddlevideo.inference.results.load_label_names` reads them, add a ``name`` column). Under
    ``distributed.launch`` every rank evaluates its share and the metrics are gathered, giving the
    one-process numbers.

    Raises:
        CheckpointError: unreadable weights or weights of another model / size.
    """
    logger = get_logger()
    rank, _ = init_distributed()
    model = build_model(cfg["MODEL"])
    load_weights(model, weights)
    mode = "test" if "test" in cfg["DATASET"] else "valid"
    dataset = build_dataset(cfg, mode)
    data_cfg = cfg["DATASET"]
    batch_size = int(data_cfg.get("valid_batch_size", data_cfg.get("batch_size", 16)))
    dataset.set_batch_size(batch_size)
    loader = build_dataloader(dataset, batch_size, int(data_cfg.get("num_workers", 0)))
    metric = build_metric(cfg, int(model.head.num_classes))
    metrics = evaluate(model, loader, metric, "test", dataset)
    logger.info(f"[test] {weights}: {format_metrics(metrics, metric)}")
    if rank == 0:
        write_json({"weights": weights, **metrics}, os.path.join(output_dir_of(cfg), "test_metrics.json"))
        files = metric.report(output_dir_of(cfg), "test", label_names=label_names)
        if files:
            logger.info("[test] report: " + ", ".join(f"{path} ({what})" for what, path in files.items()))
    return metrics
