"""AttentionLSTM backbone: per-modality FC + bidirectional LSTM + masked attention pooling over time.

Follows PaddleVideo's ``AttentionLstmHead`` (itself from the Baidu YouTube-8M 2017 entry) with the
classifier split off into a head: for each modality ``Linear(D -> embedding_size) + tanh`` ->
``LSTM(lstm_size, bidirectional)`` run on the true lengths -> dropout -> ``Linear(2*lstm_size -> 1)``
-> softmax over the valid frames -> weighted sum of the (dropped-out) LSTM outputs. The modalities'
pooled vectors are concatenated.
"""
from __future__ import annotations

from collections.abc import Sequence

import paddle
import paddle.nn as nn

from ...utils.types import DropRate, PositiveInt
from ..layers.attention import masked_softmax
from ..registry import BACKBONES
from .base import FrameBackbone


@BACKBONES.register()
class AttentionLSTM(FrameBackbone):
    """Attention-pooled bidirectional LSTM over frame features, one branch per modality.

    Args:
        feature_names, feature_dims, dequantize_input: the modalities, see :class:`FrameBackbone`.
        embedding_size: width of the per-frame FC (PaddleVideo: 512).
        lstm_size: hidden size of each LSTM direction (PaddleVideo: 1024).
        drop_rate: dropout on the LSTM outputs before attention (PaddleVideo: 0.5).

    Inputs and output as :class:`FrameBackbone` (``1 <= lengths <= T``), with
    ``out_channels = 2 * lstm_size * len(feature_names)``. Padded frames do not influence the output: the
    LSTM runs with ``sequence_length`` and padded frames get exactly zero attention weight.
    :meth:`attention_weights` gives one float32 [B, T] tensor per modality.
    """

    def __init__(self, feature_names: Sequence[str] = ("rgb", "audio"),
                 feature_dims: Sequence[PositiveInt] = (1024, 128),
                 embedding_size: PositiveInt = 512, lstm_size: PositiveInt = 1024, drop_rate: DropRate = 0.5,
                 dequantize_input: bool = True) -> None:
        super().__init__(feature_names, feature_dims, dequantize_input)
        self.fc_feature = nn.LayerList([nn.Linear(d, embedding_size) for d in self.feature_dims])
        self.bi_lstm = nn.LayerList([nn.LSTM(embedding_size, lstm_size, direction="bidirect")
                                     for _ in self.feature_dims])
        self.att_fc = nn.LayerList([nn.Linear(2 * lstm_size, 1) for _ in self.feature_dims])
        self.dropout = nn.Dropout(drop_rate)
        self.out_channels = 2 * lstm_size * len(self.feature_dims)

    def _branch(self, i: int, x: paddle.Tensor, mask: paddle.Tensor, lengths: paddle.Tensor):
        h = paddle.tanh(self.fc_feature[i](x))
        out, _ = self.bi_lstm[i](h, sequence_length=lengths)
        out = self.dropout(out)
        scores = self.att_fc[i](out).squeeze(-1)                     # [B, T]
        return out, masked_softmax(scores, mask, axis=1)

    def pool_modality(self, index: int, x: paddle.Tensor, mask: paddle.Tensor,
                      lengths: paddle.Tensor) -> paddle.Tensor:
        """Attention-weighted sum of the LSTM outputs of modality ``index``: float32 [B, 2 * lstm_size]."""
        out, weights = self._branch(index, x, mask, lengths)
        return paddle.sum(out * weights.unsqueeze(-1), axis=1)

    def modality_attention(self, index: int, x: paddle.Tensor, mask: paddle.Tensor,
                           lengths: paddle.Tensor) -> paddle.Tensor:
        """Attention weights of modality ``index`` over time, float32 [B, T] (rows sum to 1 over the valid
        frames, exactly 0 on padding)."""
        return self._branch(index, x, mask, lengths)[1]
