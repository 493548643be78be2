"""Converters for checkpoints written by other code bases (PaddleVideo ...) into this package's names.

:func:`convert_foreign_state` is what :func:`paddlevideo.utils.checkpoint.load_weights` calls (registered
by :mod:`paddlevideo.modeling`): it
leaves a native state dict alone and renames the parameters of a recognised foreign layout. Pure
Python: importing this package does not import paddle.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .paddlevideo import convert_paddlevideo_attention_lstm, is_paddlevideo_attention_lstm

__all__ = ["CONVERTERS", "convert_foreign_state", "convert_paddlevideo_attention_lstm",
           "is_paddlevideo_attention_lstm"]

#: (description, detector, converter) for every known foreign layout, tried in order.
CONVERTERS: tuple[tuple[str, Callable[[Mapping[str, Any]], bool],
                        Callable[[Mapping[str, Any]], dict[str, Any]]], ...] = (
    ("PaddleVideo AttentionLstmHead checkpoint", is_paddlevideo_attention_lstm, convert_paddlevideo_attention_lstm),
)


def convert_foreign_state(state: Mapping[str, Any],
                          model_keys: Iterable[str]) -> tuple[dict[str, Any], str | None]:
    """Rename a foreign checkpoint's parameters to this package's names, if its layout is recognised.

    Args:
        state: a loaded state dict (parameter name -> tensor or array); values are passed through.
        model_keys: the parameter names of the model being loaded. A checkpoint that already has all
            of them is returned unchanged.

    Returns:
        ``(state, origin)``: the (possibly renamed) state dict and the description of the converted
        layout, or ``None`` when nothing was converted. Shapes are checked later by the caller
        (``set_state_strict``), which names the first parameter that does not fit.
    """
    if set(model_keys) <= set(state):
        return dict(state), None
    for description, detect, convert in CONVERTERS:
        if detect(state):
            return convert(state), description
    return dict(state), None
