"""AttentionCluster backbone against a numpy implementation of the paper's formulas (arXiv 1711.09550 §3).

Small sizes only; every expectation is computed independently in numpy (float64) from the layer's
parameters, never from the layer's own output.
"""
from __future__ import annotations

import math

import numpy as np
import paddle
import pytest

from paddlevideo.modeling import build_model
from paddlevideo.modeling.backbones.attention_cluster import AttentionCluster, ShiftingAttentionCluster

DEQ_SCALE, DEQ_BIAS = 4.0 / 255.0, 4.0 / 512.0 - 2.0


def _np(t: paddle.Tensor) -> np.ndarray:
    return t.numpy().astype(np.float64)


def np_cluster(layer: ShiftingAttentionCluster, x: np.ndarray, length: int, bn_train: bool = False):
    """Reference for one video: x float [T, D] (only the first ``length`` frames are valid).

    Returns (output [N*D], weights [N, length]). With ``bn_train`` the score batch norm uses this video's
    own valid-frame statistics (a batch of one video)."""
    x = np.asarray(x, np.float64)[:length]
    if layer.l2_normalize_input:
        x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    if layer.hidden_fc is not None:
        h = np.tanh(x @ _np(layer.hidden_fc.weight) + _np(layer.hidden_fc.bias))
    else:
        h = x
    s = (h @ _np(layer.score_fc.weight) + _np(layer.score_fc.bias)).T            # [N, L]
    if layer.score_bn is not None:
        bn = layer.score_bn
        if bn_train:
            mean, var = s.mean(axis=1, keepdims=True), s.var(axis=1, keepdims=True)
        else:
            mean, var = _np(bn._mean)[:, None], _np(bn._variance)[:, None]
        s = (s - mean) / np.sqrt(var + bn.epsilon) * _np(bn.weight)[:, None] + _np(bn.bias)[:, None]
    a = np.exp(s - s.max(axis=1, keepdims=True))
    a /= a.sum(axis=1, keepdims=True)                                             # softmax over frames
    o = a @ x                                                                      # [N, D]
    if layer.shift:
        v = _np(layer.alpha)[:, None] * o + _np(layer.beta)[:, None]
        o = v / (math.sqrt(layer.num_units) * np.linalg.norm(v, axis=1, keepdims=True))
    return o.reshape(-1), a


def _video_batch(rng, lengths, dims, pad_to=None):
    t = pad_to or max(lengths)
    feats = [rng.integers(0, 256, size=(len(lengths), t, d)).astype(np.uint8) for d in dims]
    return feats, np.asarray(lengths, np.int64)


def _backbone(**kw) -> AttentionCluster:
    paddle.seed(7)
    opts = dict(feature_names=["rgb", "audio"], feature_dims=[12, 6], cluster_nums=[4, 3], shift_init="normal")
    opts.update(kw)
    m = AttentionCluster(**opts)
    m.eval()
    return m


@pytest.mark.parametrize("weighting", ["fc1", "fc2"])
@pytest.mark.parametrize("shift", [True, False])
def test_backbone_matches_numpy_formulas(weighting, shift):
    rng = np.random.default_rng(0)
    m = _backbone(weighting=weighting, fc2_hidden_size=5, shift=shift)
    feats, lengths = _video_batch(rng, [9, 4, 1], m.feature_dims)
    out = m([paddle.to_tensor(f) for f in feats], paddle.to_tensor(lengths)).numpy()
    assert out.shape == (3, m.out_channels) and m.out_channels == 4 * 12 + 3 * 6
    for b, n in enumerate(lengths):
        expect = np.concatenate([np_cluster(c, f[b] * DEQ_SCALE + DEQ_BIAS, n)[0]
                                 for c, f in zip(m.clusters, feats)])
        np.testing.assert_allclose(out[b], expect, rtol=1e-4, atol=1e-5)


