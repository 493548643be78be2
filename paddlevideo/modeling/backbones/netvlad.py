"""NetVLAD with context gating: learnable VLAD pooling per modality, a hidden FC and context gating.

Follows Arandjelović et al., "NetVLAD: CNN architecture for weakly supervised place recognition", CVPR 2016
(arXiv 1511.07247, eqs. 1-4), as used for video by Miech, Laptev, Sivic, "Learnable pooling with Context Gating
for video classification", arXiv 1706.06905 (§3-4; the YouTube-8M 2017 winner's "Gated NetVLAD"). For a modality
with valid frames ``x_1..x_T`` (width D) and K clusters with centres ``c_k`` [D]:

    a_k(x_t) = softmax_k(w_k . x_t + b_k)                       soft assignment (the CVPR paper's bias form)
    V[k, :]  = sum_{t valid} a_k(x_t) (x_t - c_k)               residuals over the VALID frames only
    V[k, :]  = V[k, :] / ||V[k, :]||_2                          intra-normalisation (per cluster)
    v        = flatten(V) / ||flatten(V)||_2                     L2 normalisation, [K*D], cluster-major

The modalities' vectors are concatenated, then ``h = W_h v + b_h`` (hidden FC, ``out_channels`` wide) and
context gating ``y = h * sigmoid(BN(W_g h))`` (arXiv 1706.06905 eq. 3,
:class:`paddlevideo.modeling.layers.context_gating.ContextGating`).

Choices against the authors' code (``loupe.py`` / ``frame_level_models.py`` of antoine77340/Youtube-8M-WILLOW):
the assignment uses the bias ``b_k`` of the CVPR paper rather than their batch norm of the assignment scores (a
batch norm would need its statistics masked and makes a video's output depend on its batch in training); there is
no input batch norm; the centres are free parameters as in both; the hidden FC has a bias and no activation, as the
winner's best single model (``--netvlad_relu=False``); padded frames are masked out instead of sampling frames.
"""
from __future__ import annotations

from collections.abc import Sequence

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from ...utils.types import PositiveInt
from ..layers.context_gating import ContextGating
from ..registry import BACKBONES
from .base import FrameBackbone

__all__ = ["soft_assignments", "NetVLADPooling", "NetVLAD"]


def soft_assignments(assign: nn.Linear, x: paddle.Tensor, mask: paddle.Tensor) -> paddle.Tensor:
    """Soft assignment of every frame to K clusters, ``softmax_k(w_k . x_t + b_k)`` (arXiv 1511.07247 eq. 3):
    float32 [B, T, K], rows sum to 1 on valid frames and are exactly 0 on padded ones.

    Args:
        assign: the Linear D -> K holding the ``w_k`` and ``b_k``.
        x: float32 [B, T, D] frame features.
        mask: bool [B, T], True on valid frames.
    """
    return F.softmax(assign(x), axis=-1) * mask.unsqueeze(-1).astype(x.dtype)


class NetVLADPooling(nn.Layer):
    """The NetVLAD layer of one modality (module docstring): frames [B, T, D] -> normalised VLAD [B, K*D].

    Args:
        dim: D, the frame width.
        num_clusters: K.

    Parameters: ``assign`` (Linear D -> K, the ``w_k``, ``b_k``), ``centers`` float32 [K, D] (the ``c_k``,
    drawn from N(0, 1/D) as the authors' code).

    Inputs of :meth:`forward`: ``x`` float32 [B, T, D], ``mask`` bool [B, T] (True on valid frames). Output
    float32 [B, K*D], column ``k*D + d`` is cluster k, dimension d; each cluster block has norm ``1/sqrt(K)``
    and the whole vector norm 1 (unless a residual is 0, e.g. for a video without valid frames).
    """

    def __init__(self, dim: int, num_clusters: int) -> None:
        super().__init__()
        self.dim, self.num_clusters = int(dim), int(num_clusters)
        self.out_channels = self.num_clusters * self.dim
        self.assign = nn.Linear(self.dim, self.num_clusters)
        self.centers = self.create_parameter(
            [self.num_clusters, self.dim], default_initializer=nn.initializer.Normal(0.0, self.dim ** -0.5))

    def assignments(self, x: paddle.Tensor, mask: paddle.Tensor) -> paddle.Tensor:
        """Soft assignments float32 [B, T, K] (softmax over the clusters), exactly 0 on padded frames."""
        return soft_assignments(self.assign, x, mask)

    def forward(self, x: paddle.Tensor, mask: paddle.Tensor) -> paddle.Tensor:
        """VLAD of the valid frames of ``x`` [B, T, D] (``mask`` [B, T]): float32 [B, K*D]."""
        a = self.assignments(x, mask)                                        # [B, T, K]
        weighted = paddle.matmul(a, x, transpose_x=True)                     # [B, K, D]: sum_t a_tk x_t
        mass = a.sum(axis=1).unsqueeze(-1)                                   # [B, K, 1]: sum_t a_tk
        vlad = weighted - mass * self.centers.unsqueeze(0)                   # sum_t a_tk (x_t - c_k)
        vlad = F.normalize(vlad, p=2, axis=-1, epsilon=1e-12)               # intra-normalisation
        return F.normalize(paddle.flatten(vlad, start_axis=1), p=2, axis=-1, epsilon=1e-12)


