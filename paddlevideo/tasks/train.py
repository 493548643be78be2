"""The training loop: epochs of optimisation, periodic logs, checkpoints, validation and the best model."""
from __future__ import annotations

import json
import math
import os
import random
import time
from typing import Any, Dict, Mapping, Optional

import numpy as np
import paddle

from ..loader.builder import build_dataloader, build_dataset
from ..modeling import build_model
from ..solver import build_optimizer
from ..utils.checkpoint import load_weights, save_atomic
from ..utils.dist import init_distributed
from ..utils.logger import get_logger
from .evaluate import build_metric, evaluate


class TrainingDiverged(RuntimeError):
    """The loss became NaN or Inf; the message names the epoch and step."""


def seed_everything(seed: int) -> None:
    """Seed Python's, numpy's and Paddle's generators."""
    random.seed(seed)
    np.random.seed(seed)
    paddle.seed(seed)


def checkpoint_prefix(cfg: Mapping[str, Any], epoch: Optional[int] = None) -> str:
    """``<output_dir>/<model_name>_epoch_<NNNNN>`` (or ``..._best`` when ``epoch`` is None)."""
    tag = "best" if epoch is None else f"epoch_{epoch:05d}"
    return os.path.join(output_dir_of(cfg), f"{cfg['model_name']}_{tag}")


def output_dir_of(cfg: Mapping[str, Any]) -> str:
    """The run's output directory (``output_dir``, default ``output/<model_name>``)."""
    return cfg.get("output_dir") or os.path.join("output", cfg["model_name"])


