"""Saving and loading weights: atomic writes, strict shape checks, clear errors."""
from __future__ import annotations

import os
import pickle
from typing import Any, Dict, Mapping

import numpy as np
import paddle

from .atomic import atomic_write


class CheckpointError(ValueError):
    """A checkpoint file is missing, unreadable, or does not fit the model (names the file and parameter)."""


def save_atomic(obj: Any, path: str) -> None:
    """``paddle.save(obj, path)`` through :func:`atomic_write` (old or new file, never a truncated one)."""
    atomic_write(path, lambda tmp: paddle.save(obj, tmp))


def save_pickle_atomic(obj: Any, path: str) -> None:
    """Pickle ``obj`` (training state with Python objects such as RNG states, which ``paddle.save``
    would turn into tensors) to ``path`` through :func:`atomic_write`."""
    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)
    atomic_write(path, write)


def load_pickle_state(path: str) -> Dict[str, Any]:
    """Load a dict written by :func:`save_pickle_atomic` (only files this package wrote: pickle runs code).

    Raises:
        CheckpointError: missing, truncated or unreadable file, or not a dict; the message names it.
    """
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        with open(path, "rb") as f:
            state = pickle.load(f)
    except Exception as e:  # EOFError, UnpicklingError, ... for a damaged file
        raise CheckpointError(f"cannot read training state {path}: {type(e).__name__}: {e} "
                              "(truncated or not written by this package?)") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"training state {path} holds a {type(state).__name__}, not a dict")
    return state


def load_state(path: str) -> Dict[str, Any]:
    """Load a ``.pdparams`` / ``.pdopt`` file.

    Raises:
        CheckpointError: if the file does not exist or cannot be read (truncated, not a Paddle file).
    """
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        state = paddle.load(path)
    except Exception as e:  # paddle raises many kinds for a damaged file
        raise CheckpointError(f"cannot read checkpoint {path}: {type(e).__name__}: {e} "
                              "(truncated or not a Paddle checkpoint?)") from None
    if not isinstance(state, Mapping):
        raise CheckpointError(f"checkpoint {path} holds a {type(state).__name__}, not a state dict")
    return dict(state)


def set_state_strict(model: paddle.nn.Layer, state: Mapping[str, Any], source: str) -> None:
    """Load ``state`` into ``model``, requiring the same parameter names and shapes.

    Raises:
        CheckpointError: naming ``source`` and the first missing, unexpected or mis-shaped parameter.
    """
    own = model.state_dict()
    for name, tensor in own.items():
        if name not in state:
            raise CheckpointError(f"{source}: parameter {name!r} of the model is missing from the checkpoint "
                                  f"(the checkpoint has e.g. {sorted(state)[:3]})")
        shape = list(np.shape(state[name]))
        if shape != list(tensor.shape):
            raise CheckpointError(f"{source}: parameter {name!r} has shape {shape} in the checkpoint but "
                                  f"{list(tensor.shape)} in the model (wrong model or config?)")
    extra = [k for k in state if k not in own]
    if extra:
        raise CheckpointError(f"{source}: parameter {extra[0]!r} in the checkpoint is not in the model")
    model.set_state_dict(dict(state))


def load_weights(model: paddle.nn.Layer, path: str) -> None:
    """Load ``.pdparams`` weights into ``model`` strictly (see :func:`set_state_strict`).

    Raises:
        CheckpointError: unreadable file or a parameter that does not fit.

    Checkpoints in a known foreign layout (PaddleVideo's ``AttentionLstmHead``) are renamed first, see
    :mod:`paddlevideo.modeling.compat`.
    """
    from ..modeling.compat import convert_foreign_state  # local: modeling imports utils

    state, origin = convert_foreign_state(load_state(path), model.state_dict().keys())
    set_state_strict(model, state, path if origin is None else f"{path} ({origin}, renamed)")