@BACKBONES.register()
class NetVLAD(FrameBackbone):
    """Gated NetVLAD (module docstring): one :class:`NetVLADPooling` per modality, concatenated, then a hidden
    FC (``hidden_size``) and context gating.

    Args:
        feature_names, feature_dims, dequantize_input: the modalities, see :class:`FrameBackbone`.
        cluster_sizes: K per modality; the winner's best model used 256 for rgb and 128 for audio.
        hidden_size: width of the hidden FC and of the output (``out_channels``).
        gating: apply context gating after the hidden FC (True in the paper's best model).

    Inputs and output as :class:`FrameBackbone`: float32 [B, hidden_size]. Padded frames do not change the
    output. Parameters: ``sum_m K_m * (2 D_m + 1) + (sum_m K_m D_m + 1) * H`` plus the gating's ``H*H + 4H``.

    Raises:
        ValueError: ``cluster_sizes`` and ``feature_names`` differ in length, or an invalid modality.
    """

    def __init__(self, feature_names: Sequence[str] = ("rgb", "audio"),
                 feature_dims: Sequence[PositiveInt] = (1024, 128),
                 cluster_sizes: Sequence[PositiveInt] = (256, 128), hidden_size: PositiveInt = 1024,
                 gating: bool = True, dequantize_input: bool = True) -> None:
        super().__init__(feature_names, feature_dims, dequantize_input)
        if len(cluster_sizes) != len(self.feature_names):
            raise ValueError(f"cluster_sizes {list(cluster_sizes)} must give one cluster count per modality "
                             f"({', '.join(self.feature_names)})")
        self.cluster_sizes = [int(k) for k in cluster_sizes]
        self.vlads = nn.LayerList([self.make_pooling(d, k) for d, k in zip(self.feature_dims, self.cluster_sizes)])
        vlad_dim = sum(p.out_channels for p in self.vlads)
        self.hidden = nn.Linear(vlad_dim, int(hidden_size))
        self.gating = ContextGating(int(hidden_size), batch_norm=True) if gating else None
        self.out_channels = int(hidden_size)

    def make_pooling(self, dim: int, num_clusters: int) -> nn.Layer:
        """The pooling layer of one modality (width ``dim``, ``num_clusters`` clusters); it has an ``out_channels``
        attribute and maps ``(x [B, T, dim], mask [B, T])`` to ``[B, out_channels]``. Subclasses with another
        pooling of the same family (``learnable_pooling.py``) override this."""
        return NetVLADPooling(dim, num_clusters)

    def pool_all(self, xs: list[paddle.Tensor], mask: paddle.Tensor, lengths: paddle.Tensor) -> paddle.Tensor:
        """``xs`` float32 [B, T, D_m] per modality, ``mask`` bool [B, T] -> float32 [B, hidden_size]."""
        v = paddle.concat([vlad(x, mask) for vlad, x in zip(self.vlads, xs)], axis=1)
        h = self.hidden(v)
        return self.gating(h) if self.gating is not None else h
