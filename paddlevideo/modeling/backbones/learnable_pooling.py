"""NetFV and Soft-DBoW: the other two clustering poolings of Miech, Laptev, Sivic, "Learnable pooling with Context
Gating for video classification", arXiv 1706.06905 (§3.2), on the gated NetVLAD model of ``netvlad.py``.

Both share NetVLAD's soft assignment ``a_k(x_t) = softmax_k(w_k . x_t + b_k)`` (exactly 0 on padded frames,
:func:`paddlevideo.modeling.backbones.netvlad.soft_assignments`) and its model around the pooling: one pooling per
modality, concatenated, a hidden FC (``hidden_size``, bias, no activation) and optional context gating
(:class:`paddlevideo.modeling.backbones.netvlad.NetVLAD`). Only the pooled vector differs. For a modality with
valid frames ``x_1..x_T`` (width D) and K clusters:

**NetFV** (a learnable Fisher Vector): centres ``c_k`` [D] and per-cluster, per-dimension scales
``s_k = w_k^2 + 1e-6`` [D] (``w_k`` learnt, so that ``s_k > 0``):

    FV1[k, :] = sum_t a_k(x_t) (x_t - c_k) / s_k                       first order,  [K, D]
    FV2[k, :] = sum_t a_k(x_t) (((x_t - c_k) / s_k)^2 - 1)             second order, [K, D]
    FV1[k, :] <- FV1[k, :] / ||FV1[k, :]||;  FV1 <- FV1 / ||FV1||      intra-normalisation, then L2
    FV2       <- FV2 / ||FV2||                                         L2
    v         = [flatten(FV1), flatten(FV2)]                           [2*K*D], cluster-major halves

**Soft-DBoW** (a soft bag of visual words): ``v[k] = sum_t a_k(x_t)``, then ``v <- v / ||v||`` ([K]).

The normalisations follow the authors' code (``NetFV`` and ``SoftDBoF`` of antoine77340/Youtube-8M-WILLOW, also
``loupe.py`` of antoine77340/LOUPE): the first-order Fisher part is intra-normalised, the second-order part is only
L2-normalised. As in ``netvlad.py``, the assignment has the bias ``b_k`` instead of the authors' batch norm (whose
training statistics would mix padded frames and make a video's output depend on its batch), and all valid frames
are pooled (the authors sample 300 frames with replacement). Their Soft-DBoW option of concatenating a max pooling
of the assignments (``--softdbof_maxpool``, off in their runs) is not built.

Sizes of the authors' runs (their README): Gated NetFV with 128 clusters for rgb and 64 (half) for audio, hidden
1024, context gating; Soft-DBoW with 8000 clusters for rgb and 1000 (an eighth) for audio, hidden 1024, no gating.
Parameters per modality: NetFV ``K*(3D + 1) + 2*K*D*H`` (assignment, centres, scales, hidden rows), Soft-DBoW
``K*(D + 1) + K*H``; plus the hidden bias H and, with gating, ``H*H + 2H`` (``docs/netvlad_dbof.md``).
"""
from __future__ import annotations

from collections.abc import Sequence

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from ...utils.types import PositiveInt
from ..registry import BACKBONES
from .netvlad import NetVLAD, soft_assignments

__all__ = ["NetFVPooling", "SoftDBoWPooling", "NetFV", "SoftDBoW"]

#: Added to the squared scale weights so that the Fisher scales stay > 0 (the authors' 1e-6).
SCALE_EPS = 1e-6


class NetFVPooling(nn.Layer):
    """The NetFV layer of one modality (module docstring): frames [B, T, D] -> [B, 2*K*D].

    Args:
        dim: D, the frame width.
        num_clusters: K.

    Parameters: ``assign`` (Linear D -> K), ``centers`` float32 [K, D] (drawn from N(0, 1/D)), ``scale_weights``
    float32 [K, D] (the ``w_k`` of ``s_k = w_k^2 + 1e-6``, drawn from N(1, 1/D), both as the authors' code).

    Inputs of :meth:`forward`: ``x`` float32 [B, T, D], ``mask`` bool [B, T] (True on valid frames). Output float32
    [B, 2*K*D]: columns ``k*D + d`` are FV1 (cluster k, dimension d, norm 1 over its K*D), then the same for FV2.
    """

    def __init__(self, dim: int, num_clusters: int) -> None:
        super().__init__()
        self.dim, self.num_clusters = int(dim), int(num_clusters)
        self.out_channels = 2 * self.num_clusters * self.dim
        self.assign = nn.Linear(self.dim, self.num_clusters)
        std = self.dim ** -0.5
        self.centers = self.create_parameter(
            [self.num_clusters, self.dim], default_initializer=nn.initializer.Normal(0.0, std))
        self.scale_weights = self.create_parameter(
            [self.num_clusters, self.dim], default_initializer=nn.initializer.Normal(1.0, std))

    def scales(self) -> paddle.Tensor:
        """The Fisher scales ``s_k = w_k^2 + 1e-6``: float32 [K, D], > 0."""
        return self.scale_weights * self.scale_weights + SCALE_EPS

    def forward(self, x: paddle.Tensor, mask: paddle.Tensor) -> paddle.Tensor:
        """NetFV of the valid frames of ``x`` [B, T, D] (``mask`` [B, T]): float32 [B, 2*K*D]."""
        a = soft_assignments(self.assign, x, mask)                          # [B, T, K], 0 on padding
        mass = a.sum(axis=1).unsqueeze(-1)                                  # [B, K, 1]: sum_t a_tk
        first = paddle.matmul(a, x, transpose_x=True)                       # [B, K, D]: sum_t a_tk x_t
        second = paddle.matmul(a, x * x, transpose_x=True)                  # [B, K, D]: sum_t a_tk x_t^2
        c, s = self.centers.unsqueeze(0), self.scales().unsqueeze(0)
        fv1 = (first - mass * c) / s                                        # sum_t a_tk (x_t - c_k) / s_k
        fv2 = (second - 2.0 * c * first + mass * c * c) / (s * s) - mass    # sum_t a_tk (((x_t - c_k)/s_k)^2 - 1)
        fv1 = F.normalize(fv1, p=2, axis=-1, epsilon=1e-12)                 # intra-normalisation
        fv1 = F.normalize(paddle.flatten(fv1, start_axis=1), p=2, axis=-1, epsilon=1e-12)
        fv2 = F.normalize(paddle.flatten(fv2, start_axis=1), p=2, axis=-1, epsilon=1e-12)
        return paddle.concat([fv1, fv2], axis=1)


