"""Build a model from the ``MODEL`` section of a config."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import paddle.nn as nn

from ..utils.registry import build
from .registry import RECOGNIZERS


def build_model(cfg: Mapping[str, Any]) -> nn.Layer:
    """Build the recognizer named by ``cfg["framework"]`` with the other keys (backbone, head, loss).

    Raises:
        ValueError / KeyError: unknown framework, backbone, head or loss name or option (with the valid ones).
    """
    cfg = dict(cfg)
    if "framework" not in cfg:
        raise ValueError(f"MODEL has no 'framework' key; valid frameworks: {', '.join(RECOGNIZERS.names())}")
    return build(cfg, RECOGNIZERS, key="framework")
