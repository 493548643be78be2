"""DBoF, Deep Bag of Frames: a per-frame projection to a wide "cluster" space, pooled over the frames.

Follows Abu-El-Haija et al., "YouTube-8M: A Large-Scale Video Classification Benchmark", arXiv 1609.08675
(§5.2.2, Deep Bag of Frame pooling) and the ``DbofModel`` of Google's YouTube-8M starter code
(``frame_level_models.py``, also the DBoF backbone of TF Model Garden ``official/projects/yt8m``). The modalities
are concatenated frame by frame (early fusion, as the starter's reader does), ``x_t`` [D = sum_m D_m], then

    u_t = BN_in(x_t)                           input batch norm (optional, on in the starter)
    z_t = relu6(BN_c(W_c u_t))                 projection to ``cluster_size``, no bias (BN's shift replaces it)
    p   = max_{t valid} z_t   or   mean_{t valid} z_t          pooling over the VALID frames only
    h   = relu6(BN_h(W_h p))                   hidden FC, ``hidden_size`` = ``out_channels``

``BN_in`` and ``BN_c`` take their training statistics over the valid frames only
(:class:`paddlevideo.modeling.layers.masked_batch_norm.MaskedBatchNorm1D`), so padding never changes a video's
output; ``BN_h`` is a plain batch norm over the videos. Without ``batch_norm`` the three batch norms are replaced by
biases, as the starter's ``dbof_add_batch_norm=False``. The starter samples ``iterations`` random frames per video
instead of masking; here every valid frame is pooled (sample frames with the ``SampleFrames`` pipeline step).
"""
from __future__ import annotations

from collections.abc import Sequence

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from ...utils.types import PositiveInt
from ..layers.masked_batch_norm import MaskedBatchNorm1D
from ..registry import BACKBONES
from .base import FrameBackbone

__all__ = ["DBoF"]

_POOLINGS = ("max", "average")


@BACKBONES.register()
class DBoF(FrameBackbone):
    """Deep Bag of Frames over the concatenated modalities (module docstring).

    Args:
        feature_names, feature_dims, dequantize_input: the modalities, see :class:`FrameBackbone`.
        cluster_size: width of the per-frame projection (starter default 8192).
        hidden_size: width of the hidden FC and of the output (``out_channels``; starter default 1024).
        pooling: ``max`` (starter default) or ``average`` over the valid frames.
        batch_norm: the input, cluster and hidden batch norms (starter default True); False uses biases.

    Inputs and output as :class:`FrameBackbone`: float32 [B, hidden_size], values in [0, 6]. Padded frames do not
    change the output; a video without valid frames pools to 0.

    Raises:
        ValueError: unknown ``pooling``, or an invalid modality.
    """

    def __init__(self, feature_names: Sequence[str] = ("rgb", "audio"),
                 feature_dims: Sequence[PositiveInt] = (1024, 128), cluster_size: PositiveInt = 8192,
                 hidden_size: PositiveInt = 1024, pooling: str = "max", batch_norm: bool = True,
                 dequantize_input: bool = True) -> None:
        super().__init__(feature_names, feature_dims, dequantize_input)
        if pooling not in _POOLINGS:
            raise ValueError(f"unknown pooling {pooling!r}; valid: {', '.join(_POOLINGS)}")
        self.pooling = pooling
        dim = sum(self.feature_dims)
        self.input_bn = MaskedBatchNorm1D(dim) if batch_norm else None
        no_bias = False if batch_norm else None
        self.cluster = nn.Linear(dim, int(cluster_size), bias_attr=no_bias)
        self.cluster_bn = MaskedBatchNorm1D(int(cluster_size)) if batch_norm else None
        self.hidden = nn.Linear(int(cluster_size), int(hidden_size), bias_attr=no_bias)
        self.hidden_bn = nn.BatchNorm1D(int(hidden_size)) if batch_norm else None
        self.out_channels = int(hidden_size)

    def pool_all(self, xs: list[paddle.Tensor], mask: paddle.Tensor, lengths: paddle.Tensor) -> paddle.Tensor:
        """``xs`` float32 [B, T, D_m] per modality, ``mask`` bool [B, T] -> float32 [B, hidden_size]."""
        x = paddle.concat(xs, axis=-1)                                       # [B, T, D]
        if self.input_bn is not None:
            x = self.input_bn(x.transpose([0, 2, 1]), mask).transpose([0, 2, 1])
        z = self.cluster(x)                                                  # [B, T, C]
        if self.cluster_bn is not None:
            z = self.cluster_bn(z.transpose([0, 2, 1]), mask).transpose([0, 2, 1])
        m = mask.unsqueeze(-1).astype(z.dtype)
        z = F.relu6(z) * m                                                   # >= 0, exactly 0 on padding
        if self.pooling == "max":
            p = z.max(axis=1)                                                # padding's 0 never beats a valid frame
        else:
            p = z.sum(axis=1) / paddle.clip(lengths, min=1).astype(z.dtype).unsqueeze(-1)
        h = self.hidden(p)
        if self.hidden_bn is not None:
            h = self.hidden_bn(h)
        return F.relu6(h)
