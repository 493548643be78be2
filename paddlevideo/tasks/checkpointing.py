"""Training checkpoints that can be resumed: weights, optimizer (with its LR schedule), counters, RNG.

Every ``save_interval`` epochs rank 0 writes, each file atomically (temporary file + rename):

* ``<model_name>_epoch_<NNNNN>.pdparams``: the model's state dict (``paddle.save``);
* ``<model_name>_epoch_<NNNNN>.pdopt``: the optimizer's state dict, which holds the LR scheduler
  (``LR_Scheduler``) when the optimizer was built with one;
* ``<model_name>_epoch_<NNNNN>.pdstate``: a pickled dict with the epoch, the global step, the best
  validation result so far, the AMP loss-scaler state, the RNG states of Python, numpy and Paddle
  (as plain numbers and arrays), and the ``OPTIMIZER`` config section the run used.

All three are read back through the allow-list unpickler (:mod:`paddlevideo.utils.safe_unpickle`),
so the ``.pdstate`` holds data only: Paddle's ``GeneratorState`` objects are stored as their state
tuples (:func:`rng_state`).

The ``.pdstate`` file is written last, so a checkpoint counts as complete only when it exists; a kill
between the files leaves the previous complete checkpoint as the one to resume from. Before any
checkpoint is written the training loop checks that it is sound (:func:`check_finite`): a checkpoint
with non-finite parameters or loss is never saved.

On resume with an ``OPTIMIZER`` section that differs from the saved one (the recovery after a
divergence: lower the learning rate, ``--resume``), the config wins: the new learning-rate schedule is
placed at the resumed step, weight decay and gradient clipping come from the config, the optimizer's
moment accumulators are kept, and one log line lists what changed (:func:`resume_training`).
"""
from __future__ import annotations

import glob
import math
import os
import random
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import paddle

from ..utils.checkpoint import (
    CheckpointError,
    load_pickle_state,
    load_state,
    save_atomic,
    save_pickle_atomic,
    set_state_strict,
)
from ..utils.dist import all_gather_objects
from ..utils.logger import get_logger
from .loop import TrainingDiverged

#: 2: RNG states as plain data, the ``OPTIMIZER`` section saved (1: pickled Paddle objects, no longer read).
STATE_VERSION = 2


def output_dir_of(cfg: Mapping[str, Any]) -> str:
    """The run's output directory (``output_dir``, default ``output/<model_name>``)."""
    return cfg.get("output_dir") or os.path.join("output", cfg["model_name"])


def checkpoint_prefix(cfg: Mapping[str, Any], epoch: int | None = None) -> str:
    """``<output_dir>/<model_name>_epoch_<NNNNN>`` (or ``..._best`` when ``epoch`` is None)."""
    tag = "best" if epoch is None else f"epoch_{epoch:05d}"
    return os.path.join(output_dir_of(cfg), f"{cfg['model_name']}_{tag}")


def _generator_state_class() -> type:
    """Paddle's ``GeneratorState`` class (``paddle.get_rng_state()`` holds one per device)."""
    return type(paddle.get_rng_state()[0])


