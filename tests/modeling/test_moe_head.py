"""MoE head with context gating against a numpy implementation (Miech et al. 2017, arXiv 1706.06905;
the starter code's MoeModel). Eval mode with non-trivial batch-norm running statistics."""
from __future__ import annotations

import numpy as np
import paddle
import pytest

from paddlevideo.modeling import build_model
from paddlevideo.modeling.heads.moe_head import MoEHead
from paddlevideo.modeling.layers.context_gating import ContextGating


def _np(t):
    return t.numpy().astype(np.float64)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def np_bn(bn, x):
    return (x - _np(bn._mean)) / np.sqrt(_np(bn._variance) + bn._epsilon) * _np(bn.weight) + _np(bn.bias)


def np_linear(fc, x):
    y = x @ _np(fc.weight)
    return y + _np(fc.bias) if fc.bias is not None else y


def np_gating(cg: ContextGating, x):
    h = x
    if cg.fc1 is not None:
        h = np_linear(cg.fc1, h)
        if cg.bn1 is not None:
            h = np_bn(cg.bn1, h)
        h = np.maximum(h, 0.0)
    g = np_linear(cg.fc, h)
    if cg.bn is not None:
        g = np_bn(cg.bn, g)
    return x * _sigmoid(g)


def np_moe_head(head: MoEHead, x):
    h = np_bn(head.proj_bn, np_linear(head.proj, x))
    if head.input_gating is not None:
        h = np_gating(head.input_gating, h)
    b, c, m = x.shape[0], head.num_classes, head.num_mixtures
    logits = np_linear(head.gate_fc, h).reshape(b, c, m + 1)
    gates = np.exp(logits - logits.max(axis=2, keepdims=True))
    gates /= gates.sum(axis=2, keepdims=True)
    experts = _sigmoid(np_linear(head.expert_fc, h).reshape(b, c, m))
    p = (gates[:, :, :m] * experts).sum(axis=2)
    if head.output_gating is not None:
        p = np_gating(head.output_gating, p)
    return p


def _randomise_bn_stats(layer, rng):
    for sub in layer.sublayers():
        if isinstance(sub, paddle.nn.BatchNorm1D):
            n = sub._mean.shape[0]
            sub._mean.set_value(rng.normal(0, 0.5, n).astype(np.float32))
            sub._variance.set_value(rng.uniform(0.5, 2.0, n).astype(np.float32))
            sub.weight.set_value(rng.uniform(0.5, 1.5, n).astype(np.float32))
            sub.bias.set_value(rng.normal(0, 0.3, n).astype(np.float32))


@pytest.mark.parametrize("opts", [
    {},
    {"num_mixtures": 1, "input_gating": False, "output_gating": False},
    {"num_mixtures": 4, "gating_hidden_size": 13, "output_gating_hidden_size": 8, "drop_rate": 0.5,
     "gating_drop_rate": 0.3, "output_gating_drop_rate": 0.2},
])
def test_moe_head_matches_numpy_and_gives_probabilities(opts):
    rng = np.random.default_rng(0)
    paddle.seed(1)
    head = MoEHead(in_channels=20, num_classes=6, hidden_size=10, **opts)
    _randomise_bn_stats(head, rng)
    head.eval()
    x = rng.normal(0, 3.0, size=(5, 20)).astype(np.float32)
    got = head(paddle.to_tensor(x)).numpy()
    np.testing.assert_allclose(got, np_moe_head(head, x.astype(np.float64)), rtol=1e-4, atol=1e-6)
    assert got.shape == (5, 6) and np.all(got >= 0) and np.all(got <= 1)
    np.testing.assert_array_equal(head.to_probs(paddle.to_tensor(got)).numpy(), got)
    # Extreme inputs saturate sigmoids and softmaxes but stay inside [0, 1].
    big = head(paddle.to_tensor(x * 1e4)).numpy()
    assert np.all(np.isfinite(big)) and np.all(big >= 0) and np.all(big <= 1)


def test_dummy_expert_takes_part_in_the_softmax():
    """With a huge dummy-expert gate the probabilities go to 0, which a softmax over M experts alone cannot do."""
    paddle.seed(2)
    head = MoEHead(in_channels=4, num_classes=3, hidden_size=5, num_mixtures=2, input_gating=False,
                   output_gating=False)
    head.eval()
    w = np.zeros((5, 3 * 3), np.float32)
    w[:, 2::3] = 100.0                       # column m=2 of every class is the dummy expert
    head.gate_fc.weight.set_value(w)
    head.proj_bn.bias.set_value(np.full(5, 1.0, np.float32))      # h > 0, so the dummy gate logit is large
    head.proj.weight.set_value(np.zeros((4, 5), np.float32))
    p = head(paddle.ones([2, 4])).numpy()
    assert np.all(p < 1e-6)


def test_gate_weights_carry_l2_regulariser_and_train_with_bce_on_probs():
    paddle.seed(3)
    head = MoEHead(in_channels=8, num_classes=4, hidden_size=6, gate_l2=1e-3, expert_l2=0.0)
    reg = head.gate_fc.weight.regularizer
    assert isinstance(reg, paddle.regularizer.L2Decay) and reg._coeff == pytest.approx(1e-3)
    assert head.expert_fc.weight.regularizer is None
    assert head.gate_fc.bias is None                     # gates have no bias, as in the starter MoeModel
    # L2 really reaches the update: with zero gradient from the data, SGD shrinks W_g by lr * coeff * W_g.
    opt = paddle.optimizer.SGD(learning_rate=0.5, parameters=[head.gate_fc.weight])
    before = head.gate_fc.weight.numpy().copy()
    (head.gate_fc.weight * 0.0).sum().backward()
    opt.step()
    np.testing.assert_allclose(head.gate_fc.weight.numpy(), before * (1 - 0.5 * 1e-3), rtol=1e-5, atol=1e-8)


def test_recognizer_pairs_moe_head_with_probability_loss_only():
    backbone = {"name": "AttentionCluster", "feature_dims": [8, 4], "cluster_nums": [2, 2]}
    head = {"name": "MoEHead", "num_classes": 3, "hidden_size": 4}
    with pytest.raises(ValueError, match="outputs probs but loss SigmoidBCELoss expects logits"):
        build_model({"framework": "Recognizer1D", "backbone": backbone, "head": head,
                     "loss": {"name": "SigmoidBCELoss"}})
    model = build_model({"framework": "Recognizer1D", "backbone": backbone, "head": head,
                         "loss": {"name": "BCELoss", "reduction": "batch_mean"}})
    rng = np.random.default_rng(4)
    batch = {"rgb": paddle.to_tensor(rng.integers(0, 256, (4, 5, 8)).astype(np.uint8)),
             "audio": paddle.to_tensor(rng.integers(0, 256, (4, 5, 4)).astype(np.uint8)),
             "lengths": paddle.to_tensor(np.array([5, 2, 3, 1], np.int64)),
             "labels": paddle.to_tensor(rng.integers(0, 2, (4, 3)).astype(np.float32))}
    model.eval()
    out = model(batch, "valid")
    p, y = out["probs"].numpy().astype(np.float64), batch["labels"].numpy()
    expect = -(y * np.log(p) + (1 - y) * np.log(1 - p)).sum(axis=1).mean()     # probabilities used as such
    np.testing.assert_allclose(float(out["loss"].item()), expect, rtol=1e-5)
