"""Build the optimizer and its learning-rate schedule from the ``OPTIMIZER`` section.

Example (PaddleVideo's AttentionLSTM)::

    OPTIMIZER:
      name: RMSProp
      centered: true
      learning_rate: {name: PiecewiseDecay, boundaries: [5, 8], values: [2.5e-4, 2.5e-5, 2.5e-6], iter_step: false}
      weight_decay: {name: L2, value: 4.0e-4}
      grad_clip: {clip_norm: 1.0}

``iter_step: true`` steps the schedule after every training step, ``false`` (default) after every epoch.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import paddle
from paddle.optimizer.lr import LRScheduler

from ..utils.registry import build
from .registry import LR_SCHEDULERS, OPTIMIZERS

_REGISTERED = False


def _register_paddle_classes() -> None:
    global _REGISTERED
    if _REGISTERED:
        return
    for name in ("Adam", "AdamW", "RMSProp", "Momentum", "SGD", "Adagrad", "Adamax", "Lamb"):
        OPTIMIZERS.register(name)(getattr(paddle.optimizer, name))
    for name in ("PiecewiseDecay", "ExponentialDecay", "CosineAnnealingDecay", "StepDecay", "MultiStepDecay",
                 "PolynomialDecay", "LinearWarmup", "NaturalExpDecay", "InverseTimeDecay", "OneCycleLR"):
        LR_SCHEDULERS.register(name)(getattr(paddle.optimizer.lr, name))
    _REGISTERED = True


def build_lr(cfg: float | Mapping[str, Any]) -> tuple[float | LRScheduler, bool]:
    """Build a learning rate: a number (a numeric string such as ``"1e-3"`` counts), or a schedule config
    with ``name`` and its options.

    ``LinearWarmup`` takes its wrapped schedule as a nested config in ``learning_rate``.

    Returns:
        (learning rate or scheduler, iter_step): ``iter_step`` tells whether to step it per iteration.

    Raises:
        KeyError / ValueError: unknown schedule or option (with the valid ones).
    """
    _register_paddle_classes()
    if isinstance(cfg, (int, float, str)) and not isinstance(cfg, bool):
        try:
            return float(cfg), False        # "1e-3": a number YAML 1.1 reads as a string
        except ValueError:
            raise ValueError(f"learning_rate {cfg!r} is neither a number nor a schedule config") from None
    if not isinstance(cfg, Mapping):
        raise ValueError(f"learning_rate {cfg!r} is neither a number nor a schedule config")
    cfg = dict(cfg)
    iter_step = bool(cfg.pop("iter_step", False))
    if isinstance(cfg.get("learning_rate"), Mapping):
        inner, _ = build_lr(cfg.pop("learning_rate"))
        return build(cfg, LR_SCHEDULERS, learning_rate=inner), iter_step
    return build(cfg, LR_SCHEDULERS), iter_step


def build_optimizer(cfg: Mapping[str, Any], parameters: Iterable[paddle.Tensor]
                    ) -> tuple[paddle.optimizer.Optimizer, LRScheduler | None, bool]:
    """Build the optimizer named by ``cfg["name"]`` over ``parameters``.

    ``weight_decay: {name: L2, value: v}`` becomes ``paddle.regularizer.L2Decay(v)`` (a plain number is
    passed through, as AdamW's decoupled decay); ``grad_clip: {clip_norm: c}`` becomes
    ``ClipGradByGlobalNorm(c)``.

    Returns:
        (optimizer, scheduler or None, iter_step).

    Raises:
        KeyError / ValueError: unknown optimizer, schedule, regulariser or option.
    """
    _register_paddle_classes()
    cfg = dict(cfg)
    lr, iter_step = build_lr(cfg.pop("learning_rate", 1e-3))
    wd = cfg.pop("weight_decay", None)
    if isinstance(wd, Mapping):
        kind = wd.get("name", "L2")
        if kind == "L2":
            wd = paddle.regularizer.L2Decay(float(wd["value"]))
        elif kind == "L1":
            wd = paddle.regularizer.L1Decay(float(wd["value"]))
        else:
            raise ValueError(f"unknown weight_decay name {kind!r}; valid: L1, L2")
    clip = cfg.pop("grad_clip", None)
    if clip:
        clip = paddle.nn.ClipGradByGlobalNorm(float(clip["clip_norm"]))
    extra = {"learning_rate": lr, "parameters": parameters}
    if wd is not None:
        extra["weight_decay"] = wd
    if clip:
        extra["grad_clip"] = clip
    opt = build(cfg, OPTIMIZERS, **extra)
    return opt, (lr if isinstance(lr, LRScheduler) else None), iter_step
