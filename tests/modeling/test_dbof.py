"""DBoF against a numpy implementation of its equations (arXiv 1609.08675 §5.2.2, the starter code's DbofModel),
masked batch statistics, padding invariance and the export / Paddle Inference round trip.

Small sizes only; every expectation is computed independently in numpy (float64, one video at a time) from the
layer's parameters, never from the layer's own output.
"""
from __future__ import annotations

import numpy as np
import paddle
import pytest

from paddlevideo.modeling import build_model
from paddlevideo.modeling.backbones.dbof import DBoF
from tests.modeling.backbone_checks import assert_export_matches_eager, random_batch, repadded, run_backbone

DEQ_SCALE, DEQ_BIAS = 4.0 / 255.0, 4.0 / 512.0 - 2.0
DIMS = [10, 6]


def _np(t: paddle.Tensor) -> np.ndarray:
    return t.numpy().astype(np.float64)


def _bn(x, mean, var, eps, gamma, beta):
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def np_dbof(m: DBoF, codes: list[np.ndarray], length: int) -> np.ndarray:
    """Reference for one video in eval mode: ``codes`` uint8 [T, D_m] per modality, first ``length`` valid."""
    x = np.concatenate([q[:length].astype(np.float64) * DEQ_SCALE + DEQ_BIAS for q in codes], axis=1)
    relu6 = lambda v: np.minimum(np.maximum(v, 0.0), 6.0)  # noqa: E731
    if m.input_bn is not None:
        b = m.input_bn
        x = _bn(x, _np(b._mean), _np(b._variance), b.epsilon, _np(b.weight), _np(b.bias))
    z = x @ _np(m.cluster.weight)
    if m.cluster_bn is not None:
        b = m.cluster_bn
        z = _bn(z, _np(b._mean), _np(b._variance), b.epsilon, _np(b.weight), _np(b.bias))
    else:
        z = z + _np(m.cluster.bias)
    z = relu6(z)
    p = z.max(axis=0) if m.pooling == "max" else z.mean(axis=0)
    h = p @ _np(m.hidden.weight)
    if m.hidden_bn is not None:
        b = m.hidden_bn
        h = _bn(h, _np(b._mean), _np(b._variance), b._epsilon, _np(b.weight), _np(b.bias))
    else:
        h = h + _np(m.hidden.bias)
    return relu6(h)


def _backbone(**kw) -> DBoF:
    paddle.seed(13)
    opts = dict(feature_names=["rgb", "audio"], feature_dims=DIMS, cluster_size=12, hidden_size=5)
    opts.update(kw)
    m = DBoF(**opts)
    rng = np.random.default_rng(1)
    for bn in (m.input_bn, m.cluster_bn, m.hidden_bn):        # non-trivial running statistics and affine
        if bn is not None:
            c = bn.weight.shape[0]
            bn._mean.set_value(rng.normal(0, 0.3, c).astype(np.float32))
            bn._variance.set_value(rng.uniform(0.5, 2.0, c).astype(np.float32))
            bn.weight.set_value(rng.uniform(0.5, 2.0, c).astype(np.float32))
            bn.bias.set_value(rng.normal(0.5, 0.5, c).astype(np.float32))
    m.eval()
    return m


@pytest.mark.parametrize("pooling", ["max", "average"])
@pytest.mark.parametrize("batch_norm", [True, False])
def test_dbof_matches_numpy_equations(pooling, batch_norm):
    rng = np.random.default_rng(0)
    m = _backbone(pooling=pooling, batch_norm=batch_norm)
    feats, lengths = random_batch(rng, DIMS, [9, 3, 1], 9)
    out = run_backbone(m, feats, lengths)
    assert out.shape == (3, 5) and m.out_channels == 5
    for b, n in enumerate(lengths):
        np.testing.assert_allclose(out[b], np_dbof(m, [f[b] for f in feats], n), rtol=1e-4, atol=1e-5)
    assert np.all((out >= 0) & (out <= 6)) and 0 < out.max()


@pytest.mark.parametrize("pooling", ["max", "average"])
def test_padding_does_not_change_the_output(pooling):
    rng = np.random.default_rng(3)
    m = _backbone(pooling=pooling)
    feats, lengths = random_batch(rng, DIMS, [7, 1, 4], 7)
    longer = repadded(rng, feats, lengths, 15)           # other random codes in the padding, 8 more frames
    np.testing.assert_allclose(run_backbone(m, longer, lengths), run_backbone(m, feats, lengths), rtol=0, atol=1e-6)


def test_training_batch_statistics_ignore_padded_frames():
    """In training the frame batch norms take mean and variance over the valid frames only: the cluster-BN
    running mean moves by 0.1 * (mean of W u_t over the valid frames), whatever the padding holds."""
    rng = np.random.default_rng(6)
    feats, lengths = random_batch(rng, DIMS, [5, 2], 9)
    means = []
    for pad_seed in (7, 8):
        m = _backbone(batch_norm=True)
        m.input_bn._mean.set_value(np.zeros(sum(DIMS), np.float32))
        m.input_bn._variance.set_value(np.ones(sum(DIMS), np.float32))
        m.train()
        padded = [f.copy() for f in feats]
        pad = np.random.default_rng(pad_seed)
        for f in padded:
            for b, n in enumerate(lengths):
                f[b, n:] = pad.integers(0, 256, size=f[b, n:].shape)
        old = _np(m.cluster_bn._mean)
        m([paddle.to_tensor(f) for f in padded], paddle.to_tensor(lengths))
        means.append(_np(m.cluster_bn._mean))
        # numpy: the valid frames, the input BN with its batch statistics, then the projection
        x = np.concatenate([np.concatenate([f[b, :n] for b, n in enumerate(lengths)]) for f in feats], axis=1)
        x = x.astype(np.float64) * DEQ_SCALE + DEQ_BIAS
        u = (x - x.mean(0)) / np.sqrt(x.var(0) + m.input_bn.epsilon) * _np(m.input_bn.weight) + _np(m.input_bn.bias)
        expect = 0.9 * old + 0.1 * (u @ _np(m.cluster.weight)).mean(0)
        np.testing.assert_allclose(means[-1], expect, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(means[0], means[1], rtol=0, atol=1e-6)


def test_invalid_pooling_is_refused():
    with pytest.raises(ValueError, match="unknown pooling 'min'; valid: max, average"):
        DBoF(feature_names=["rgb", "audio"], feature_dims=DIMS, pooling="min")


def test_export_and_paddle_inference_match_the_eager_model(tmp_path):
    model_cfg = {"framework": "Recognizer1D",
                 "backbone": {"name": "DBoF", "feature_names": ["rgb", "audio"], "feature_dims": DIMS,
                              "cluster_size": 12, "hidden_size": 5},
                 "head": {"name": "MoEHead", "num_classes": 4, "hidden_size": 6}}
    paddle.seed(4)
    weights = str(tmp_path / "w.pdparams")
    paddle.save(build_model(model_cfg).state_dict(), weights)
    cfg = {"model_name": "DBoF_test", "MODEL": model_cfg, "INFERENCE": {"max_frames": 20}}
    feats, lengths = random_batch(np.random.default_rng(5), DIMS, [12, 3, 7, 1], 12)
    assert_export_matches_eager(cfg, weights, str(tmp_path), ["rgb", "audio"], feats, lengths, 4, alone=[1])
