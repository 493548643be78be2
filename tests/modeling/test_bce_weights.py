"""Per-class loss weights (``label_weights``) against the numpy formula, through the loss and the framework."""
from __future__ import annotations

import numpy as np
import paddle
import pytest

from paddlevideo.modeling import build_model
from paddlevideo.modeling.losses.bce import BCELoss, SigmoidBCELoss


def _np_bce_logits(x, y):
    # log(1 + e^x) - x*y, written stably: max(x, 0) - x*y + log(1 + e^-|x|)
    return np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x)))


def _reduce(el, reduction):
    return {"sum": el.sum(), "mean": el.mean(), "batch_mean": el.sum(axis=1).mean()}[reduction]


@pytest.mark.parametrize("reduction", ["sum", "mean", "batch_mean"])
def test_weighted_sigmoid_bce_equals_numpy(reduction):
    rng = np.random.default_rng(3)
    x = rng.normal(0, 3, (4, 7)).astype(np.float32)
    y = (rng.random((4, 7)) < 0.3).astype(np.float32)
    w = rng.random((4, 7)).astype(np.float32)
    loss = SigmoidBCELoss(reduction)(paddle.to_tensor(x), paddle.to_tensor(y), weights=paddle.to_tensor(w))
    np.testing.assert_allclose(float(loss), _reduce(w.astype(np.float64) * _np_bce_logits(x.astype(np.float64), y),
                                                    reduction), rtol=1e-5)
    unweighted = SigmoidBCELoss(reduction)(paddle.to_tensor(x), paddle.to_tensor(y))
    np.testing.assert_allclose(float(unweighted), _reduce(_np_bce_logits(x.astype(np.float64), y), reduction),
                               rtol=1e-5)


def test_weighted_prob_bce_equals_numpy():
    rng = np.random.default_rng(4)
    p = rng.uniform(0.01, 0.99, (3, 5)).astype(np.float32)
    y = (rng.random((3, 5)) < 0.5).astype(np.float32)
    w = rng.random((3, 5)).astype(np.float32)
    loss = BCELoss("sum")(paddle.to_tensor(p), paddle.to_tensor(y), weights=paddle.to_tensor(w))
    pd = p.astype(np.float64)
    np.testing.assert_allclose(float(loss), (w * -(y * np.log(pd) + (1 - y) * np.log(1 - pd))).sum(), rtol=1e-5)


def test_weights_of_another_shape_are_refused():
    with pytest.raises(ValueError, match=r"label_weights has shape \[2, 3\], the loss \[2, 4\]"):
        SigmoidBCELoss()(paddle.zeros([2, 4]), paddle.zeros([2, 4]), weights=paddle.ones([2, 3]))


def test_framework_passes_label_weights_to_the_loss():
    paddle.seed(0)
    model = build_model({"framework": "Recognizer1D",
                         "backbone": {"name": "AttentionLSTM", "feature_names": ["rgb"], "feature_dims": [8],
                                      "embedding_size": 4, "lstm_size": 4},
                         "head": {"name": "MLPHead", "num_classes": 5, "hidden_sizes": [6], "activations": ["relu"]},
                         "loss": {"name": "SigmoidBCELoss", "reduction": "sum"}})
    model.eval()
    rng = np.random.default_rng(5)
    batch = {"rgb": paddle.to_tensor(rng.integers(0, 256, (3, 6, 8)).astype(np.uint8)),
             "lengths": paddle.to_tensor(np.array([6, 2, 4], np.int64)),
             "labels": paddle.to_tensor((rng.random((3, 5)) < 0.4).astype(np.float32))}
    w = rng.random((3, 5)).astype(np.float32)
    logits = model.head_output([batch["rgb"]], batch["lengths"]).numpy().astype(np.float64)
    el = _np_bce_logits(logits, batch["labels"].numpy())
    with paddle.no_grad():
        plain = float(model(batch, "valid")["loss"])
        weighted = float(model({**batch, "label_weights": paddle.to_tensor(w)}, "valid")["loss"])
    np.testing.assert_allclose(plain, el.sum(), rtol=1e-5)
    np.testing.assert_allclose(weighted, (w * el).sum(), rtol=1e-5)
