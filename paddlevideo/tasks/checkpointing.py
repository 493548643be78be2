"""Training checkpoints that can be resumed: weights, optimizer (with its LR schedule), counters, RNG.

Every ``save_interval`` epochs rank 0 writes, each file atomically (temporary file + rename):

* ``<model_name>_epoch_<NNNNN>.pdparams``: the model's state dict (``paddle.save``);
* ``<model_name>_epoch_<NNNNN>.pdopt``: the optimizer's state dict, which holds the LR scheduler
  (``LR_Scheduler``) when the optimizer was built with one;
* ``<model_name>_epoch_<NNNNN>.pdstate``: a pickled dict with the epoch, the global step, the best
  validation result so far, the AMP loss-scaler state and the RNG states of Python, numpy and Paddle.

The ``.pdstate`` file is written last, so a checkpoint counts as complete only when it exists; a kill
between the files leaves the previous complete checkpoint as the one to resume from.
"""
from __future__ import annotations

import glob
import os
import random
import re
from typing import Any, Dict, Mapping, Optional

import numpy as np
import paddle

from ..utils.checkpoint import (CheckpointError, load_pickle_state, load_state, save_atomic, save_pickle_atomic,
                                set_state_strict)

STATE_VERSION = 1


def output_dir_of(cfg: Mapping[str, Any]) -> str:
    """The run's output directory (``output_dir``, default ``output/<model_name>``)."""
    return cfg.get("output_dir") or os.path.join("output", cfg["model_name"])


def checkpoint_prefix(cfg: Mapping[str, Any], epoch: Optional[int] = None) -> str:
    """``<output_dir>/<model_name>_epoch_<NNNNN>`` (or ``..._best`` when ``epoch`` is None)."""
    tag = "best" if epoch is None else f"epoch_{epoch:05d}"
    return os.path.join(output_dir_of(cfg), f"{cfg['model_name']}_{tag}")


def rng_state() -> Dict[str, Any]:
    """The generator states of Python's ``random``, numpy's global generator and Paddle (picklable)."""
    return {"python": random.getstate(), "numpy": np.random.get_state(), "paddle": paddle.get_rng_state()}


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restore what :func:`rng_state` returned."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    paddle.set_rng_state(state["paddle"])


def save_training_checkpoint(cfg: Mapping[str, Any], epoch: int, model: paddle.nn.Layer,
                             optimizer: paddle.optimizer.Optimizer, counters: Mapping[str, Any],
                             scaler: Optional[Any] = None) -> str:
    """Write the three files of the checkpoint of ``epoch`` (call on rank 0 only); returns the prefix.

    Args:
        counters: ``{"global_step": int, "best": {"gap": float, "epoch": int or None}}`` and anything
            else picklable the loop needs back on resume.
        scaler: the AMP ``GradScaler`` or None.
    """
    prefix = checkpoint_prefix(cfg, epoch)
    save_atomic(model.state_dict(), prefix + ".pdparams")
    save_atomic(optimizer.state_dict(), prefix + ".pdopt")
    state = {"version": STATE_VERSION, "model_name": cfg["model_name"], "epoch": int(epoch),
             "counters": dict(counters), "rng": rng_state(),
             "scaler": scaler.state_dict() if scaler is not None else None}
    save_pickle_atomic(state, prefix + ".pdstate")
    return prefix


def latest_epoch(cfg: Mapping[str, Any]) -> Optional[int]:
    """The highest epoch with a complete checkpoint (a ``.pdstate`` file) in the output dir, or None."""
    pattern = re.compile(re.escape(cfg["model_name"]) + r"_epoch_(\d+)\.pdstate$")
    epochs = [int(m.group(1)) for p in glob.glob(os.path.join(output_dir_of(cfg), "*.pdstate"))
              if (m := pattern.search(os.path.basename(p)))]
    return max(epochs) if epochs else None


def resume_training(cfg: Mapping[str, Any], epoch: int, model: paddle.nn.Layer,
                    optimizer: paddle.optimizer.Optimizer, scaler: Optional[Any] = None) -> Dict[str, Any]:
    """Load the checkpoint of ``epoch`` into ``model``, ``optimizer`` (and LR schedule) and ``scaler``,
    restore the RNG states, and return the saved counters (``global_step``, ``best`` ...).

    Must run in a fresh process, after the model and optimizer are built (Paddle names optimizer
    accumulators globally, PADDLE3.md §7).

    Raises:
        CheckpointError: a missing, truncated or unreadable file (named), a checkpoint of another model
            or epoch, or parameters that do not fit the model.
    """
    prefix = checkpoint_prefix(cfg, epoch)
    state = load_pickle_state(prefix + ".pdstate")
    if state.get("model_name") != cfg["model_name"] or int(state.get("epoch", -1)) != epoch:
        raise CheckpointError(f"{prefix}.pdstate belongs to model {state.get('model_name')!r} epoch "
                              f"{state.get('epoch')}, not {cfg['model_name']!r} epoch {epoch}")
    set_state_strict(model, load_state(prefix + ".pdparams"), prefix + ".pdparams")
    opt_state = load_state(prefix + ".pdopt")
    try:
        optimizer.set_state_dict(opt_state)
    except Exception as e:  # Paddle asserts on missing accumulators
        raise CheckpointError(f"{prefix}.pdopt does not fit this optimizer: {type(e).__name__}: {e}") from None
    if scaler is not None and state.get("scaler"):
        scaler.load_state_dict(state["scaler"])
    set_rng_state(state["rng"])
    return dict(state["counters"])
