"""NeXtVLAD backbone: grouped, attention-weighted NetVLAD per modality, then a hidden layer with SE context gating.

Follows Lin, Xiao, Fan, "NeXtVLAD: An Efficient Neural Network to Aggregate Frame-level Features for Large-scale
Video Classification", ECCV 2018 workshops (arXiv 1811.05014), §3. For one modality with valid frames
``x_1..x_T`` (width D), expansion ``lambda``, G groups and K clusters:

    x~_t      = W_e x_t + b_e                                   (expansion FC, width lambda*D)
    x~_t^g    = columns g*D' .. (g+1)*D' of x~_t,  D' = lambda*D/G   (the G group features)
    a_g(t)    = sigmoid(w_g . x~_t + b_g)                       (group attention, one scalar per group)
    a_gk(t)   = softmax_k(w_gk . x~_t + b_gk)                   (soft assignment of group g to cluster k,
                                                                 computed from the whole x~_t)
    v_kj      = sum_t sum_g a_g(t) a_gk(t) (x~_t^g[j] - c_kj)   (VLAD residuals, summed over groups; the
                                                                 K centres c_k (width D') are shared by groups)
    v_k      <- v_k / ||v_k||_2                                 (intra-normalisation, per cluster)
    v        <- flatten(v) / ||flatten(v)||_2                   (L2 of the whole vector; cluster-major, K*D')

Padded frames (``t >= lengths``) contribute nothing: their group attention is set to 0 and their expanded
features to 0 before the sums. The per-modality vectors are concatenated, then (the paper's single model, its
Fig. 3 "NeXtVLAD + SE context gating" block before the classifier): dropout, a hidden FC without bias with
batch norm, and SE-style context gating ``y = h * sigmoid(BN(W2 relu(BN(W1 h))))`` with ``W1: H -> H/r``
(:class:`paddlevideo.modeling.layers.context_gating.ContextGating` with ``hidden_size = H / r``). The output is
``y``, float32 ``[B, hidden_size]``; the classifier (MoE or logistic) is the head.

Defaults are the paper's best single model (also the legacy Paddle video zoo's ``nextvlad`` configuration):
``lambda = 2``, ``G = 8``, ``K = 128`` for rgb and ``K = 64`` for audio (half, as the authors' TensorFlow
code ``linrongc/youtube-8m`` builds the audio branch), hidden size ``H = 2048``, gating reduction ``r = 8``,
dropout 0.5. Differences from the authors' TensorFlow code: it batch-normalises the assignment logits and the
VLAD vector instead of the final L2 normalisation; here the paper's equations are followed.

Size: the paper's parameter count for one modality's NeXtVLAD plus the hidden FC is
``lambda*N*(N + G + K*(G + (H + 1)/G))`` (biases aside), which the full config matches. With the defaults
the backbone has 76.78 M parameters (rgb NeXtVLAD 4.25 M, audio 0.17 M, hidden FC 71.3 M, SE gating 1.06 M,
biases and batch norms); the legacy Paddle zoo states "under 80 M parameters, GAP above 0.87" for this single
model, and the authors' slides "79 M parameters" for their final model. The classifier adds ``H * C``
(logistic) or about ``(2M + 1) * H * C`` (MoE with M mixtures): the full config with its MoE head has
120.5 M parameters (460 MB in float32). See ``tests/modeling/test_nextvlad.py``.
"""
from __future__ import annotations

from collections.abc import Sequence

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from ...utils.types import DropRate, PositiveInt
from ..layers.context_gating import ContextGating
from ..registry import BACKBONES
from .base import FrameBackbone

__all__ = ["NeXtVLADPooling", "NeXtVLAD"]


