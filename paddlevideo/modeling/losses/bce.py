"""Sigmoid binary cross-entropy for multi-label classification, with optional per-class weights
(TF Model Garden yt8m's ``label_weights``: a weight per video and class multiplies that element's loss)."""
from __future__ import annotations

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from ..registry import LOSSES

_REDUCTIONS = ("sum", "mean", "batch_mean")


def _reduce(loss: paddle.Tensor, reduction: str, weights: paddle.Tensor | None = None) -> paddle.Tensor:
    """Multiply the element-wise loss [B, C] by ``weights`` [B, C] when given, then reduce."""
    if weights is not None:
        if tuple(weights.shape) != tuple(loss.shape):
            raise ValueError(f"label_weights has shape {list(weights.shape)}, the loss {list(loss.shape)}; "
                             "they must match ([batch, num_classes])")
        loss = loss * weights.astype(loss.dtype)
    if reduction == "sum":
        return loss.sum()
    if reduction == "mean":
        return loss.mean()
    return loss.sum(axis=1).mean()


def _check(reduction: str) -> str:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"unknown reduction {reduction!r}; valid: {', '.join(_REDUCTIONS)}")
    return reduction


@LOSSES.register()
class SigmoidBCELoss(nn.Layer):
    """Binary cross-entropy on **logits** (``sigmoid`` applied inside, numerically stable).

    Args:
        reduction: ``sum`` over batch and classes (PaddleVideo's AttentionLSTM), ``mean`` over batch and
            classes, or ``batch_mean``: summed over classes, averaged over the batch (legacy
            AttentionCluster; the loss scale then does not depend on the batch size).

    Inputs: logits float32 [B, C], labels float32 multi-hot [B, C], optional weights float32 [B, C]
    (``label_weights`` of the batch: each element's loss is multiplied by its weight before the reduction;
    the ``mean`` reduction still divides by ``B * C``). Output: a 0-d float32 loss.

    Raises:
        ValueError: for an unknown reduction, or weights of another shape than the logits.
    """

    input_type = "logits"

    def __init__(self, reduction: str = "sum") -> None:
        super().__init__()
        self.reduction = _check(reduction)

    def forward(self, logits: paddle.Tensor, labels: paddle.Tensor,
                weights: paddle.Tensor | None = None) -> paddle.Tensor:
        """Loss of logits [B, C] against multi-hot labels [B, C], each element weighted by ``weights`` [B, C]."""
        loss = F.binary_cross_entropy_with_logits(logits, labels, reduction="none")
        return _reduce(loss, self.reduction, weights)


@LOSSES.register()
class BCELoss(nn.Layer):
    """Binary cross-entropy on **probabilities** (for heads that output probabilities, such as MoE).

    Args:
        reduction: as :class:`SigmoidBCELoss`.
        epsilon: probabilities are clipped to ``[epsilon, 1 - epsilon]`` before the log.

    Inputs: probs float32 [B, C] in [0, 1], labels float32 multi-hot [B, C], optional weights float32
    [B, C] (as :class:`SigmoidBCELoss`). Output: a 0-d float32 loss.

    Raises:
        ValueError: for an unknown reduction, or weights of another shape than the probabilities.
    """

    input_type = "probs"

    def __init__(self, reduction: str = "sum", epsilon: float = 1e-7) -> None:
        super().__init__()
        self.reduction = _check(reduction)
        self.epsilon = epsilon

    def forward(self, probs: paddle.Tensor, labels: paddle.Tensor,
                weights: paddle.Tensor | None = None) -> paddle.Tensor:
        """Loss of probabilities [B, C] against multi-hot labels [B, C], weighted by ``weights`` [B, C]."""
        p = paddle.clip(probs, self.epsilon, 1.0 - self.epsilon)
        loss = -(labels * paddle.log(p) + (1.0 - labels) * paddle.log(1.0 - p))
        return _reduce(loss, self.reduction, weights)
