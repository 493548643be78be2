"""AttentionLSTM backbone: per-modality FC + bidirectional LSTM + masked attention pooling over time.

Follows PaddleVideo's ``AttentionLstmHead`` (itself from the Baidu YouTube-8M 2017 entry) with the
classifier split off into a head: for each modality ``Linear(D -> embedding_size) + tanh`` ->
``LSTM(lstm_size, bidirectional)`` run on the true lengths -> dropout -> ``Linear(2*lstm_size -> 1)``
-> softmax over the valid frames -> weighted sum of the (dropped-out) LSTM outputs. The modalities'
pooled vectors are concatenated.
"""
from __future__ import annotations

from typing import List, Sequence

import paddle
import paddle.nn as nn
from paddle.static import InputSpec

from ..layers.attention import length_mask, masked_softmax
from ..layers.dequantize import dequantize, frame_input_spec
from ..registry import BACKBONES
from ...utils.types import DropRate, PositiveInt


@BACKBONES.register()
class AttentionLSTM(nn.Layer):
    """Attention-pooled bidirectional LSTM over frame features, one branch per modality.

    Args:
        feature_names: modality names, in input order (the batch keys), e.g. ``["rgb", "audio"]``.
        feature_dims: feature width of each modality, e.g. ``[1024, 128]``.
        embedding_size: width of the per-frame FC (PaddleVideo: 512).
        lstm_size: hidden size of each LSTM direction (PaddleVideo: 1024).
        drop_rate: dropout on the LSTM outputs before attention (PaddleVideo: 0.5).
        dequantize_input: inputs are uint8 YouTube-8M codes, dequantized in the graph (default).
            Set False to feed float32 features that are already dequantized.

    Inputs of :meth:`forward`: ``features`` a list with one tensor per modality, uint8 (or float32)
    [B, T, D_m]; ``lengths`` int64 [B] (valid frames, ``1 <= lengths <= T``).
    Output: float32 [B, out_channels] with ``out_channels = 2 * lstm_size * len(feature_names)``.
    Padded frames do not influence the output: the LSTM runs with ``sequence_length`` and padded frames
    get exactly zero attention weight.
    """

    def __init__(self, feature_names: Sequence[str] = ("rgb", "audio"),
                 feature_dims: Sequence[PositiveInt] = (1024, 128),
                 embedding_size: PositiveInt = 512, lstm_size: PositiveInt = 1024, drop_rate: DropRate = 0.5,
                 dequantize_input: bool = True) -> None:
        super().__init__()
        if len(feature_names) != len(feature_dims):
            raise ValueError(f"feature_names {list(feature_names)} and feature_dims {list(feature_dims)} "
                             "must have the same length")
        self.feature_names = list(feature_names)
        self.feature_dims = [int(d) for d in feature_dims]
        self.dequantize_input = dequantize_input
        self.fc_feature = nn.LayerList([nn.Linear(d, embedding_size) for d in self.feature_dims])
        self.bi_lstm = nn.LayerList([nn.LSTM(embedding_size, lstm_size, direction="bidirect")
                                     for _ in self.feature_dims])
        self.att_fc = nn.LayerList([nn.Linear(2 * lstm_size, 1) for _ in self.feature_dims])
        self.dropout = nn.Dropout(drop_rate)
        self.out_channels = 2 * lstm_size * len(self.feature_dims)

    def input_spec(self) -> List[InputSpec]:
        """InputSpecs for export: one ``[None, None, D]`` uint8 per modality (dynamic batch and time),
        then ``lengths`` int64 ``[None]``."""
        return frame_input_spec(self.feature_names, self.feature_dims, self.dequantize_input)

    def _branch(self, i: int, x: paddle.Tensor, lengths: paddle.Tensor):
        if self.dequantize_input:
            x = dequantize(x)
        h = paddle.tanh(self.fc_feature[i](x))
        out, _ = self.bi_lstm[i](h, sequence_length=lengths)
        out = self.dropout(out)
        scores = self.att_fc[i](out).squeeze(-1)                     # [B, T]
        weights = masked_softmax(scores, length_mask(lengths, paddle.shape(x)[1]), axis=1)
        return out, weights

    def forward(self, features: List[paddle.Tensor], lengths: paddle.Tensor) -> paddle.Tensor:
        """Pool each modality over time and concatenate: returns float32 [B, out_channels]."""
        pooled = []
        for i, x in enumerate(features):
            out, weights = self._branch(i, x, lengths)
            pooled.append(paddle.sum(out * weights.unsqueeze(-1), axis=1))
        return paddle.concat(pooled, axis=1)

    def attention_weights(self, features: List[paddle.Tensor], lengths: paddle.Tensor) -> List[paddle.Tensor]:
        """Attention weights over time, one float32 [B, T] tensor per modality (rows sum to 1 over the
        valid frames, exactly 0 on padding). Call in eval mode for deterministic weights."""
        return [self._branch(i, x, lengths)[1] for i, x in enumerate(features)]
