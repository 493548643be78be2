"""AttentionCluster backbone: clusters of attention units with the shifting operation, one per modality.

Follows Long et al., "Attention Clusters: Purely Attention Based Local Feature Integration for Video
Classification", CVPR 2018 (arXiv 1711.09550), §3 and docs/models_reference.md#attentioncluster-paper. For a
modality with frames ``x_1..x_T`` (width D) and a cluster of N units, unit k computes

    s_kt = w_k . x_t + b_k                          ("FC1" weighting function, the default), or
    s_kt = w2_k . tanh(W1 x_t + b1) + b2_k          ("FC2"; W1 is shared by the units, as in the public
                                                     TensorFlow version; the paper's exact FC2 is unverified)
    a_k  = softmax over the valid frames t of s_k   (padded frames get exactly zero weight)
    o_k  = sum_t a_kt x_t
    v_k  = alpha_k o_k + beta_k,  out_k = v_k / (sqrt(N) ||v_k||_2)     (shifting operation, switchable)

and the cluster outputs ``concat_k out_k`` (N*D, unit-major). The modalities' cluster outputs are
concatenated. The public TensorFlow version's extras (L2-normalised frames, batch norm and dropout on
the attention scores) are options, off by default; its softmax across units instead of across frames and
its batch-wide L2 normalisation are not reproduced (docs/models_reference.md#tensorflow-attentioncluster).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from ...utils.types import DropRate, PositiveInt
from ..layers.attention import masked_softmax
from ..layers.masked_batch_norm import MaskedBatchNorm1D
from ..registry import BACKBONES
from .base import FrameBackbone

_WEIGHTINGS = ("fc1", "fc2")
_SHIFT_INITS = ("constant", "normal")


class ShiftingAttentionCluster(nn.Layer):
    """N attention units over the frames of one modality, computed as batched tensor operations.

    Args:
        dim: feature width D of a frame.
        num_units: N, the number of attention units of the cluster.
        weighting: ``fc1`` (a linear score per unit, the paper's FC1) or ``fc2`` (a shared tanh hidden
            layer of ``fc2_hidden_size`` then one linear score per unit).
        fc2_hidden_size: hidden width of ``fc2``.
        shift: apply the shifting operation and the ``1/(sqrt(N) ||v||)`` normalisation (paper default);
            without it the unit outputs ``o_k`` are concatenated as they are.
        shift_init: ``constant`` (alpha = 1, beta = 0, as the public TensorFlow version) or ``normal``
            (alpha, beta ~ N(0, N^-1/4), the legacy Paddle model's initialisation).
        l2_normalize_input: L2-normalise every frame before attention (TensorFlow variant).
        score_batch_norm: batch norm of the scores per unit over the valid frames (TensorFlow variant).
        score_drop_rate: dropout on the scores in training (TensorFlow variant: 0.3).

    Inputs of :meth:`forward`: ``x`` float32 [B, T, D], ``mask`` bool [B, T]. Output float32 [B, N*D],
    where columns ``k*D .. (k+1)*D`` are unit k. With ``shift`` every unit's block has L2 norm
    ``1/sqrt(N)`` (so the whole vector has norm 1), unless ``v_k`` is 0.

    Raises:
        ValueError: unknown ``weighting`` / ``shift_init`` or a non-positive size.
    """

    def __init__(self, dim: PositiveInt, num_units: PositiveInt, weighting: str = "fc1",
                 fc2_hidden_size: PositiveInt = 256, shift: bool = True, shift_init: str = "constant",
                 l2_normalize_input: bool = False, score_batch_norm: bool = False,
                 score_drop_rate: DropRate = 0.0) -> None:
        super().__init__()
        if weighting not in _WEIGHTINGS:
            raise ValueError(f"unknown weighting {weighting!r}; valid: {', '.join(_WEIGHTINGS)}")
        if shift_init not in _SHIFT_INITS:
            raise ValueError(f"unknown shift_init {shift_init!r}; valid: {', '.join(_SHIFT_INITS)}")
        if int(dim) < 1 or int(num_units) < 1 or int(fc2_hidden_size) < 1:
            raise ValueError(f"dim ({dim}), num_units ({num_units}) and fc2_hidden_size ({fc2_hidden_size}) "
                             "must be >= 1")
        self.dim, self.num_units = int(dim), int(num_units)
        self.weighting = weighting
        self.shift = bool(shift)
        self.l2_normalize_input = bool(l2_normalize_input)
        if weighting == "fc1":
            self.score_fc = nn.Linear(self.dim, self.num_units)           # all N units in one matmul
            self.hidden_fc = None
        else:
            self.hidden_fc = nn.Linear(self.dim, int(fc2_hidden_size))
            self.score_fc = nn.Linear(int(fc2_hidden_size), self.num_units)
        self.score_bn = MaskedBatchNorm1D(self.num_units) if score_batch_norm else None
        self.score_dropout = nn.Dropout(score_drop_rate) if score_drop_rate > 0 else None
        if self.shift:
            if shift_init == "constant":
                a_init, b_init = nn.initializer.Constant(1.0), nn.initializer.Constant(0.0)
            else:
                std = self.num_units ** -0.25
                a_init, b_init = nn.initializer.Normal(0.0, std), nn.initializer.Normal(0.0, std)
            self.alpha = self.create_parameter([self.num_units], default_initializer=a_init)
            self.beta = self.create_parameter([self.num_units], default_initializer=b_init)

    def _frames(self, x: paddle.Tensor) -> paddle.Tensor:
        return F.normalize(x, p=2, axis=-1) if self.l2_normalize_input else x

    def _weights(self, x: paddle.Tensor, mask: paddle.Tensor) -> paddle.Tensor:
        h = paddle.tanh(self.hidden_fc(x)) if self.hidden_fc is not None else x
        scores = self.score_fc(h).transpose([0, 2, 1])                     # [B, N, T]
        if self.score_bn is not None:
            scores = self.score_bn(scores, mask)
        if self.score_dropout is not None:
            scores = self.score_dropout(scores)
        return masked_softmax(scores, mask.unsqueeze(1), axis=2)

    def attention_weights(self, x: paddle.Tensor, mask: paddle.Tensor) -> paddle.Tensor:
        """Attention weights float32 [B, N, T] of the N units (each row sums to 1 over the valid frames,
        exactly 0 on padding) for frames ``x`` [B, T, D] and ``mask`` bool [B, T]."""
        return self._weights(self._frames(x), mask)

    def forward(self, x: paddle.Tensor, mask: paddle.Tensor) -> paddle.Tensor:
        """Pool the frames ``x`` [B, T, D] (valid where ``mask`` [B, T]) into float32 [B, N*D]."""
        x = self._frames(x)
        pooled = paddle.matmul(self._weights(x, mask), x)                  # [B, N, D]
        if self.shift:
            v = pooled * self.alpha.reshape([1, -1, 1]) + self.beta.reshape([1, -1, 1])
            pooled = F.normalize(v, p=2, axis=-1, epsilon=1e-12) * (1.0 / math.sqrt(self.num_units))
        return paddle.flatten(pooled, start_axis=1)


@BACKBONES.register()
class AttentionCluster(FrameBackbone):
    """One :class:`ShiftingAttentionCluster` per modality, outputs concatenated (module docstring).

    Args:
        feature_names, feature_dims, dequantize_input: the modalities, see :class:`FrameBackbone`.
        cluster_nums: attention units per modality, e.g. ``[32, 32]`` (legacy Paddle) or ``[128, 16]``
            (public TensorFlow version).
        weighting, fc2_hidden_size, shift, shift_init, l2_normalize_input, score_batch_norm,
        score_drop_rate: see :class:`ShiftingAttentionCluster` (the same for every modality).

    Inputs and output as :class:`FrameBackbone`, with ``out_channels = sum_m cluster_nums[m] * feature_dims[m]``.
    Padded frames do not change the output. :meth:`attention_weights` gives one float32 [B, N_m, T] tensor
    per modality (call it in eval mode for deterministic weights: no score dropout, running batch-norm
    statistics).

    Raises:
        ValueError: if ``cluster_nums`` and ``feature_names`` differ in length, or for an invalid modality or
            cluster option.
    """

    def __init__(self, feature_names: Sequence[str] = ("rgb", "audio"),
                 feature_dims: Sequence[PositiveInt] = (1024, 128), cluster_nums: Sequence[PositiveInt] = (32, 32),
                 weighting: str = "fc1", fc2_hidden_size: PositiveInt = 256,
                 shift: bool = True, shift_init: str = "constant", l2_normalize_input: bool = False,
                 score_batch_norm: bool = False, score_drop_rate: DropRate = 0.0,
                 dequantize_input: bool = True) -> None:
        if not len(feature_names) == len(feature_dims) == len(cluster_nums):
            raise ValueError(f"feature_names {list(feature_names)}, feature_dims {list(feature_dims)} and "
                             f"cluster_nums {list(cluster_nums)} must have the same length")
        super().__init__(feature_names, feature_dims, dequantize_input)
        self.cluster_nums = [int(n) for n in cluster_nums]
        self.clusters = nn.LayerList([
            ShiftingAttentionCluster(d, n, weighting=weighting, fc2_hidden_size=fc2_hidden_size, shift=shift,
                                     shift_init=shift_init, l2_normalize_input=l2_normalize_input,
                                     score_batch_norm=score_batch_norm, score_drop_rate=score_drop_rate)
            for d, n in zip(self.feature_dims, self.cluster_nums)])
        self.out_channels = sum(d * n for d, n in zip(self.feature_dims, self.cluster_nums))

    def pool_modality(self, index: int, x: paddle.Tensor, mask: paddle.Tensor,
                      lengths: paddle.Tensor) -> paddle.Tensor:
        """Cluster output of modality ``index``: float32 [B, cluster_nums[index] * feature_dims[index]]."""
        return self.clusters[index](x, mask)

    def modality_attention(self, index: int, x: paddle.Tensor, mask: paddle.Tensor,
                           lengths: paddle.Tensor) -> paddle.Tensor:
        """Attention weights of modality ``index``'s units, float32 [B, N, T] (rows sum to 1 over the valid
        frames, exactly 0 on padding)."""
        return self.clusters[index].attention_weights(x, mask)
