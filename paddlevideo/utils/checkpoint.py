"""Saving and loading weights: atomic writes, strict shape checks, clear errors.

Every checkpoint file is read through the allow-list unpickler of :mod:`.safe_unpickle`, never with
``paddle.load`` or ``pickle.load``, so a crafted ``.pdparams`` / ``.pdopt`` / ``.pdstate`` cannot run code.
"""
from __future__ import annotations

import os
import pickle
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import paddle

from .atomic import atomic_write
from .safe_unpickle import UnsafePickleError, safe_load

#: Keys ``paddle.save`` adds to a state dict (``paddle/framework/io.py``): the parameter name table and
#: the slices of tensors over 1 GiB written with pickle protocol 2 or 3.
_NAME_TABLE = "StructuredToParameterName@@"
_BIG_PARAMS = "UnpackBigParamInfor@@"


class CheckpointError(ValueError):
    """A checkpoint file is missing, unreadable, or does not fit the model (names the file and parameter)."""


#: ``convert(state, model_keys) -> (state, origin or None)``: renamers of foreign checkpoint layouts,
#: registered by the packages that know them (this module imports nothing above ``utils``).
StateConverter = Callable[[Mapping[str, Any], Iterable[str]], tuple[dict[str, Any], str | None]]
_STATE_CONVERTERS: list[StateConverter] = []


def register_state_converter(convert: StateConverter) -> StateConverter:
    """Add ``convert`` to the converters :func:`load_weights` tries (once; returns it, usable as a decorator).

    Args:
        convert: ``convert(state, model_keys) -> (state, origin)``: the state dict, renamed when its layout
            is recognised, and a description of that layout (None when nothing was renamed).
    """
    if convert not in _STATE_CONVERTERS:
        _STATE_CONVERTERS.append(convert)
    return convert


def save_atomic(obj: Any, path: str) -> None:
    """``paddle.save(obj, path)`` through :func:`atomic_write` (old or new file, never a truncated one)."""
    atomic_write(path, lambda tmp: paddle.save(obj, tmp))


def save_pickle_atomic(obj: Any, path: str) -> None:
    """Pickle ``obj`` to ``path`` through :func:`atomic_write`.

    ``obj`` must consist of what :func:`paddlevideo.utils.safe_unpickle.safe_loads` reads back: dicts,
    lists, tuples, numbers, strings, bytes, numpy arrays and scalars of numeric dtypes (the training
    state's RNG states are converted to these, see :mod:`paddlevideo.tasks.checkpointing`).
    """
    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            pickle.dump(obj, f, protocol=4)
    atomic_write(path, write)


def read_pickle_file(path: str, what: str = "checkpoint") -> Any:
    """Read a pickle file through the allow-list unpickler (:mod:`.safe_unpickle`): no code in it runs.

    Args:
        path: the file.
        what: how to call it in messages (``checkpoint``, ``training state`` ...).

    Returns:
        The unpickled object (dicts, lists, numbers, strings, numpy arrays ...).

    Raises:
        CheckpointError: the file is missing or unreadable, is not a complete pickle, or refers to
            anything outside the allow-list; one line naming ``path`` and the refused global.
    """
    if not os.path.isfile(path):
        raise CheckpointError(f"{what} not found: {path}")
    try:
        with open(path, "rb") as f:
            return safe_load(f)
    except OSError as e:
        raise CheckpointError(f"cannot read {what} {path}: {e.strerror or e}") from None
    except UnsafePickleError as e:
        raise CheckpointError(f"refusing to load {what} {path}: {e}; not loaded, nothing in it was run") from None
    except pickle.UnpicklingError as e:
        raise CheckpointError(f"cannot read {what} {path}: {e} (truncated, or not written by paddle.save "
                              "or this package?)") from None
    except MemoryError:
        raise CheckpointError(f"cannot read {what} {path}: out of memory") from None


def load_pickle_state(path: str) -> dict[str, Any]:
    """Load a dict written by :func:`save_pickle_atomic` (through the allow-list, see :func:`read_pickle_file`).

    Raises:
        CheckpointError: missing, truncated, unreadable or unsafe file, or not a dict; the message names it.
    """
    state = read_pickle_file(path, "training state")
    if not isinstance(state, dict):
        raise CheckpointError(f"training state {path} holds a {type(state).__name__}, not a dict")
    return state


def _join_big_params(state: dict[str, Any], path: str) -> None:
    """Re-join tensors ``paddle.save`` split into slices (``UnpackBigParamInfor@@``, protocols 2-3)."""
    info = state.pop(_BIG_PARAMS, None)
    if info is None:
        return
    try:
        for key, value in info.items():
            parts = [state.pop(part) for part in value["slices"]]
            shape = tuple(int(d) for d in value["OriginShape"])
            joined = np.concatenate([np.ravel(p) for p in parts])
            state[key] = joined.reshape(shape)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise CheckpointError(f"checkpoint {path}: bad {_BIG_PARAMS} entry ({type(e).__name__}: {e})") from None


def load_state(path: str) -> dict[str, Any]:
    """Load a ``.pdparams`` / ``.pdopt`` file written by ``paddle.save`` (this package's or
    PaddleVideo's), through the allow-list unpickler: no code in the file runs.

    Returns:
        The state dict with numpy arrays for tensors (bfloat16 as uint16, as ``paddle.save`` stores
        it) and plain values elsewhere (an optimizer's ``LR_Scheduler`` dict). The name table
        ``StructuredToParameterName@@`` is dropped and sliced big tensors are re-joined, as
        ``paddle.load`` does; Paddle 2.1's ``(name, array)`` tensor tuples become arrays.

    Raises:
        CheckpointError: missing, truncated or unsafe file (the refused global is named), or not a dict.
    """
    state = read_pickle_file(path, "checkpoint")
    if not isinstance(state, Mapping):
        raise CheckpointError(f"checkpoint {path} holds a {type(state).__name__}, not a state dict")
    state = dict(state)
    state.pop(_NAME_TABLE, None)
    _join_big_params(state, path)
    for key, value in state.items():
        if (isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str)
                and isinstance(value[1], np.ndarray)):
            state[key] = value[1]
    return state


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

    Checkpoints in a known foreign layout (PaddleVideo's ``AttentionLstmHead``) are renamed first by the
    converters registered with :func:`register_state_converter` (importing :mod:`paddlevideo.modeling`
    registers :func:`paddlevideo.modeling.compat.convert_foreign_state`); the first that renames wins.
    """
    state: dict[str, Any] = load_state(path)
    keys = list(model.state_dict().keys())
    origin = None
    for convert in _STATE_CONVERTERS:
        state, origin = convert(state, keys)
        if origin is not None:
            break
    set_state_strict(model, state, path if origin is None else f"{path} ({origin}, renamed)")
