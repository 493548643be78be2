"""NeXtVLAD backbone: grouped, attention-weighted NetVLAD per modality, then a hidden layer with SE context gating.

Follows Lin, Xiao, Fan, "NeXtVLAD: An Efficient Neural Network to Aggregate Frame-level Features for Large-scale
Video Classification", ECCV 2018 workshops (arXiv 1811.05014), §3.2-3.3 and Figs. 2-4. For one modality with valid
frames ``x_1..x_M`` (width N), expansion ``lambda``, G groups and K clusters:

    x._i      = W_e x_i + b_e                                   (expansion FC, width lambda*N)
    x~_i^g    = columns g*N' .. (g+1)*N' of x._i,  N' = lambda*N/G   (the G group features)
    a_g(i)    = sigmoid(w_g . x._i + b_g)                       (eq. 7: attention, one scalar per group)
    a_gk(i)   = softmax_k(w_gk . x._i + b_gk)                   (eq. 6: soft assignment of group g to
                                                                 cluster k, computed from the whole x._i)
    y_jk      = sum_i sum_g mask(i) a_g(i) a_gk(i) (x~_i^g[j] - c_kj)   (eqs. 5, 8, 18: the K centres c_k
                                                                 (width N') are shared by the groups)
    y_k      <- y_k / ||y_k||_2                                 (intra-normalisation, per cluster)
    y        <- flatten(y) / ||flatten(y)||_2                   (L2 of the whole vector; cluster-major, K*N')

Padded frames (``mask(i) = 0``, eq. 18-19) contribute nothing: their group attention and expanded features are set
to 0 before the sums. The final L2 only divides by ``sqrt(K)`` (every intra-normalised cluster has norm 1), a
constant that the batch norm after the hidden FC absorbs. The per-modality vectors are concatenated, then (Fig. 3):
dropout, a hidden FC without bias with batch norm, and SE context gating (Fig. 4)
``y = h * sigmoid(BN(W2 relu(BN(W1 h))))`` with ``W1: H -> H/r``, ``W2: H/r -> H``
(:class:`paddlevideo.modeling.layers.context_gating.ContextGating` with ``hidden_size = H / r``). The output is
``y``, float32 ``[B, H]``; the classifier (the paper's: logistic) is the head.

Defaults are the paper's best single model (Table 2: "single NeXtVLAD, 79M", GAP 0.87846 on the 2018 challenge's
private leaderboard; a branch of ``scripts/train_mix_nextvlad_final_submission.sh`` of the authors' code
``linrongc/youtube-8m``): ``lambda = 2``, ``H = 2048``, dropout 0.5, ``G = 8`` and ``K = 112`` for rgb, and for
audio half of both, ``G = 4`` and ``K = 56`` (the authors' code builds the audio branch with ``groups // 2`` and
``cluster_size // 2``), SE reduction ``r = 16``. Table 1's best local model is the same with ``K = 128`` (audio
64) and ``r = 8`` (89M; ``configs/recognition/nextvlad/nextvlad_youtube8m_128k.yaml``).

Size: eq. 9 gives ``lambda*N*(N + G + K*(G + (H + 1)/G))`` weights per modality for the expansion FC, the group
attention, the assignment FC, the centres and this modality's rows of the hidden FC; eq. 10 gives ``2*H*H/r``
for the SE gating, and the logistic classifier adds ``H*C``. ``docs/nextvlad.md`` works the numbers out and
``tests/modeling/test_nextvlad.py`` checks the full configs against them.

Differences from the authors' TensorFlow code (the paper's equations are followed): their assignment FC has no
bias but a batch norm on its output, and they batch-normalise the intra-normalised VLAD vector (instead of the
final L2 here); their SE gating has no batch norm after its second FC (the paper's Fig. 4 has one, as here).
The paper's "reverse whitening" of the rgb input (``x_j * sqrt(e_j)`` with the eigenvalues of Google's PCA) is not
applied: those eigenvalues are not part of this package, and the sample data is not PCA-whitened.
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

    def __init__(self, dim: int, expansion: int = 2, groups: int = 8, clusters: int = 112) -> None:
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
        cluster_sizes: K per modality (default ``[112, 56]``: rgb, audio).
        expansion: lambda (the same for every modality).
        groups: G per modality (default ``[8, 4]``), or one G for every modality; ``expansion * feature_dims[m]``
            must be divisible by ``groups[m]``.
        hidden_size: H, the width of the hidden FC and of the output (``out_channels``).
        gating_reduction: r, the SE gating's bottleneck is ``H // r`` wide.
        drop_rate: dropout on the concatenated NeXtVLAD vectors before the hidden FC (training only).

    Inputs and output as :class:`FrameBackbone`: float32 ``[B, hidden_size]``. Padded frames do not change
    the output. Call in eval mode for deterministic outputs (no dropout, running batch-norm statistics).

    Raises:
        ValueError: ``cluster_sizes`` or a list of ``groups`` differs in length from ``feature_names``,
            ``hidden_size // gating_reduction`` is 0, or an invalid modality / pooling size (see
            :class:`NeXtVLADPooling`).
    """

    def __init__(self, feature_names: Sequence[str] = ("rgb", "audio"),
                 feature_dims: Sequence[PositiveInt] = (1024, 128),
                 cluster_sizes: Sequence[PositiveInt] = (112, 56), expansion: PositiveInt = 2,
                 groups: PositiveInt | Sequence[PositiveInt] = (8, 4), hidden_size: PositiveInt = 2048,
                 gating_reduction: PositiveInt = 16, drop_rate: DropRate = 0.5,
                 dequantize_input: bool = True) -> None:
        group_list = [int(groups)] * len(feature_names) if isinstance(groups, int) else [int(g) for g in groups]
        if not len(feature_names) == len(feature_dims) == len(cluster_sizes) == len(group_list):
            raise ValueError(f"feature_names {list(feature_names)}, feature_dims {list(feature_dims)}, "
                             f"cluster_sizes {list(cluster_sizes)} and groups {group_list} must have the same "
                             "length (one entry per modality)")
        if int(hidden_size) // int(gating_reduction) < 1:
            raise ValueError(f"hidden_size // gating_reduction = {hidden_size} // {gating_reduction} must be >= 1")
        super().__init__(feature_names, feature_dims, dequantize_input)
        self.cluster_sizes = [int(k) for k in cluster_sizes]
        self.groups = group_list
        self.pools = nn.LayerList([NeXtVLADPooling(d, expansion, g, k)
                                   for d, g, k in zip(self.feature_dims, self.groups, self.cluster_sizes)])
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