def rng_state() -> dict[str, Any]:
    """The generator states of Python's ``random``, numpy's global generator and Paddle, as plain data.

    Returns:
        ``{"python": random.getstate()`` (tuples of ints), ``"numpy": np.random.get_state()`` (a tuple
        with a uint32[624] array), ``"paddle": [(int, int, int, int64[n]), ...]}``: each Paddle
        ``GeneratorState``'s own pickled state (``__getstate__``: device, seed, offset and the engine's
        state as character codes), the list made an array.
    """
    paddle_states = []
    for s in paddle.get_rng_state():
        fields = s.__getstate__()
        paddle_states.append(tuple(np.asarray(f, dtype=np.int64) if isinstance(f, list) else f for f in fields))
    return {"python": random.getstate(), "numpy": np.random.get_state(), "paddle": paddle_states}


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restore what :func:`rng_state` returned.

    Raises:
        CheckpointError: the Paddle part does not have the form :func:`rng_state` writes.
    """
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    cls = _generator_state_class()
    generators = []
    for fields in state["paddle"]:
        g = cls.__new__(cls)
        try:
            g.__setstate__(tuple([int(v) for v in f] if isinstance(f, np.ndarray) else f for f in fields))
        except (TypeError, ValueError, RuntimeError) as e:
            raise CheckpointError(f"Paddle RNG state does not fit this Paddle version: {e}") from None
        generators.append(g)
    paddle.set_rng_state(generators)


def _plain(obj: Any) -> Any:
    """A config section or state as plain dicts, lists, scalars and numpy arrays (what the allow-list
    unpickler reads back); anything else becomes its ``str``."""
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if obj is None or isinstance(obj, (bool, int, float, str, np.ndarray, np.generic)):
        return obj
    return str(obj)


_UNSET = object()  # a key missing on one side of a comparison


def _show(value: Any) -> str:
    """A config value for a log line: ``1e+30``, ``[0.01, 0.001]``, ``{name: ..., ...}``, ``(unset)``."""
    if value is _UNSET:
        return "(unset)"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_show(v)}" for k, v in value.items()) + "}"
    return str(value)



def config_changes(old: Any, new: Any, key: str = "OPTIMIZER") -> list[str]:
    """What differs between two config sections, one ``KEY.SUB changed OLD -> NEW`` per changed leaf
    (nested dicts are compared key by key; anything else, lists included, as a whole).

    Args:
        old / new: plain config values (see :func:`_plain`); a key present on one side only shows as
            ``(unset)`` on the other.
    """
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for k in list(old) + [k for k in new if k not in old]:
            out += config_changes(old.get(k, _UNSET), new.get(k, _UNSET), f"{key}.{k}")
        return out
    if old == new and isinstance(old, bool) == isinstance(new, bool):  # 1 == 1.0, but True is not 1
        return []
    return [f"{key} changed {_show(old)} -> {_show(new)}"]


def save_training_checkpoint(cfg: Mapping[str, Any], epoch: int, model: paddle.nn.Layer,
                             optimizer: paddle.optimizer.Optimizer, counters: Mapping[str, Any],
                             scaler: Any | None = None) -> str:
    """Write the three files of the checkpoint of ``epoch`` (call on rank 0 only); returns the prefix.

    Args:
        counters: ``{"global_step": int, "best": {"key": str, "mode": "max"|"min", "value": float or None,
            "epoch": int or None}}`` (read back by :func:`paddlevideo.tasks.train.best_from_counters`, which
            also reads the older ``{"gap": float, "epoch": ...}``) and anything
            else of plain data (numbers, strings, dicts, lists) the loop needs back on resume.
        scaler: the AMP ``GradScaler`` or None.
    """
    prefix = checkpoint_prefix(cfg, epoch)
    save_atomic(model.state_dict(), prefix + ".pdparams")
    save_atomic(optimizer.state_dict(), prefix + ".pdopt")
    state = {"version": STATE_VERSION, "model_name": cfg["model_name"], "epoch": int(epoch),
             "counters": _plain(counters), "rng": rng_state(),
             "scaler": _plain(scaler.state_dict()) if scaler is not None else None,
             "optimizer_config": _plain(cfg.get("OPTIMIZER") or {})}
    save_pickle_atomic(state, prefix + ".pdstate")
    return prefix


def _nonfinite_parameter(model: paddle.nn.Layer) -> str | None:
    """The name of the first floating-point parameter or buffer with a NaN or Inf, or None."""
    for name, value in model.state_dict().items():
        if value.dtype in (paddle.float16, paddle.bfloat16, paddle.float32, paddle.float64):
            if not bool(paddle.isfinite(value).all().item()):
                return name
    return None


def check_finite(model: paddle.nn.Layer, epoch: int, last_good: str | None, batch: Any | None = None,
                 metrics: Mapping[str, float] | None = None, amp: Any | None = None) -> None:
    """Make sure the model after ``epoch`` is fit to be saved as a checkpoint; call on every rank.

    Checks: every floating-point parameter and buffer is finite (the same on every rank); then either,
    without ``metrics``, the loss of ``batch`` (the epoch's last training batch, in eval mode) with these
    parameters is finite on every rank (an update can leave parameters of 1e30 that are still finite
    but give a NaN loss), or, with ``metrics``, every value of it (the validation loss and metrics,
    already gathered over the ranks) is finite.

    Args:
        last_good: the ``.pdparams`` of the last checkpoint written (named in the error), or None.
        batch: this rank's last training batch (``model(batch, "valid")`` gives ``{"loss"}``), or None
            when this rank had none. Without ``metrics`` the call gathers the losses of all ranks, so
            every rank must make it.
        metrics: validation results, or None.
        amp: :class:`~paddlevideo.tasks.loop.AmpSettings` for the forward pass, or None.

    Raises:
        TrainingDiverged: naming what is not finite, the epoch and ``last_good``.
    """
    problem = None
    name = _nonfinite_parameter(model)
    if name is not None:
        problem = f"parameter {name!r} is not finite after epoch {epoch}"
    elif metrics is None:
        loss = 0.0
        if batch is not None:
            was_training = model.training
            model.eval()
            enabled = bool(amp is not None and amp.enabled)
            with paddle.no_grad(), paddle.amp.auto_cast(enable=enabled, level=getattr(amp, "level", "O1"),
                                                         dtype=getattr(amp, "dtype", "float16")):
                loss = float(model(batch, "valid")["loss"].item())
            if was_training:
                model.train()
        losses = all_gather_objects(loss)  # every rank takes part, with or without a batch
        bad = [v for v in losses if not math.isfinite(v)]
        if bad:
            problem = f"the loss on the last training batch is {bad[0]} with the parameters after epoch {epoch}"
    if problem is None and metrics is not None:
        bad_keys = [k for k, v in metrics.items() if isinstance(v, (int, float)) and not math.isfinite(v)]
        if bad_keys:
            problem = f"validation {bad_keys[0]} is {metrics[bad_keys[0]]} after epoch {epoch}"
    if problem is not None:
        good = last_good if last_good else "none was saved yet"
        raise TrainingDiverged(f"{problem}; training stopped without saving epoch {epoch}, the last good "
                               f"checkpoint is {good}. Lower OPTIMIZER.learning_rate (or enable "
                               f"OPTIMIZER.grad_clip) and run again with --resume.")


def latest_epoch(cfg: Mapping[str, Any]) -> int | None:
    """The highest epoch with a complete checkpoint (a ``.pdstate`` file) in the output dir, or None."""
    pattern = re.compile(re.escape(cfg["model_name"]) + r"_epoch_(\d+)\.pdstate$")
    epochs = [int(m.group(1)) for p in glob.glob(os.path.join(output_dir_of(cfg), "*.pdstate"))
              if (m := pattern.search(os.path.basename(p)))]
    return max(epochs) if epochs else None


#: ``OPTIMIZER`` keys that do not shape the optimizer's accumulators: when only these change on resume,
#: the saved moments are kept. Any other change (``name``, ``centered``, ``amsgrad``, betas ...) starts
#: the moments fresh, as Paddle requires every accumulator it creates to be in a loaded state.
_STATELESS_OPTIONS = frozenset({"learning_rate", "weight_decay", "grad_clip"})


def resume_training(cfg: Mapping[str, Any], epoch: int, model: paddle.nn.Layer,
                    optimizer: paddle.optimizer.Optimizer, scaler: Any | None = None,
                    scheduler: Any | None = None, iter_step: bool = False) -> dict[str, Any]:
    """Load the checkpoint of ``epoch`` into ``model``, ``optimizer`` (and LR schedule) and ``scaler``,
    restore the RNG states, and return the saved counters (``global_step``, ``best`` ...).

    When the config's ``OPTIMIZER`` section equals the saved one, the optimizer state is restored as
    saved (schedule included), so the run continues bit for bit. When it differs, the config wins and
    one log line says what changed (``resume: OPTIMIZER.learning_rate changed 1e+30 -> 0.001 since the
    checkpoint; ...``): ``scheduler`` (built from the config) is placed at the resumed position
    (``global_step`` when ``iter_step``, else ``epoch``) by its own formula, weight decay and gradient
    clipping are the ones the optimizer was built with, and the moment accumulators of the
    checkpoint are kept when only ``learning_rate``, ``weight_decay`` or ``grad_clip`` changed (any
    other option, e.g. ``name`` or ``centered``, starts them fresh).

    Must run in a fresh process, after the model and optimizer are built: Paddle names optimizer
    accumulators after their parameters, whose names come from a process-wide counter.

    Raises:
        CheckpointError: a missing, truncated, unreadable or unsafe file (named), a checkpoint of another
            model or epoch, or parameters that do not fit the model.
    """
    prefix = checkpoint_prefix(cfg, epoch)
    state = load_pickle_state(prefix + ".pdstate")
    if state.get("model_name") != cfg["model_name"] or state.get("epoch") != epoch:
        raise CheckpointError(f"{prefix}.pdstate belongs to model {state.get('model_name')!r} epoch "
                              f"{state.get('epoch')}, not {cfg['model_name']!r} epoch {epoch}")
    for key in ("counters", "rng"):
        if not isinstance(state.get(key), dict):
            raise CheckpointError(f"{prefix}.pdstate has no {key!r} dict (not written by this version?)")
    set_state_strict(model, load_state(prefix + ".pdparams"), prefix + ".pdparams")
    opt_state = load_state(prefix + ".pdopt")
    if isinstance(opt_state.get("master_weights"), dict):  # AMP O2: float32 copies, as Tensors
        opt_state["master_weights"] = {k: paddle.to_tensor(v) for k, v in opt_state["master_weights"].items()}
    counters = dict(state["counters"])
    new_cfg = _plain(cfg.get("OPTIMIZER") or {})
    old_cfg = state.get("optimizer_config")
    recorded = isinstance(old_cfg, dict)
    changes = config_changes(old_cfg, new_cfg) if recorded else ["the checkpoint does not record OPTIMIZER"]
    if changes:
        opt_state.pop("LR_Scheduler", None)
        shaping = [k for k in list(old_cfg or {}) + [k for k in new_cfg if k not in (old_cfg or {})]
                   if k not in _STATELESS_OPTIONS and config_changes((old_cfg or {}).get(k, _UNSET),
                                                                     new_cfg.get(k, _UNSET))]
        if not recorded or shaping:
            opt_state = {k: v for k, v in opt_state.items() if k == "master_weights"}
            kept = "the optimizer's moments start fresh" + (f" as OPTIMIZER.{shaping[0]} changed" if shaping else "")
        else:
            kept = "the optimizer's moments are kept"
        if scheduler is not None:  # the config's schedule at the resumed position, by its own formula
            scheduler.step(int(counters.get("global_step", 0)) if iter_step else epoch)
            opt_state["LR_Scheduler"] = scheduler.state_dict()
    try:
        optimizer.set_state_dict(opt_state)
    except Exception as e:  # Paddle asserts on missing accumulators
        raise CheckpointError(f"{prefix}.pdopt does not fit this optimizer: {type(e).__name__}: {e}") from None
    if changes:
        what = "; ".join(changes) + (" since the checkpoint" if recorded else "")
        get_logger().info(f"resume: {what}; using the config's values (lr now {optimizer.get_lr():.3e}; {kept})")
    if scaler is not None and state.get("scaler"):
        scaler.load_state_dict(state["scaler"])
    set_rng_state(state["rng"])
    return counters