class SoftDBoWPooling(nn.Layer):
    """The Soft-DBoW layer of one modality (module docstring): frames [B, T, D] -> L2-normalised [B, K].

    Args:
        dim: D, the frame width.
        num_clusters: K.

    Parameters: ``assign`` (Linear D -> K). Inputs of :meth:`forward` as :class:`NetFVPooling`; output float32
    [B, K], ``v[k] = sum_t a_k(x_t)`` over the valid frames, divided by its L2 norm (0 without valid frames).
    """

    def __init__(self, dim: int, num_clusters: int) -> None:
        super().__init__()
        self.dim, self.num_clusters = int(dim), int(num_clusters)
        self.out_channels = self.num_clusters
        self.assign = nn.Linear(self.dim, self.num_clusters)

    def forward(self, x: paddle.Tensor, mask: paddle.Tensor) -> paddle.Tensor:
        """Soft bag of words of the valid frames of ``x`` [B, T, D] (``mask`` [B, T]): float32 [B, K]."""
        bow = soft_assignments(self.assign, x, mask).sum(axis=1)            # [B, K]
        return F.normalize(bow, p=2, axis=-1, epsilon=1e-12)


@BACKBONES.register()
class NetFV(NetVLAD):
    """Gated NetFV (module docstring): one :class:`NetFVPooling` per modality, concatenated, then a hidden FC
    (``hidden_size``) and context gating; the model of :class:`paddlevideo.modeling.backbones.netvlad.NetVLAD`
    with another pooling.

    Args:
        feature_names, feature_dims, dequantize_input: the modalities, see
            :class:`paddlevideo.modeling.backbones.base.FrameBackbone`.
        cluster_sizes: K per modality; the authors' Gated NetFV used 128 for rgb and 64 for audio.
        hidden_size: width of the hidden FC and of the output (``out_channels``).
        gating: context gating after the hidden FC.

    Inputs and output as ``FrameBackbone``: float32 [B, hidden_size]; padded frames do not change the output.

    Raises:
        ValueError: ``cluster_sizes`` and ``feature_names`` differ in length, or an invalid modality.
    """

    def __init__(self, feature_names: Sequence[str] = ("rgb", "audio"),
                 feature_dims: Sequence[PositiveInt] = (1024, 128),
                 cluster_sizes: Sequence[PositiveInt] = (128, 64), hidden_size: PositiveInt = 1024,
                 gating: bool = True, dequantize_input: bool = True) -> None:
        super().__init__(feature_names, feature_dims, cluster_sizes, hidden_size, gating, dequantize_input)

    def make_pooling(self, dim: int, num_clusters: int) -> nn.Layer:
        """A :class:`NetFVPooling` (see ``NetVLAD.make_pooling``)."""
        return NetFVPooling(dim, num_clusters)


@BACKBONES.register()
class SoftDBoW(NetVLAD):
    """Soft-DBoW (module docstring): one :class:`SoftDBoWPooling` per modality, concatenated, then a hidden FC
    (``hidden_size``) and optional context gating; the model of
    :class:`paddlevideo.modeling.backbones.netvlad.NetVLAD` with another pooling.

    Args:
        feature_names, feature_dims, dequantize_input: the modalities, see
            :class:`paddlevideo.modeling.backbones.base.FrameBackbone`.
        cluster_sizes: K per modality; the authors' Soft-DBoW used 8000 for rgb and 1000 for audio.
        hidden_size: width of the hidden FC and of the output (``out_channels``).
        gating: context gating after the hidden FC (off in the authors' Soft-DBoW run).

    Inputs and output as ``FrameBackbone``: float32 [B, hidden_size]; padded frames do not change the output.

    Raises:
        ValueError: ``cluster_sizes`` and ``feature_names`` differ in length, or an invalid modality.
    """

    def __init__(self, feature_names: Sequence[str] = ("rgb", "audio"),
                 feature_dims: Sequence[PositiveInt] = (1024, 128),
                 cluster_sizes: Sequence[PositiveInt] = (8000, 1000), hidden_size: PositiveInt = 1024,
                 gating: bool = False, dequantize_input: bool = True) -> None:
        super().__init__(feature_names, feature_dims, cluster_sizes, hidden_size, gating, dequantize_input)

    def make_pooling(self, dim: int, num_clusters: int) -> nn.Layer:
        """A :class:`SoftDBoWPooling` (see ``NetVLAD.make_pooling``)."""
        return SoftDBoWPooling(dim, num_clusters)
