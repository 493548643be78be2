"""MLP classification head: a stack of fully connected layers ending in per-class logits."""
from __future__ import annotations

import math
from collections.abc import Sequence

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from ...utils.types import DropRate, PositiveInt, Probability
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
        prior_prob: if set, the logit biases start at ``log(p / (1 - p))`` so that every class starts
            with probability ``p`` instead of 0.5 (Lin et al., "Focal Loss for Dense Object Detection",
            ICCV 2017, section 4.1 "Initialization"). With thousands of rare classes this removes the
            large initial loss of predicting 0.5 everywhere; ``None`` keeps Paddle's zero init.

    Input float32 [B, in_channels]; output float32 logits [B, C].

    Raises:
        ValueError: if ``activations`` does not match ``hidden_sizes`` or names an unknown activation,
            or ``prior_prob`` is not in (0, 1).
    """

    output_type = "logits"

    def __init__(self, in_channels: PositiveInt, num_classes: PositiveInt,
                 hidden_sizes: Sequence[PositiveInt] = (8192, 4096), activations: Sequence[str] = ("relu", "tanh"),
                 drop_rate: DropRate = 0.0, prior_prob: Probability | None = None) -> None:
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
        bias_attr = None
        if prior_prob is not None:
            if not 0.0 < float(prior_prob) < 1.0:
                raise ValueError(f"prior_prob must be in (0, 1), got {prior_prob}")
            bias = math.log(float(prior_prob) / (1.0 - float(prior_prob)))
            bias_attr = paddle.ParamAttr(initializer=nn.initializer.Constant(bias))
        self.fc_logit = nn.Linear(widths[-1], num_classes, bias_attr=bias_attr)
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
