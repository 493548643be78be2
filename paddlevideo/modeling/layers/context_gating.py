"""Context gating (Miech, Laptev, Sivic, "Learnable pooling with Context Gating for video
classification", arXiv 1706.06905, eq. 3): ``y = x * sigmoid(W x + b)``."""
from __future__ import annotations

import paddle
import paddle.nn as nn
import paddle.nn.functional as F


class ContextGating(nn.Layer):
    """Re-weight the C channels of ``x`` by gates computed from ``x`` itself.

    Variants:
      * ``hidden_size=None`` (the paper's gating): ``g = BN(W x)`` with ``batch_norm`` (the bias is then
        BN's shift, as in the authors' code), otherwise ``g = W x + b``;
      * ``hidden_size=H`` ("deep" gating of the public TensorFlow AttentionCluster,
        docs/models_reference.md#tensorflow-attentioncluster): ``g = BN(W2 dropout(relu(BN(W1 x))))``
        with W1: C -> H, W2: H -> C, no biases;

    and ``y = x * sigmoid(g)``. Since the gate is in (0, 1), probabilities in [0, 1] stay in [0, 1].

    Args:
        channels: C.
        hidden_size: H for deep gating, or None.
        batch_norm: batch norm on the gate pre-activations (otherwise biases).
        drop_rate: dropout inside deep gating (training only).

    Input float32 [B, C]; output float32 [B, C].
    """

    def __init__(self, channels: int, hidden_size: int | None = None, batch_norm: bool = True,
                 drop_rate: float = 0.0) -> None:
        super().__init__()
        self.channels = int(channels)
        no_bias = False if batch_norm else None
        if hidden_size is None:
            self.fc1, self.bn1, self.dropout = None, None, None
        else:
            self.fc1 = nn.Linear(self.channels, int(hidden_size), bias_attr=no_bias)
            self.bn1 = nn.BatchNorm1D(int(hidden_size)) if batch_norm else None
            self.dropout = nn.Dropout(drop_rate) if drop_rate > 0 else None
        width = self.channels if hidden_size is None else int(hidden_size)
        self.fc = nn.Linear(width, self.channels, bias_attr=no_bias)
        self.bn = nn.BatchNorm1D(self.channels) if batch_norm else None

    def gates(self, x: paddle.Tensor) -> paddle.Tensor:
        """The gates ``sigmoid(g(x))``, float32 [B, C] in (0, 1)."""
        h = x
        if self.fc1 is not None:
            h = self.fc1(h)
            if self.bn1 is not None:
                h = self.bn1(h)
            h = F.relu(h)
            if self.dropout is not None:
                h = self.dropout(h)
        g = self.fc(h)
        if self.bn is not None:
            g = self.bn(g)
        return F.sigmoid(g)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        """``x * gates(x)``: float32 [B, C]."""
        return x * self.gates(x)
