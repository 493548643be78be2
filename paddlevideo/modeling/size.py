"""How big a model is: the number of values it stores and their bytes, for ``train.log`` and the export.

The count is over the model's ``state_dict()``, i.e. everything a checkpoint or an export writes: trainable
weights and the non-trainable state (batch-norm running mean and variance). The trainable part is given
apart, as papers count it. Sizes are in MB = 10**6 bytes. The YouTube-8M 2018 challenge capped a model at
1 GB (10**9 bytes) of stored weights (docs/inference.md#model-size).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import paddle.nn as nn

__all__ = ["ModelSize", "model_size", "format_megabytes"]

#: Bytes per value of a float32 tensor.
FLOAT32_BYTES = 4


def format_megabytes(num_bytes: int) -> str:
    """``num_bytes`` as MB (10**6 bytes) with one decimal, e.g. ``307.1 MB``."""
    return f"{num_bytes / 1e6:.1f} MB"


@dataclass(frozen=True)
class ModelSize:
    """Values and bytes of a model's state.

    Attributes:
        parameters: number of scalar values in ``state_dict()`` (weights and running statistics).
        trainable: the values of trainable parameters only (``stop_gradient`` False).
        stored_bytes: bytes of the state in the tensors' own dtypes.
    """

    parameters: int
    trainable: int
    stored_bytes: int

    @property
    def float32_bytes(self) -> int:
        """Bytes of the state stored as float32 (4 bytes per value)."""
        return self.parameters * FLOAT32_BYTES

    def describe(self) -> str:
        """One line, e.g. ``76,781,234 parameters (76,776,000 trainable), 307.1 MB (float32)``."""
        return (f"{self.parameters:,} parameters ({self.trainable:,} trainable), "
                f"{format_megabytes(self.float32_bytes)} (float32)")


def model_size(model: nn.Layer) -> ModelSize:
    """Count the values of ``model``'s state (:class:`ModelSize`).

    Args:
        model: any ``paddle.nn.Layer``.

    Returns:
        :class:`ModelSize`: ``parameters`` = sum of ``numel`` over ``state_dict()`` (a tensor shared by two
        layers is counted once), ``trainable`` = the same over the parameters that are not
        ``stop_gradient``, ``stored_bytes`` = sum of ``numel * itemsize`` in each tensor's dtype.
    """
    seen: set[int] = set()
    total = stored = 0
    for tensor in model.state_dict().values():
        if id(tensor) in seen:
            continue
        seen.add(id(tensor))
        n = int(np.prod(tensor.shape, dtype=np.int64))
        total += n
        stored += n * int(tensor.element_size())
    trainable = 0
    seen.clear()
    for p in model.parameters():
        if id(p) not in seen and not p.stop_gradient:
            seen.add(id(p))
            trainable += int(np.prod(p.shape, dtype=np.int64))
    return ModelSize(parameters=total, trainable=trainable, stored_bytes=stored)