def test_single_unit_is_weighted_average_of_frames():
    """N = 1 without shifting: the output is sum_t softmax_t(w.x_t + b) x_t, written out by hand."""
    rng = np.random.default_rng(1)
    layer = ShiftingAttentionCluster(dim=5, num_units=1, shift=False)
    x = rng.normal(size=(1, 6, 5)).astype(np.float32)
    w, b = _np(layer.score_fc.weight)[:, 0], float(layer.score_fc.bias.numpy()[0])
    scores = x[0].astype(np.float64) @ w + b
    a = np.exp(scores) / np.exp(scores).sum()
    expect = (a[:, None] * x[0]).sum(axis=0)
    out = layer(paddle.to_tensor(x), paddle.ones([1, 6], dtype="bool")).numpy()[0]
    np.testing.assert_allclose(out, expect, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("opts", [{}, {"weighting": "fc2"}, {"l2_normalize_input": True},
                                  {"score_batch_norm": True}])
def test_padding_does_not_change_output(opts):
    rng = np.random.default_rng(2)
    m = _backbone(**opts)
    lengths = [7, 3, 5]
    feats, lens = _video_batch(rng, lengths, m.feature_dims)
    padded = [np.concatenate([f, rng.integers(0, 256, size=(3, 11, f.shape[2])).astype(np.uint8)], axis=1)
              for f in feats]                                      # 11 extra frames of random garbage
    for mode in ("eval", "train"):  # train: masked batch-norm statistics must ignore the padding too
        getattr(m, mode)()
        a = m([paddle.to_tensor(f) for f in feats], paddle.to_tensor(lens)).numpy()
        b = m([paddle.to_tensor(f) for f in padded], paddle.to_tensor(lens)).numpy()
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    m.eval()
    weights = m.attention_weights([paddle.to_tensor(f) for f in padded], paddle.to_tensor(lens))
    for w, n_units in zip(weights, m.cluster_nums):
        w = w.numpy()
        assert w.shape == (3, n_units, 18)
        for i, n in enumerate(lengths):
            assert np.all(w[i, :, n:] == 0.0)                       # exactly zero on padding
            np.testing.assert_allclose(w[i, :, :n].sum(axis=1), 1.0, rtol=1e-5)


def test_attention_weights_match_numpy():
    rng = np.random.default_rng(3)
    m = _backbone()
    feats, lens = _video_batch(rng, [5, 2], m.feature_dims, pad_to=8)
    weights = m.attention_weights([paddle.to_tensor(f) for f in feats], paddle.to_tensor(lens))
    for c, f, w in zip(m.clusters, feats, weights):
        for b, n in enumerate(lens):
            _, a = np_cluster(c, f[b] * DEQ_SCALE + DEQ_BIAS, n)
            np.testing.assert_allclose(w.numpy()[b, :, :n], a, rtol=1e-4, atol=1e-6)


def test_shifting_gives_each_unit_norm_one_over_sqrt_n():
    rng = np.random.default_rng(4)
    m = _backbone(cluster_nums=[5, 2])
    feats, lens = _video_batch(rng, [6, 1, 3], m.feature_dims)
    out = m([paddle.to_tensor(f) for f in feats], paddle.to_tensor(lens)).numpy()
    start = 0
    for d, n in zip(m.feature_dims, m.cluster_nums):
        blocks = out[:, start:start + n * d].reshape(3, n, d)
        np.testing.assert_allclose(np.linalg.norm(blocks, axis=2), 1.0 / math.sqrt(n), rtol=1e-5)
        np.testing.assert_allclose(np.linalg.norm(blocks.reshape(3, -1), axis=1), 1.0, rtol=1e-5)
        start += n * d


def test_options_change_what_they_should():
    rng = np.random.default_rng(5)
    feats, lens = _video_batch(rng, [6, 4], [12, 6])
    inputs = ([paddle.to_tensor(f) for f in feats], paddle.to_tensor(lens))
    base = _backbone()
    ref = base(*inputs).numpy()
    # Same seed -> same score weights; each option must change the output (its numpy form is checked above).
    for opts in ({"weighting": "fc2"}, {"shift": False}, {"l2_normalize_input": True}):
        assert not np.allclose(_backbone(**opts)(*inputs).numpy(), ref, atol=1e-4), opts
    # Without shifting the unit outputs are convex combinations of frames, with norms not tied to 1/sqrt(N).
    plain = _backbone(shift=False)(*inputs).numpy()[:, : 4 * 12].reshape(2, 4, 12)
    x0 = feats[0][0, :6] * DEQ_SCALE + DEQ_BIAS
    assert np.all(plain[0] <= x0.max(axis=0) + 1e-5) and np.all(plain[0] >= x0.min(axis=0) - 1e-5)
    assert not np.allclose(np.linalg.norm(plain, axis=2), 0.5, atol=1e-3)
    # Score batch norm: eval mode with identity running statistics is an exact no-op ...
    bn = _backbone(score_batch_norm=True)
    np.testing.assert_allclose(bn(*inputs).numpy(), ref, rtol=1e-4, atol=1e-5)
    # ... while in training it normalises the scores with the batch's valid-frame statistics (numpy, B=1).
    bn.train()
    one = ([inputs[0][0][:1], inputs[0][1][:1]], inputs[1][:1])
    got = bn(*one).numpy()[0]
    expect = np.concatenate([np_cluster(c, f[0] * DEQ_SCALE + DEQ_BIAS, 6, bn_train=True)[0]
                             for c, f in zip(bn.clusters, feats)])
    np.testing.assert_allclose(got, expect, rtol=1e-4, atol=1e-5)
    # ... and moves the running mean from 0 towards the batch's valid-frame mean: 0.9 * 0 + 0.1 * mean.
    c0 = bn.clusters[0]
    scores = (feats[0][0, :6] * DEQ_SCALE + DEQ_BIAS) @ _np(c0.score_fc.weight) + _np(c0.score_fc.bias)
    np.testing.assert_allclose(c0.score_bn._mean.numpy(), 0.1 * scores.mean(axis=0), rtol=1e-4, atol=1e-6)
    # Score dropout: inactive in eval; in training it perturbs the weights, which still sum to 1 over valid frames.
    dr = _backbone(score_drop_rate=0.5)
    np.testing.assert_allclose(dr(*inputs).numpy(), ref, rtol=1e-5, atol=1e-6)
    dr.train()
    w_train = dr.attention_weights(*inputs)[0].numpy()
    dr.eval()
    w_eval = dr.attention_weights(*inputs)[0].numpy()
    assert not np.allclose(w_train, w_eval)
    np.testing.assert_allclose(w_train[1, :, :4].sum(axis=1), 1.0, rtol=1e-5)
    assert np.all(w_train[1, :, 4:] == 0.0)


def test_float_input_without_dequantization():
    rng = np.random.default_rng(6)
    m = _backbone(dequantize_input=False)
    x = [rng.normal(size=(2, 5, d)).astype(np.float32) for d in m.feature_dims]
    out = m([paddle.to_tensor(v) for v in x], paddle.to_tensor(np.array([5, 2]))).numpy()
    expect = np.concatenate([np_cluster(c, v[1], 2)[0] for c, v in zip(m.clusters, x)])
    np.testing.assert_allclose(out[1], expect, rtol=1e-4, atol=1e-5)
    assert [s.dtype for s in m.input_spec()] == [paddle.float32, paddle.float32, paddle.int64]


def test_invalid_options_raise_clear_errors():
    with pytest.raises(ValueError, match="cluster_nums"):
        AttentionCluster(feature_dims=[4, 2], cluster_nums=[3])
    with pytest.raises(ValueError, match="weighting"):
        AttentionCluster(feature_dims=[4, 2], weighting="fc3")
    with pytest.raises(ValueError, match="shift_init"):
        AttentionCluster(feature_dims=[4, 2], shift_init="xavier")


def _small_recognizer(head, loss=None):
    paddle.seed(3)
    cfg = {"framework": "Recognizer1D",
           "backbone": {"name": "AttentionCluster", "feature_dims": [16, 8], "cluster_nums": [3, 2],
                        "score_batch_norm": True, "l2_normalize_input": True},
           "head": head}
    if loss:
        cfg["loss"] = loss
    return build_model(cfg)


class _Export(paddle.nn.Layer):
    """What a generic exporter does: the recognizer's ``infer_forward`` as a Layer's forward."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, rgb, audio, lengths):
        return self.model.infer_forward(rgb, audio, lengths)


@pytest.mark.parametrize("head", [{"name": "MLPHead", "num_classes": 7, "hidden_sizes": [10], "activations": ["tanh"],
                                   "drop_rate": 0.5},
                                  {"name": "MoEHead", "num_classes": 7, "hidden_size": 9, "gating_hidden_size": 11}])
def test_export_round_trip_dynamic_batch_and_time(tmp_path, head):
    model = _small_recognizer(head)
    model.eval()
    specs = model.input_spec()
    assert [list(s.shape) for s in specs] == [[-1, -1, 16], [-1, -1, 8], [-1]]
    assert [s.dtype for s in specs] == [paddle.uint8, paddle.uint8, paddle.int64]
    static = paddle.jit.to_static(_Export(model), input_spec=specs, full_graph=True)
    paddle.jit.save(static, str(tmp_path / "ac"))
    loaded = paddle.jit.load(str(tmp_path / "ac"))
    loaded.eval()
    rng = np.random.default_rng(8)
    for b, t in [(3, 9), (1, 1), (5, 20)]:
        feats, lens = _video_batch(rng, list(rng.integers(1, t + 1, size=b)), [16, 8], pad_to=t)
        args = [paddle.to_tensor(f) for f in feats] + [paddle.to_tensor(lens)]
        got, expect = loaded(*args).numpy(), model.infer_forward(*args).numpy()
        assert got.shape == (b, 7)
        np.testing.assert_allclose(got, expect, rtol=0, atol=1e-5)
        assert np.all((got >= 0) & (got <= 1))


def test_few_training_steps_reduce_the_loss():
    """A tiny learnable task: class c is signalled by frames near prototype c; 25 Adam steps must cut the loss."""
    rng = np.random.default_rng(9)
    model = _small_recognizer({"name": "MLPHead", "num_classes": 4, "hidden_sizes": [16], "activations": ["tanh"]},
                              {"name": "SigmoidBCELoss", "reduction": "batch_mean"})
    protos = [rng.integers(0, 256, size=(4, d)) for d in (16, 8)]
    labels = rng.integers(0, 4, size=16)
    lens = rng.integers(3, 10, size=16)
    feats = [rng.integers(100, 156, size=(16, 10, d)) for d in (16, 8)]
    for i, (c, n) in enumerate(zip(labels, lens)):
        t = rng.integers(0, n)
        for f, p in zip(feats, protos):
            f[i, t] = p[c]
    batch = {"rgb": paddle.to_tensor(feats[0].astype(np.uint8)), "audio": paddle.to_tensor(feats[1].astype(np.uint8)),
             "lengths": paddle.to_tensor(lens.astype(np.int64)),
             "labels": paddle.to_tensor(np.eye(4, dtype=np.float32)[labels])}
    opt = paddle.optimizer.Adam(learning_rate=1e-2, parameters=model.parameters())
    model.train()
    losses = []
    for _ in range(25):
        loss = model(batch, "train")["loss"]
        loss.backward()
        opt.step()
        opt.clear_grad()
        losses.append(float(loss.item()))
    assert np.isfinite(losses).all() and losses[-1] < 0.5 * losses[0]