def write_json(data: Dict[str, Any], path: str) -> None:
    """Write ``data`` as indented JSON (atomically: temp file and rename)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, sort_keys=True)
    os.replace(tmp, path)


def format_metrics(m: Mapping[str, float]) -> str:
    """One line: ``Hit@1 0.9100  PERR 0.8500  GAP 0.9000  mAP 0.8000  (N videos, loss L)``."""
    return (f"Hit@1 {m['hit_at_one']:.4f}  PERR {m['perr']:.4f}  GAP {m['gap']:.4f}  mAP {m['map']:.4f}  "
            f"({int(m['num_videos'])} videos, loss {m['loss']:.4f})")


def train_model(cfg: Mapping[str, Any], validate: bool = False, weights: Optional[str] = None) -> Dict[str, Any]:
    """Train the model of ``cfg`` and return a summary (best GAP and its epoch, last metrics).

    Args:
        cfg: the full config (see ``configs/``).
        validate: evaluate on ``DATASET.valid`` after every epoch, write
            ``<output_dir>/metrics_epoch_<NNNNN>.json`` and keep ``<model_name>_best.pdparams`` by GAP.
        weights: optional ``.pdparams`` to start from.

    Checkpoints ``<model_name>_epoch_<NNNNN>.pdparams`` / ``.pdopt`` are written every ``save_interval``
    epochs and after the last one, by rank 0 only.

    Raises:
        TrainingDiverged: if the loss becomes NaN or Inf (the last good checkpoint is kept).
        ConfigError / ValueError / KeyError: invalid config sections.
        CorruptRecordError: a corrupt record in the data (file, record index, offset).
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

    model = build_model(cfg["MODEL"])
    if weights:
        load_weights(model, weights)
    num_classes = int(model.head.num_classes)
    train_set = build_dataset(cfg, "train")
    train_loader = build_dataloader(train_set, batch_size, num_workers)
    if validate:
        valid_set = build_dataset(cfg, "valid")
        valid_loader = build_dataloader(valid_set, int(data_cfg.get("valid_batch_size", batch_size)), num_workers)
        metric = build_metric(cfg, num_classes)
    optimizer, scheduler, iter_step = build_optimizer(cfg["OPTIMIZER"], model.parameters())
    net = paddle.DataParallel(model) if world > 1 else model

    best: Dict[str, Any] = {"gap": -1.0, "epoch": None}
    last_metrics: Dict[str, float] = {}
    steps_per_epoch: Optional[int] = None
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        train_set.set_epoch(epoch)
        net.train()
        tic, seen, step = time.perf_counter(), 0, 0
        for step, batch in enumerate(train_loader, start=1):
            loss = net(batch, "train")["loss"]
            loss.backward()
            optimizer.step()
            optimizer.clear_grad()
            if scheduler is not None and iter_step:
                scheduler.step()
            seen += int(batch["lengths"].shape[0])
            if step % log_interval == 0:
                value = float(loss.item())
                if not math.isfinite(value):
                    raise TrainingDiverged(f"loss is {value} at epoch {epoch} step {step}; stopping "
                                           f"(last good checkpoint kept in {out_dir})")
                elapsed = time.perf_counter() - tic
                eta = ""
                if steps_per_epoch:
                    left = (epochs - epoch + 1) * steps_per_epoch - step
                    eta = f"  eta {left * elapsed / step:.0f}s"
                logger.info(f"epoch {epoch}/{epochs} step {step}  loss {value:.5f}  lr {optimizer.get_lr():.3e}  "
                            f"{seen / max(elapsed, 1e-9):.1f} videos/s{eta}")
        steps_per_epoch = steps_per_epoch or step
        if scheduler is not None and not iter_step:
            scheduler.step()
        logger.info(f"epoch {epoch} done: {step} steps, {seen} videos in {time.perf_counter() - tic:.1f}s")
        if rank == 0 and (epoch % save_interval == 0 or epoch == epochs):
            prefix = checkpoint_prefix(cfg, epoch)
            save_atomic(model.state_dict(), prefix + ".pdparams")
            save_atomic(optimizer.state_dict(), prefix + ".pdopt")
        if validate:
            last_metrics = evaluate(net, valid_loader, metric, "valid")
            logger.info(f"[valid] epoch {epoch}: {format_metrics(last_metrics)}")
            if rank == 0:
                write_json({"epoch": epoch, **last_metrics}, os.path.join(out_dir, f"metrics_epoch_{epoch:05d}.json"))
                if last_metrics["gap"] > best["gap"]:
                    best = {"gap": last_metrics["gap"], "epoch": epoch}
                    save_atomic(model.state_dict(), checkpoint_prefix(cfg) + ".pdparams")
                    write_json({"epoch": epoch, **last_metrics}, os.path.join(out_dir, "metrics_best.json"))
    summary = {"best_gap": best["gap"], "best_epoch": best["epoch"], "last_metrics": last_metrics,
               "train_seconds": time.perf_counter() - start}
    if validate and best["epoch"] is not None:
        logger.info(f"best GAP {best['gap']:.4f} at epoch {best['epoch']} -> {checkpoint_prefix(cfg)}.pdparams")
    return summary


def test_model(cfg: Mapping[str, Any], weights: str) -> Dict[str, float]:
    """Evaluate ``weights`` on ``DATASET.test`` (or ``DATASET.valid`` when there is no test split) and
    write ``<output_dir>/test_metrics.json``.

    Raises:
        CheckpointError: unreadable weights or weights of another model / size.
    """
    logger = get_logger()
    model = build_model(cfg["MODEL"])
    load_weights(model, weights)
    mode = "test" if "test" in cfg["DATASET"] else "valid"
    dataset = build_dataset(cfg, mode)
    data_cfg = cfg["DATASET"]
    loader = build_dataloader(dataset, int(data_cfg.get("valid_batch_size", data_cfg.get("batch_size", 16))),
                              int(data_cfg.get("num_workers", 0)))
    metrics = evaluate(model, loader, build_metric(cfg, int(model.head.num_classes)), "test")
    logger.info(f"[test] {weights}: {format_metrics(metrics)}")
    write_json({"weights": weights, **metrics}, os.path.join(output_dir_of(cfg), "test_metrics.json"))
    return metrics
