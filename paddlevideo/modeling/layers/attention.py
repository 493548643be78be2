"""Masks and masked softmax over time for variable-length videos."""
from __future__ import annotations

import paddle


def length_mask(lengths: paddle.Tensor, max_len) -> paddle.Tensor:
    """Boolean mask of valid frames.

    Args:
        lengths: int64 [B], number of valid frames of each video.
        max_len: T, the padded time length (an int or a 0-d int tensor; dynamic under export).

    Returns:
        bool [B, T], True where ``t < lengths[b]``.
    """
    steps = paddle.arange(max_len, dtype=lengths.dtype)
    return steps.unsqueeze(0) < lengths.unsqueeze(1)


def masked_softmax(scores: paddle.Tensor, mask: paddle.Tensor, axis: int = -1) -> paddle.Tensor:
    """Softmax of ``scores`` over ``axis`` restricted to ``mask``; masked entries get exactly 0.

    Numerically stable: the maximum over the valid entries is subtracted before ``exp``. A row with no
    valid entry (a zero-length video) gets all-zero weights instead of NaN.

    Args:
        scores: float32 tensor, e.g. [B, T] or [B, N, T].
        mask: bool tensor broadcastable to ``scores`` (True = valid).
        axis: the axis to normalise over (time).

    Returns:
        float32 tensor shaped like ``scores``; each row sums to 1 over its valid entries (0 if none).
    """
    mask = paddle.broadcast_to(mask, scores.shape)
    neg = paddle.full_like(scores, -1e30)
    filled = paddle.where(mask, scores, neg)
    shift = paddle.max(filled, axis=axis, keepdim=True)
    e = paddle.exp(filled - shift) * mask.astype(scores.dtype)
    denom = paddle.sum(e, axis=axis, keepdim=True)
    return e / paddle.clip(denom, min=1e-30)
