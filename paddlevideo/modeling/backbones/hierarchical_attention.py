"""HierarchicalAttention backbone: an attention-only aggregator that pools frames through a tree of local windows.

AttentionLSTM spends almost all of its compute in a sequential bi-LSTM (docs/performance.md, section 1). This
model replaces the recurrence by stacked attention, as hierarchical attention encoders do: every level pools
``w`` consecutive positions into one vector with masked multi-head attention from learned queries
(Vaswani et al., "Attention Is All You Need", NeurIPS 2017, section 3.2), so a frame reaches the video vector in
``levels + 1`` steps instead of T, and every step is a batched matrix product over the whole time axis. The
per-frame weight of the video vector is the product of the weights down the tree, as a leaf's probability is the
product of the branch probabilities in Hierarchical Attentive Memory (Andrychowicz & Kurach, arXiv 1602.03218).

For one modality with valid frames ``x_0 .. x_{n-1}`` (width D), embedding E, H heads (head width d = E / H),
window w, L levels and Q final queries (docs/hierarchical_attention.md has the full derivation):

    z_t      = act(W_e x_t + b_e) + gamma * PE(t)                 frame embedding; PE sinusoidal (Vaswani 3.5),
                                                                   gamma a learned scalar
    level l = 1..L, window i holds positions j = i*w .. i*w + w-1 of level l-1 (valid: j < n_{l-1}):
    a_h(j)   = softmax_j over the valid j of the window (u_h^l . z_j)          H learned score vectors u_h^l
    p_h(i)   = sum_j a_h(j) z_j                                                 per-head pooled input
    o(i)     = W_o^l concat_h (V_h^l p_h(i) + c_h^l) + b_o^l                    per-head value maps V_h^l: E -> d
    z^l_i    = LayerNorm^l(o(i) + mean_h p_h(i))                                 residual + norm
    n_l      = ceil(n_{l-1} / w)
    final:    the same pooling with Q queries over all valid positions of level L -> Q vectors of width E

The modality's output is the concatenation of the Q final vectors (width Q*E); the modalities' outputs are
concatenated and dropped out (``drop_rate``, training only). ``out_channels = Q * E * M`` for M modalities.

Why this is multi-head attention with learned queries: a key map ``k_j = W_k z_j + b_k`` only enters through
``q_h . k_{j,h} / sqrt(d)``, which equals ``(W_{k,h}^T q_h / sqrt(d)) . z_j`` plus a constant that the softmax
cancels, so the score vector ``u_h`` is learned directly; and since the weights of a window sum to 1,
``sum_j a_h(j) (V_h z_j + c_h) = V_h p_h + c_h``, so the value map is applied once per window instead of once per
position (the same function, w times fewer multiplications).

Padding: windows are cut at fixed frame indices from t = 0 and the number of levels is fixed by the config, so a
video padded at the end to any length has the same windows, masks and output; padded positions get weight
exactly 0 and a window without valid positions is masked at the next level. :meth:`modality_attention` returns
the product of the (head- and query-averaged) weights down the tree: one float32 ``[B, T]`` weighting per
modality that sums to 1 over the valid frames and is 0 on padding.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from ...utils.types import DropRate, NonNegativeFloat, NonNegativeInt, PositiveInt
from ..registry import BACKBONES
from .base import FrameBackbone

__all__ = ["WindowAttentionPool", "HierarchicalAttention", "sinusoidal_positions"]

_ACTIVATIONS = {"tanh": paddle.tanh, "relu": F.relu, "gelu": F.gelu}


def sinusoidal_positions(length: paddle.Tensor | int, dim: int) -> paddle.Tensor:
    """Sinusoidal position encoding of Vaswani et al. (2017, section 3.5): float32 ``[length, dim]`` with
    ``PE(t, 2i) = sin(t / 10000^(2i/dim))`` and ``PE(t, 2i+1) = cos(t / 10000^(2i/dim))``.

    Args:
        length: number of positions T (an int, or a 0-d int tensor: dynamic under export).
        dim: encoding width (even or odd; an odd width drops the last cosine).
    """
    half = (dim + 1) // 2
    t = paddle.arange(length, dtype="float32").unsqueeze(1)                                 # [T, 1]
    freq = paddle.exp(paddle.arange(half, dtype="float32") * (-2.0 * math.log(10000.0) / dim))  # [half]
    angle = t * freq.unsqueeze(0)                                                          # [T, half]
    pe = paddle.stack([paddle.sin(angle), paddle.cos(angle)], axis=-1).reshape([-1, 2 * half])
    return pe[:, :dim]


class WindowAttentionPool(nn.Layer):
    """Masked multi-head attention pooling of each group of positions into ``queries`` vectors (module docstring).

    Args:
        dim: E, width of the positions and of the pooled vectors.
        heads: H; ``dim`` must be divisible by it (head width ``d = dim // heads``).
        queries: Q, learned queries (each with H heads); each gives one output vector.

    Parameters: ``score`` (Linear E -> Q*H, no bias: the score vectors ``u_{q,h}``, column ``q*H + h``),
    ``value`` float32 ``[H, E, d]`` and ``value_bias`` ``[E]`` (the per-head value maps), ``out`` (Linear E -> E)
    and ``norm`` (LayerNorm E).

    Inputs of :meth:`forward`: ``x`` float32 ``[B, N, S, E]`` (N groups of S positions), ``mask`` bool ``[B, N, S]``
    (True on valid positions). Outputs: float32 ``[B, N, Q, E]`` and the attention weights float32
    ``[B, N, S, Q*H]`` (each group's column sums to 1 over its valid positions; all 0 for a group without any).

    Raises:
        ValueError: ``dim`` is not divisible by ``heads``.
    """

    def __init__(self, dim: int, heads: int, queries: int = 1) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"embedding_size {dim} is not divisible by heads {heads}")
        self.dim, self.heads, self.queries = int(dim), int(heads), int(queries)
        self.head_dim = dim // heads
        self.score = nn.Linear(dim, queries * heads, bias_attr=False)
        bound = 1.0 / math.sqrt(dim)
        self.value = self.create_parameter([heads, dim, self.head_dim],
                                           default_initializer=nn.initializer.Uniform(-bound, bound))
        self.value_bias = self.create_parameter([dim], is_bias=True)
        self.out = nn.Linear(dim, dim)
        self.norm = nn.LayerNorm(dim)

    def weights(self, x: paddle.Tensor, mask: paddle.Tensor) -> paddle.Tensor:
        """Attention weights float32 ``[B, N, S, Q*H]`` of ``x`` ``[B, N, S, E]`` under ``mask`` ``[B, N, S]``.

        A masked softmax over S: masked scores are pushed to -1e30 (their exp is exactly 0 next to any valid
        score) and the result is multiplied by the mask, so a group without valid positions gets all zeros. One
        fused softmax instead of :func:`~paddlevideo.modeling.layers.attention.masked_softmax`'s explicit
        max-shift, whose gradient costs a separate pass (same values)."""
        valid = mask.unsqueeze(-1).astype(x.dtype)                          # [B, N, S, 1]
        return F.softmax(self.score(x) - (1.0 - valid) * 1e30, axis=2) * valid

    def matmul_flops(self, inputs, output) -> float:
        """FLOPs (2 per multiply-add) of the products of one :meth:`forward` call that are not ``nn.Linear``
        sublayers (``score`` and ``out`` are): the weighted sums ``2*B*N*S*Q*H*E`` and the per-head value maps
        ``2*B*N*Q*H*E*d``. ``inputs`` are the forward's ``(x, mask)``; for FLOP counters (benchmarks/_common.py)."""
        b, n, s, e = (int(v) for v in inputs[0].shape)
        qh = self.queries * self.heads
        return 2.0 * b * n * s * qh * e + 2.0 * b * n * qh * e * self.head_dim

    def forward(self, x: paddle.Tensor, mask: paddle.Tensor) -> tuple[paddle.Tensor, paddle.Tensor]:
        """``x`` ``[B, N, S, E]``, ``mask`` ``[B, N, S]`` -> (pooled ``[B, N, Q, E]``, weights ``[B, N, S, Q*H]``)."""
        q, h, e = self.queries, self.heads, self.dim
        a = self.weights(x, mask)
        p = paddle.matmul(a, x, transpose_x=True)                               # [B, N, Q*H, E]
        flat = p.reshape([-1, h, e]).transpose([1, 0, 2])                        # [H, B*N*Q, E]
        v = paddle.matmul(flat, self.value).transpose([1, 0, 2])                 # [B*N*Q, H, d]
        v = v.reshape([paddle.shape(x)[0], -1, q, e]) + self.value_bias          # [B, N, Q, E]
        residual = p.reshape([paddle.shape(x)[0], -1, q, h, e]).mean(axis=3)     # [B, N, Q, E]
        return self.norm(self.out(v) + residual), a


@BACKBONES.register()
class HierarchicalAttention(FrameBackbone):
    """Attention-only hierarchical aggregator over frame features, one tree per modality (module docstring).

    Args:
        feature_names, feature_dims, dequantize_input: the modalities, see :class:`FrameBackbone`.
        embedding_size: E, width of the frame embeddings and of every pooled vector (full config: 512).
        heads: H, attention heads of every pooling; E must be divisible by it (full config: 8).
        window: w, positions pooled into one at each level (>= 2; the configs: 16).
        levels: L, window levels before the final pooling (>= 0; the configs: 1, 300 frames -> 19 segments; 3 with
            window 4 would give 300 -> 75 -> 19 -> 5). Fixed, not derived from the padded length, so that padding
            never changes the tree.
        final_queries: Q, learned queries of the final pooling; each modality gives Q*E values (full config: 4).
        activation: of the frame embedding FC, ``tanh`` (as AttentionLSTM), ``relu`` or ``gelu``.
        position_scale: initial value of the learned scale gamma of the sinusoidal position encoding (0 starts
            without position information; the scale is learned either way).
        drop_rate: dropout on the concatenated output (training only).

    Inputs and output as :class:`FrameBackbone`: float32 ``[B, out_channels]`` with
    ``out_channels = final_queries * embedding_size * len(feature_names)``. Padded frames change nothing.
    :meth:`attention_weights` gives one float32 ``[B, T]`` weighting per modality (module docstring).

    Raises:
        ValueError: ``embedding_size`` not divisible by ``heads``, ``window < 2``, an unknown ``activation``,
            or an invalid modality (see :class:`FrameBackbone`).
    """

    def __init__(self, feature_names: Sequence[str] = ("rgb", "audio"),
                 feature_dims: Sequence[PositiveInt] = (1024, 128), embedding_size: PositiveInt = 512,
                 heads: PositiveInt = 8, window: PositiveInt = 4, levels: NonNegativeInt = 3,
                 final_queries: PositiveInt = 4, activation: str = "tanh", position_scale: NonNegativeFloat = 0.1,
                 drop_rate: DropRate = 0.5, dequantize_input: bool = True) -> None:
        super().__init__(feature_names, feature_dims, dequantize_input)
        if int(window) < 2:
            raise ValueError(f"window {window}: a level must pool at least 2 positions")
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation {activation!r}: choose one of {', '.join(_ACTIVATIONS)}")
        if int(embedding_size) % int(heads):
            raise ValueError(f"embedding_size {embedding_size} is not divisible by heads {heads}")
        e, self.window, self.levels = int(embedding_size), int(window), int(levels)
        self.embedding_size, self.final_queries, self.activation = e, int(final_queries), activation
        m = len(self.feature_dims)
        self.fc_feature = nn.LayerList([nn.Linear(d, e) for d in self.feature_dims])
        self.position_scale = nn.ParameterList([
            self.create_parameter([1], default_initializer=nn.initializer.Constant(float(position_scale)))
            for _ in range(m)])
        self.level_pools = nn.LayerList([nn.LayerList([WindowAttentionPool(e, int(heads)) for _ in range(self.levels)])
                                         for _ in range(m)])
        self.final_pools = nn.LayerList([WindowAttentionPool(e, int(heads), self.final_queries) for _ in range(m)])
        self.dropout = nn.Dropout(drop_rate) if drop_rate > 0 else None
        self.out_channels = self.final_queries * e * m

    def _embed(self, index: int, x: paddle.Tensor) -> paddle.Tensor:
        z = _ACTIVATIONS[self.activation](self.fc_feature[index](x))
        pe = sinusoidal_positions(paddle.shape(x)[1], self.embedding_size)
        return z + self.position_scale[index] * pe.unsqueeze(0)

    def _windows(self, z: paddle.Tensor, lengths: paddle.Tensor) -> tuple[paddle.Tensor, paddle.Tensor]:
        """``z`` ``[B, N, E]`` padded at the end to whole windows: ``[B, ceil(N/w), w, E]`` and the mask
        ``[B, ceil(N/w), w]`` of the positions ``< lengths``."""
        w = self.window
        n = (paddle.shape(z)[1] + (w - 1)) // w
        zp = F.pad(z, [0, w - 1], data_format="NLC")[:, :n * w]
        pos = paddle.arange(n * w, dtype=lengths.dtype).reshape([1, -1, w])
        return zp.reshape([0, -1, w, self.embedding_size]), pos < lengths.reshape([-1, 1, 1])

    def _tree(self, index: int, x: paddle.Tensor, lengths: paddle.Tensor):
        """Run modality ``index`` up the tree: (output ``[B, Q*E]``, per-level weights, final weights)."""
        z, n = self._embed(index, x), lengths
        level_weights = []
        for pool in self.level_pools[index]:
            groups, mask = self._windows(z, n)
            pooled, a = pool(groups, mask)                                  # [B, N', 1, E], [B, N', w, H]
            z = pooled.squeeze(2)
            level_weights.append(a)
            n = (n + (self.window - 1)) // self.window
        mask = paddle.arange(paddle.shape(z)[1], dtype=n.dtype).unsqueeze(0) < n.unsqueeze(1)
        out, a = self.final_pools[index](z.unsqueeze(1), mask.unsqueeze(1))   # [B, 1, Q, E], [B, 1, N_L, Q*H]
        return out.reshape([0, -1]), level_weights, a.squeeze(1)

    def pool_all(self, xs: list[paddle.Tensor], mask: paddle.Tensor, lengths: paddle.Tensor) -> paddle.Tensor:
        """Each modality's tree, concatenated, then dropout: float32 ``[B, out_channels]``."""
        v = paddle.concat([self._tree(i, x, lengths)[0] for i, x in enumerate(xs)], axis=1)
        return self.dropout(v) if self.dropout is not None else v

    def modality_attention(self, index: int, x: paddle.Tensor, mask: paddle.Tensor,
                           lengths: paddle.Tensor) -> paddle.Tensor:
        """Per-frame weights of modality ``index``, float32 ``[B, T]``: the final pooling's weights averaged
        over its queries and heads, times each level's weights averaged over its heads, down to the frames.
        Rows sum to 1 over the valid frames (0 for a video without frames); exactly 0 on padding."""
        _, level_weights, final = self._tree(index, x, lengths)
        weight = final.mean(axis=-1)                                              # [B, N_L]
        sizes = [paddle.shape(x)[1]]
        for _ in range(self.levels - 1):
            sizes.append((sizes[-1] + (self.window - 1)) // self.window)
        for a, size in zip(reversed(level_weights), reversed(sizes)):
            weight = (weight.unsqueeze(-1) * a.mean(axis=-1)).reshape([0, -1])[:, :size]
        return weight
