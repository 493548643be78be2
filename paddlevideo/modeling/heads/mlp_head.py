"""MLP classification head: a stack of fully connected layers ending in per-class logits."""
from __future__ import annotations

from typing import Sequence

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from ..registry import HEADS

_ACTIVATIONS = {"relu": F.relu, "tanh": paddle.tanh, "sigmoid": F.sigmoid, "gelu": F.gelu, "none": lambda x: x}


@HEADS.register()
class MLPHead(nn.Layer):
    """Fully connected head returning **logits** (pair it with ``SigmoidBCELoss``).

    PaddleVideo's AttentionLSTM classifier is the default: FC 8192 ReLU -> FC 4096 tanh -> FC num_classes.
    The legacy AttentionCluster classifier is ``drop_rate: 0.5, hidden_sizes: [1024, 4096],
    activations: [tanh, tanh]``.

    Args:
        in_channels: input width (set by the framework from the backbone's ``out_channels``).
        num_classes: number of classes C.
        hidden_sizes: widths of the hidden layers.
        activations: one of relu, tanh, sigmoid, gelu, none per hidden layer.
        drop_rate: dropout applied to the input before the first layer.

    Input float32 [B, in_channels]; output float32 logits [B, C].

    Raises:
        ValueError: if ``activations`` does not match ``hidden_sizes`` or names an unknown activation.
    """

    output_type = "logits"

    def __init__(self, in_channels: int, num_classes: int, hidden_sizes: Sequence[int] = (8192, 4096),
                 activations: Sequence[str] = ("relu", "tanh"), drop_rate: float = 0.0) -> None:
        super().__init__()
        if len(hidden_sizes) != len(activations):
            raise ValueError(f"hidden_sizes {list(hidden_sizes)} and activations {list(activations)} "
                             "must have the same length")
        for a in activations:
            if a not in _ACTIVATIONS:
                raise ValueError(f"unknown activation {a!r}; valid: {', '.join(_ACTIVATIONS)}")
        widths = [in_channels] + [int(h) for h in hidden_sizes]
        self.fcs = nn.LayerList([nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:])])
        self.activations = list(activations)
        self.fc_logit = nn.Linear(widths[-1], num_classes)
        self.dropout = nn.Dropout(drop_rate) if drop_rate > 0 else None
        self.num_classes = num_classes

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        """Map pooled features [B, in_channels] to logits [B, C]."""
        if self.dropout is not None:
            x = self.dropout(x)
        for fc, act in zip(self.fcs, self.activations):
            x = _ACTIVATIONS[act](fc(x))
        return self.fc_logit(x)

    def to_probs(self, out: paddle.Tensor) -> paddle.Tensor:
        """Sigmoid of the logits: independent per-class probabilities [B, C] (multi-label, never softmax)."""
        return F.sigmoid(out)