class NeXtVLADPooling(nn.Layer):
    """NeXtVLAD aggregation of one modality's frames (module docstring, paper §3.2).

    Args:
        dim: frame feature width D.
        expansion: lambda, the expansion factor of the first FC (width lambda*D).
        groups: G, the number of groups; lambda*D must be divisible by G.
        clusters: K, the number of clusters.

    Parameters: ``expand`` (Linear D -> lambda*D), ``attention`` (Linear lambda*D -> G), ``assign`` (Linear
    lambda*D -> G*K, column ``g*K + k`` is group g, cluster k), ``centers`` float32 [K, lambda*D/G].

    Inputs of :meth:`forward`: ``x`` float32 [B, T, D], ``mask`` bool [B, T] (True on valid frames).
    Output float32 [B, K * lambda*D/G], cluster-major (columns ``k*D' .. (k+1)*D'`` are cluster k), L2 norm 1
    (0 for a video without valid frames). Padded frames do not change it.

    Raises:
        ValueError: ``expansion * dim`` is not divisible by ``groups``, or a size is < 1.
    """

    def __init__(self, dim: int, expansion: int = 2, groups: int = 8, clusters: int = 128) -> None:
        super().__init__()
        dim, expansion, groups, clusters = int(dim), int(expansion), int(groups), int(clusters)
        if min(dim, expansion, groups, clusters) < 1:
            raise ValueError(f"dim ({dim}), expansion ({expansion}), groups ({groups}) and clusters ({clusters}) "
                             "must be >= 1")
        if (expansion * dim) % groups:
            raise ValueError(f"expansion * dim = {expansion} * {dim} = {expansion * dim} is not divisible by "
                             f"groups = {groups}")
        self.dim, self.expansion, self.groups, self.clusters = dim, expansion, groups, clusters
        self.group_dim = expansion * dim // groups
        self.out_channels = clusters * self.group_dim
        self.expand = nn.Linear(dim, expansion * dim)
        self.attention = nn.Linear(expansion * dim, groups)
        self.assign = nn.Linear(expansion * dim, groups * clusters)
        self.centers = self.create_parameter(
            [clusters, self.group_dim], default_initializer=nn.initializer.Uniform(-0.01, 0.01))

    def forward(self, x: paddle.Tensor, mask: paddle.Tensor) -> paddle.Tensor:
        """``x`` float32 [B, T, D], ``mask`` bool [B, T] -> float32 [B, K * D'] (class docstring)."""
        valid = mask.astype(x.dtype).unsqueeze(-1)                           # [B, T, 1]
        xt = self.expand(x) * valid                                          # [B, T, lambda*D], 0 on padding
        att = F.sigmoid(self.attention(xt)) * valid                          # [B, T, G], 0 on padding
        logits = self.assign(xt).reshape([0, 0, self.groups, self.clusters])
        a = F.softmax(logits, axis=-1) * att.unsqueeze(-1)                   # [B, T, G, K]
        a = a.reshape([0, -1, self.clusters])                                # [B, T*G, K]
        xg = xt.reshape([0, -1, self.group_dim])                             # [B, T*G, D']
        vlad = paddle.matmul(a, xg, transpose_x=True)                        # [B, K, D']
        vlad = vlad - a.sum(axis=1).unsqueeze(-1) * self.centers.unsqueeze(0)
        vlad = F.normalize(vlad, p=2, axis=-1, epsilon=1e-12)                # intra-normalisation
        return F.normalize(paddle.flatten(vlad, start_axis=1), p=2, axis=1, epsilon=1e-12)


@BACKBONES.register()
class NeXtVLAD(FrameBackbone):
    """NeXtVLAD per modality, concatenated, then dropout, hidden FC + batch norm and SE context gating
    (module docstring).

    Args:
        feature_names, feature_dims, dequantize_input: the modalities, see :class:`FrameBackbone`.
        cluster_sizes: K per modality (default ``[128, 64]``: rgb, audio).
        expansion: lambda (the same for every modality).
        groups: G (the same for every modality); ``expansion * feature_dims[m]`` must be divisible by it.
        hidden_size: H, the width of the hidden FC and of the output (``out_channels``).
        gating_reduction: r, the SE gating's bottleneck is ``H // r`` wide.
        drop_rate: dropout on the concatenated NeXtVLAD vectors before the hidden FC (training only).

    Inputs and output as :class:`FrameBackbone`: float32 ``[B, hidden_size]``. Padded frames do not change
    the output. Call in eval mode for deterministic outputs (no dropout, running batch-norm statistics).

    Raises:
        ValueError: ``cluster_sizes`` and ``feature_names`` differ in length, ``hidden_size // gating_reduction``
            is 0, or an invalid modality / pooling size (see :class:`NeXtVLADPooling`).
    """

    def __init__(self, feature_names: Sequence[str] = ("rgb", "audio"),
                 feature_dims: Sequence[PositiveInt] = (1024, 128),
                 cluster_sizes: Sequence[PositiveInt] = (128, 64), expansion: PositiveInt = 2,
                 groups: PositiveInt = 8, hidden_size: PositiveInt = 2048, gating_reduction: PositiveInt = 8,
                 drop_rate: DropRate = 0.5, dequantize_input: bool = True) -> None:
        if not len(feature_names) == len(feature_dims) == len(cluster_sizes):
            raise ValueError(f"feature_names {list(feature_names)}, feature_dims {list(feature_dims)} and "
                             f"cluster_sizes {list(cluster_sizes)} must have the same length")
        if int(hidden_size) // int(gating_reduction) < 1:
            raise ValueError(f"hidden_size // gating_reduction = {hidden_size} // {gating_reduction} must be >= 1")
        super().__init__(feature_names, feature_dims, dequantize_input)
        self.cluster_sizes = [int(k) for k in cluster_sizes]
        self.pools = nn.LayerList([NeXtVLADPooling(d, expansion, groups, k)
                                   for d, k in zip(self.feature_dims, self.cluster_sizes)])
        vlad_width = sum(p.out_channels for p in self.pools)
        self.dropout = nn.Dropout(drop_rate) if drop_rate > 0 else None
        self.hidden_fc = nn.Linear(vlad_width, int(hidden_size), bias_attr=False)
        self.hidden_bn = nn.BatchNorm1D(int(hidden_size))
        self.gating = ContextGating(int(hidden_size), hidden_size=int(hidden_size) // int(gating_reduction),
                                    batch_norm=True)
        self.out_channels = int(hidden_size)

    def pool_all(self, xs: list[paddle.Tensor], mask: paddle.Tensor, lengths: paddle.Tensor) -> paddle.Tensor:
        """NeXtVLAD of every modality, concatenated, then dropout, hidden FC + BN and SE gating:
        float32 ``[B, hidden_size]``."""
        v = paddle.concat([pool(x, mask) for pool, x in zip(self.pools, xs)], axis=1)
        if self.dropout is not None:
            v = self.dropout(v)
        return self.gating(self.hidden_bn(self.hidden_fc(v)))
