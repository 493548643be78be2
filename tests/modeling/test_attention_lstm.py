"""AttentionLSTM backbone, MLP head, BCE losses and masked softmax against numpy formulas."""
from __future__ import annotations

import numpy as np
import paddle
import pytest

from paddlevideo.modeling import build_model
from paddlevideo.modeling.layers.attention import length_mask, masked_softmax

SMALL = {
    "framework": "Recognizer1D",
    "backbone": {"name": "AttentionLSTM", "feature_names": ["rgb", "audio"], "feature_dims": [16, 8],
                 "embedding_size": 12, "lstm_size": 10, "drop_rate": 0.5},
    "head": {"name": "MLPHead", "num_classes": 7, "hidden_sizes": [20], "activations": ["relu"]},
    "loss": {"name": "SigmoidBCELoss", "reduction": "sum"},
}


def _batch(rng, lengths, t_max, dims=(16, 8)):
    b = len(lengths)
    rgb = np.zeros((b, t_max, dims[0]), np.uint8)
    audio = np.zeros((b, t_max, dims[1]), np.uint8)
    for i, n in enumerate(lengths):
        rgb[i, :n] = rng.integers(0, 256, (n, dims[0]))
        audio[i, :n] = rng.integers(0, 256, (n, dims[1]))
    return rgb, audio


def _probs(model, rgb, audio, lengths):
    return model.infer_forward(paddle.to_tensor(rgb), paddle.to_tensor(audio),
                               paddle.to_tensor(np.asarray(lengths, np.int64))).numpy()


def test_padding_frames_do_not_change_output():
    paddle.seed(0)
    model = build_model(SMALL)
    model.eval()
    rng = np.random.default_rng(0)
    lengths = [5, 9, 1]
    rgb, audio = _batch(rng, lengths, 9)
    base = _probs(model, rgb, audio, lengths)
    # 40 more padding frames filled with garbage codes: the output must not move
    rgb2 = np.concatenate([rgb, rng.integers(0, 256, (3, 40, 16)).astype(np.uint8)], axis=1)
    audio2 = np.concatenate([audio, rng.integers(0, 256, (3, 40, 8)).astype(np.uint8)], axis=1)
    for i, n in enumerate(lengths):          # garbage also in the old padding region
        rgb2[i, n:] = rng.integers(0, 256, (49 - n, 16))
        audio2[i, n:] = rng.integers(0, 256, (49 - n, 8))
    padded = _probs(model, rgb2, audio2, lengths)
    np.testing.assert_allclose(padded, base, atol=1e-6, rtol=0)
    # and each video alone, unpadded, gives the same row as in the batch
    for i, n in enumerate(lengths):
        alone = _probs(model, rgb[i:i + 1, :n], audio[i:i + 1, :n], [n])
        np.testing.assert_allclose(alone[0], base[i], atol=1e-6, rtol=0)


def test_attention_weights_zero_on_padding_and_sum_to_one():
    paddle.seed(1)
    model = build_model(SMALL)
    model.eval()
    rng = np.random.default_rng(1)
    lengths = [3, 6]
    rgb, audio = _batch(rng, lengths, 6)
    weights = model.backbone.attention_weights(
        [paddle.to_tensor(rgb), paddle.to_tensor(audio)], paddle.to_tensor(np.array(lengths, np.int64)))
    for w in weights:
        w = w.numpy()
        assert w.shape == (2, 6)
        assert np.all(w[0, 3:] == 0.0)
        np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-6)


def test_masked_softmax_matches_numpy_and_is_stable():
    rng = np.random.default_rng(2)
    scores = rng.normal(0, 50, (3, 6)).astype(np.float32)
    scores[1, 0] = 1e4                                 # would overflow a naive exp
    lengths = np.array([6, 2, 0], np.int64)
    out = masked_softmax(paddle.to_tensor(scores),
                         length_mask(paddle.to_tensor(lengths), 6), axis=1).numpy()
    for i, n in enumerate(lengths):
        expected = np.zeros(6)
        if n:
            s = scores[i, :n].astype(np.float64)
            e = np.exp(s - s.max())
            expected[:n] = e / e.sum()
        np.testing.assert_allclose(out[i], expected, atol=1e-6)
    assert np.isfinite(out).all()


def test_head_and_loss_match_numpy():
    paddle.seed(3)
    model = build_model(SMALL)
    model.eval()
    head = model.head
    x = np.random.default_rng(3).normal(size=(4, model.backbone.out_channels)).astype(np.float32)
    w1, b1 = head.fcs[0].weight.numpy(), head.fcs[0].bias.numpy()
    w2, b2 = head.fc_logit.weight.numpy(), head.fc_logit.bias.numpy()
    expected = np.maximum(x @ w1 + b1, 0) @ w2 + b2
    logits = head(paddle.to_tensor(x)).numpy()
    np.testing.assert_allclose(logits, expected, rtol=1e-5, atol=1e-5)
    labels = (np.random.default_rng(4).random((4, 7)) < 0.3).astype(np.float32)
    z = logits.astype(np.float64)
    bce = np.maximum(z, 0) - z * labels + np.log1p(np.exp(-np.abs(z)))
    from paddlevideo.modeling.losses.bce import BCELoss, SigmoidBCELoss
    for reduction, ref in (("sum", bce.sum()), ("mean", bce.mean()), ("batch_mean", bce.sum(1).mean())):
        got = SigmoidBCELoss(reduction)(paddle.to_tensor(logits), paddle.to_tensor(labels)).item()
        assert got == pytest.approx(ref, rel=1e-5)
        p = 1 / (1 + np.exp(-z))
        got_p = BCELoss(reduction)(paddle.to_tensor(p.astype(np.float32)), paddle.to_tensor(labels)).item()
        assert got_p == pytest.approx(ref, rel=1e-4)


def test_prior_prob_sets_initial_probabilities():
    cfg = {**SMALL, "head": {**SMALL["head"], "prior_prob": 0.01}}
    paddle.seed(4)
    model = build_model(cfg)
    np.testing.assert_allclose(model.head.fc_logit.bias.numpy(), np.log(0.01 / 0.99), rtol=1e-6)
    with pytest.raises(ValueError, match="prior_prob"):
        build_model({**SMALL, "head": {**SMALL["head"], "prior_prob": 1.5}})


def test_forward_modes():
    paddle.seed(5)
    model = build_model(SMALL)
    rng = np.random.default_rng(5)
    rgb, audio = _batch(rng, [4, 2], 4)
    batch = {"rgb": paddle.to_tensor(rgb), "audio": paddle.to_tensor(audio),
             "lengths": paddle.to_tensor(np.array([4, 2], np.int64)),
             "labels": paddle.to_tensor(np.eye(7, dtype=np.float32)[:2])}
    assert set(model(batch, "train")) == {"loss"}
    model.eval()
    out = model(batch, "valid")
    assert set(out) == {"loss", "probs"}
    probs = out["probs"].numpy()
    assert probs.shape == (2, 7) and np.all((probs >= 0) & (probs <= 1))
    assert set(model(batch, "infer")) == {"probs"}
    with pytest.raises(ValueError, match="unknown mode"):
        model(batch, "bogus")
