"""FrameBackbone: validation of the modalities, export spec, mask and dequantization, and the two pooling hooks."""
from __future__ import annotations

import numpy as np
import paddle
import pytest

from paddlevideo.modeling.backbones import FrameBackbone


class _Sum(FrameBackbone):
    """Per-modality sum over the valid frames (a pool_modality subclass)."""

    def __init__(self, feature_names=("rgb", "audio"), feature_dims=(3, 2), dequantize_input=True):
        super().__init__(feature_names, feature_dims, dequantize_input)
        self.out_channels = sum(self.feature_dims)

    def pool_modality(self, index, x, mask, lengths):
        return paddle.sum(x * mask.unsqueeze(-1).astype(x.dtype), axis=1)


class _Fused(FrameBackbone):
    """Early fusion (a pool_all subclass): frames of all modalities concatenated, then the valid-frame maximum."""

    def __init__(self):
        super().__init__(["a", "b"], [2, 1], dequantize_input=False)
        self.out_channels = 3

    def pool_all(self, xs, mask, lengths):
        x = paddle.concat(xs, axis=2)
        return paddle.max(paddle.where(mask.unsqueeze(-1), x, paddle.full_like(x, -1e30)), axis=1)


@pytest.mark.parametrize("names, dims, match", [
    (["rgb"], [3, 2], "same length"),
    ([], [], "non-empty"),
    ("rgb", [3], "must be lists"),
    (["rgb", "rgb"], [3, 2], "twice"),
    (["rgb", "lengths"], [3, 2], "'lengths'"),
    (["rgb", ""], [3, 2], "non-empty name"),
    (["rgb", "audio"], [3, 0], "width of 'audio' must be an integer >= 1, got 0"),
    (["rgb", "audio"], [3, 2.5], "width of 'audio'"),
])
def test_bad_modalities_are_refused_with_the_culprit(names, dims, match):
    with pytest.raises(ValueError, match=match):
        _Sum(names, dims)


def test_a_subclass_must_set_out_channels_and_a_pooling_method():
    class NoOut(FrameBackbone):
        pass

    m = NoOut(["rgb"], [2])
    with pytest.raises(NotImplementedError, match="NoOut.__init__ must set self.out_channels"):
        _ = m.out_channels
    with pytest.raises(NotImplementedError, match="must implement pool_modality or pool_all"):
        m([paddle.zeros([1, 2, 2], "uint8")], paddle.to_tensor([2], "int64"))
    with pytest.raises(ValueError, match="out_channels must be an integer >= 1"):
        m.out_channels = 0


def test_input_spec_follows_dequantize_input():
    for deq, dtype in ((True, paddle.uint8), (False, paddle.float32)):
        specs = _Sum(dequantize_input=deq).input_spec()
        assert [(s.name, list(s.shape), s.dtype) for s in specs] == [
            ("rgb", [-1, -1, 3], dtype), ("audio", [-1, -1, 2], dtype), ("lengths", [-1], paddle.int64)]


def test_forward_dequantizes_and_masks_like_numpy():
    rng = np.random.default_rng(0)
    rgb, audio = rng.integers(0, 256, (3, 5, 3)).astype(np.uint8), rng.integers(0, 256, (3, 5, 2)).astype(np.uint8)
    lengths = np.array([5, 2, 0], np.int64)
    out = _Sum()([paddle.to_tensor(rgb), paddle.to_tensor(audio)], paddle.to_tensor(lengths)).numpy()
    deq = [q.astype(np.float64) * (4 / 255) + (4 / 512 - 2) for q in (rgb, audio)]
    expected = np.stack([np.concatenate([d[b, :n].sum(0) for d in deq]) for b, n in enumerate(lengths)])
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match=r"takes 2 feature tensors \(rgb, audio\), got 1"):
        _Sum()([paddle.to_tensor(rgb)], paddle.to_tensor(lengths))


def test_pool_all_sees_every_modality_and_float_input_passes_through():
    a = np.array([[[1.0, -2.0], [5.0, 0.5], [9.0, 9.0]]], np.float32)
    b = np.array([[[3.0], [-1.0], [99.0]]], np.float32)
    out = _Fused()([paddle.to_tensor(a), paddle.to_tensor(b)], paddle.to_tensor([2], "int64")).numpy()
    np.testing.assert_array_equal(out, [[5.0, 0.5, 3.0]])      # frame 3 is padding


def test_without_modality_attention_there_are_no_attention_weights():
    with pytest.raises(ValueError, match="backbone _Sum has no attention_weights"):
        _Sum().attention_weights([paddle.zeros([1, 2, 3], "uint8"), paddle.zeros([1, 2, 2], "uint8")],
                                 paddle.to_tensor([2], "int64"))
