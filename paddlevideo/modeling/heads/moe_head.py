"""Mixture-of-experts classifier with context gating (Miech, Laptev, Sivic 2017, arXiv 1706.06905).

Structure (the public TensorFlow AttentionCluster head, docs/models_reference.md#tensorflow-attentioncluster; the
MoE is the YouTube-8M starter code's ``MoeModel``)::

    x [B, in] -> dropout -> FC hidden_size (no bias) -> BN -> context gating        = h [B, H]
    gates   = softmax over M+1 of (h W_g) reshaped [B, C, M+1]   (M experts + 1 dummy expert, no bias)
    experts = sigmoid(h W_e + b_e) reshaped [B, C, M]
    p_c     = sum_{m<M} gates[c, m] * experts[c, m]                                  in [0, 1]
    p       = p * sigmoid(g(p))   (optional context gating of the class probabilities)

The head returns **probabilities** (``output_type = "probs"``): pair it with ``BCELoss``.
"""
from __future__ import annotations

import paddle
import paddle.nn as nn
import paddle.nn.functional as F
from paddle import ParamAttr
from paddle.regularizer import L2Decay

from ...utils.types import DropRate, NonNegativeFloat, PositiveInt
from ..layers.context_gating import ContextGating
from ..registry import HEADS


def _l2_attr(coeff: float) -> ParamAttr | None:
    return ParamAttr(regularizer=L2Decay(float(coeff))) if coeff > 0 else None


@HEADS.register()
class MoEHead(nn.Layer):
    """Context-gated mixture-of-experts head returning per-class probabilities (see module docstring).

    Args:
        in_channels: input width (set by the framework from the backbone's ``out_channels``).
        num_classes: C.
        hidden_size: H, width of the FC + BN projection (TensorFlow AttentionCluster: 512).
        num_mixtures: M experts per class (TensorFlow AttentionCluster: 2).
        drop_rate: dropout on the input (training only).
        input_gating: context gating after the projection.
        gating_hidden_size: hidden width of the input gating for "deep" gating (TF AttentionCluster:
            1024), or None for the paper's single-layer gating.
        gating_drop_rate: dropout inside deep input gating (TF AttentionCluster: 0.2).
        output_gating: context gating on the class probabilities.
        output_gating_hidden_size / output_gating_drop_rate: as above for the output gating (TF
            AttentionCluster: 2*C and 0.1).
        gate_l2: L2 penalty coefficient on the gate weights W_g (TF AttentionCluster ``moe_l2``: 1e-6).
            Set per parameter, so it applies instead of the optimizer's global weight decay.
        expert_l2: the same for the expert weights W_e (0: the optimizer's global decay applies).

    Input float32 [B, in_channels]; output float32 probabilities [B, C] in [0, 1].

    Raises:
        ValueError: for ``num_mixtures < 1`` or ``hidden_size < 1``.
    """

    output_type = "probs"

    def __init__(self, in_channels: PositiveInt, num_classes: PositiveInt, hidden_size: PositiveInt = 512,
                 num_mixtures: PositiveInt = 2, drop_rate: DropRate = 0.0, input_gating: bool = True,
                 gating_hidden_size: PositiveInt | None = None, gating_drop_rate: DropRate = 0.0,
                 output_gating: bool = True, output_gating_hidden_size: PositiveInt | None = None,
                 output_gating_drop_rate: DropRate = 0.0, gate_l2: NonNegativeFloat = 1e-6,
                 expert_l2: NonNegativeFloat = 0.0) -> None:
        super().__init__()
        if int(num_mixtures) < 1 or int(hidden_size) < 1:
            raise ValueError(f"num_mixtures ({num_mixtures}) and hidden_size ({hidden_size}) must be >= 1")
        self.num_classes = int(num_classes)
        self.num_mixtures = int(num_mixtures)
        self.dropout = nn.Dropout(drop_rate) if drop_rate > 0 else None
        self.proj = nn.Linear(in_channels, int(hidden_size), bias_attr=False)
        self.proj_bn = nn.BatchNorm1D(int(hidden_size))
        self.input_gating = (ContextGating(int(hidden_size), gating_hidden_size, drop_rate=gating_drop_rate)
                             if input_gating else None)
        self.gate_fc = nn.Linear(int(hidden_size), self.num_classes * (self.num_mixtures + 1),
                                 weight_attr=_l2_attr(gate_l2), bias_attr=False)
        self.expert_fc = nn.Linear(int(hidden_size), self.num_classes * self.num_mixtures,
                                   weight_attr=_l2_attr(expert_l2))
        self.output_gating = (ContextGating(self.num_classes, output_gating_hidden_size,
                                            drop_rate=output_gating_drop_rate) if output_gating else None)

    def mixture(self, h: paddle.Tensor) -> paddle.Tensor:
        """The MoE on the gated projection ``h`` float32 [B, H]: probabilities [B, C] in [0, 1]."""
        gates = F.softmax(self.gate_fc(h).reshape([-1, self.num_classes, self.num_mixtures + 1]), axis=-1)
        experts = F.sigmoid(self.expert_fc(h).reshape([-1, self.num_classes, self.num_mixtures]))
        return paddle.sum(gates[:, :, : self.num_mixtures] * experts, axis=-1)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        """Map pooled features [B, in_channels] to probabilities float32 [B, C]."""
        if self.dropout is not None:
            x = self.dropout(x)
        h = self.proj_bn(self.proj(x))
        if self.input_gating is not None:
            h = self.input_gating(h)
        p = self.mixture(h)
        if self.output_gating is not None:
            p = self.output_gating(p)
        return p

    def to_probs(self, out: paddle.Tensor) -> paddle.Tensor:
        """The head already outputs probabilities: returns ``out`` unchanged (float32 [B, C])."""
        return out
