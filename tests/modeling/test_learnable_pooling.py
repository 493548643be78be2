"""NetFV and Soft-DBoW (paddlevideo/modeling/backbones/learnable_pooling.py) against numpy implementations of their
equations (arXiv 1706.06905 §3.2, normalisations of the authors' code), padding invariance, the parameter counts of
the full configs and the export / Paddle Inference round trip.

Small sizes only; every expectation is computed independently in numpy (float64, one video at a time, explicit
loops over frames and clusters) from the layers' parameters, never from a layer's own output.
"""
from __future__ import annotations

import os

import numpy as np
import paddle
import pytest

from paddlevideo.modeling import build_model
from paddlevideo.modeling.backbones.learnable_pooling import NetFV, SoftDBoW
from paddlevideo.utils.config import load_config
from tests.modeling.backbone_checks import (
    assert_export_matches_eager,
    np_hidden_and_gating,
    random_batch,
    repadded,
    run_backbone,
)
from tests.tasks.tiny_setup import ROOT

DEQ_SCALE, DEQ_BIAS = 4.0 / 255.0, 4.0 / 512.0 - 2.0
DIMS = [10, 6]
CONFIGS = os.path.join(ROOT, "configs", "recognition")


def _np(t: paddle.Tensor) -> np.ndarray:
    return t.numpy().astype(np.float64)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def _assign(pool, x: np.ndarray) -> np.ndarray:
    s = x @ _np(pool.assign.weight) + _np(pool.assign.bias)
    a = np.exp(s - s.max(axis=1, keepdims=True))
    return a / a.sum(axis=1, keepdims=True)


def np_netfv(pool, x: np.ndarray) -> np.ndarray:
    """NetFV of the frames ``x`` [L, D] (float64): [2*K*D]."""
    a, c, w = _assign(pool, x), _np(pool.centers), _np(pool.scale_weights)
    sigma = w * w + 1e-6
    k_num, d = c.shape
    fv1, fv2 = np.zeros((k_num, d)), np.zeros((k_num, d))
    for k in range(k_num):
        for t in range(x.shape[0]):
            z = (x[t] - c[k]) / sigma[k]
            fv1[k] += a[t, k] * z
            fv2[k] += a[t, k] * (z * z - 1.0)
        fv1[k] = _unit(fv1[k])
    return np.concatenate([_unit(fv1.reshape(-1)), _unit(fv2.reshape(-1))])


def np_softdbow(pool, x: np.ndarray) -> np.ndarray:
    """Soft-DBoW of the frames ``x`` [L, D] (float64): [K]."""
    a = _assign(pool, x)
    return _unit(sum(a[t] for t in range(x.shape[0])))


def np_model(m, pooling, codes: list[np.ndarray], length: int) -> np.ndarray:
    """The whole backbone for one video: ``codes`` uint8 [T, D_m] per modality, the first ``length`` frames valid."""
    parts = [pooling(pool, q[:length].astype(np.float64) * DEQ_SCALE + DEQ_BIAS) for pool, q in zip(m.vlads, codes)]
    return np_hidden_and_gating(m, parts)


def _backbone(cls, **kw):
    paddle.seed(21)
    opts = dict(feature_names=["rgb", "audio"], feature_dims=DIMS, cluster_sizes=[4, 3], hidden_size=7)
    opts.update(kw)
    m = cls(**opts)
    rng = np.random.default_rng(7)
    for p in m.parameters():          # trainable weights well away from their initial values
        if p.stop_gradient:
            continue
        p.set_value((_np(p) + rng.normal(0.0, 0.3, p.shape)).astype(np.float32))
    if m.gating is not None:
        m.gating.bn._mean.set_value(rng.normal(0, 0.3, 7).astype(np.float32))
        m.gating.bn._variance.set_value(rng.uniform(0.5, 2.0, 7).astype(np.float32))
    m.eval()
    return m


@pytest.mark.parametrize("cls, pooling, gating", [(NetFV, np_netfv, True), (NetFV, np_netfv, False),
                                                  (SoftDBoW, np_softdbow, True), (SoftDBoW, np_softdbow, False)])
def test_backbone_matches_numpy_equations(cls, pooling, gating):
    m = _backbone(cls, gating=gating)
    feats, lengths = random_batch(np.random.default_rng(0), DIMS, [9, 3, 1], 9)
    out = run_backbone(m, feats, lengths)
    assert out.shape == (3, 7) and m.out_channels == 7
    for b, n in enumerate(lengths):
        np.testing.assert_allclose(out[b], np_model(m, pooling, [f[b] for f in feats], n), rtol=1e-4, atol=1e-5)


def test_pooled_widths_and_norms():
    fv, bow = _backbone(NetFV), _backbone(SoftDBoW)
    assert [p.out_channels for p in fv.vlads] == [2 * 4 * 10, 2 * 3 * 6]
    assert [p.out_channels for p in bow.vlads] == [4, 3]
    feats, lengths = random_batch(np.random.default_rng(2), DIMS, [5, 2], 6)
    x = paddle.to_tensor(feats[0]).astype("float32") * DEQ_SCALE + DEQ_BIAS
    mask = paddle.arange(6).unsqueeze(0) < paddle.to_tensor(lengths).unsqueeze(1)
    with paddle.no_grad():
        v = fv.vlads[0](x, mask).numpy()
        w = bow.vlads[0](x, mask).numpy()
    first, second = v[:, :40].reshape(2, 4, 10), v[:, 40:]
    np.testing.assert_allclose(np.linalg.norm(first, axis=2), 0.5, rtol=1e-5)     # intra-normalised, 1/sqrt(K)
    np.testing.assert_allclose(np.linalg.norm(second, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(w, axis=1), 1.0, rtol=1e-5)
    assert (w >= 0).all()


@pytest.mark.parametrize("cls", [NetFV, SoftDBoW])
def test_padding_does_not_change_the_output(cls):
    rng = np.random.default_rng(3)
    m = _backbone(cls)
    feats, lengths = random_batch(rng, DIMS, [7, 1, 4], 7)
    longer = repadded(rng, feats, lengths, 15)           # other random codes in the padding, 8 more frames
    np.testing.assert_allclose(run_backbone(m, longer, lengths), run_backbone(m, feats, lengths), rtol=0, atol=1e-6)
    alone = run_backbone(m, [f[1:2, :1] for f in feats], lengths[1:2])
    np.testing.assert_allclose(alone[0], run_backbone(m, feats, lengths)[1], rtol=0, atol=1e-6)


@pytest.mark.parametrize("path, k, gating", [
    ("netfv/netfv_youtube8m.yaml", (128, 64), True),          # the authors' Gated NetFV
    ("softdbow/softdbow_youtube8m.yaml", (8000, 1000), False),  # the authors' Soft-DBoW
])
def test_full_configs_have_the_authors_sizes_and_parameter_counts(path, k, gating):
    cfg = load_config(os.path.join(CONFIGS, path))
    bb = cfg["MODEL"]["backbone"]
    assert (tuple(bb["cluster_sizes"]), bb["hidden_size"], bb["gating"], list(bb["feature_dims"])) == (
        k, 1024, gating, [1024, 128])
    backbone = build_model(cfg["MODEL"]).backbone
    trainable = sum(int(p.size) for p in backbone.parameters() if not p.stop_gradient)
    h = 1024
    if "netfv" in path:       # per modality: assignment K*(D+1), centres and scales 2*K*D, hidden rows 2*K*D*H
        expected = sum(kk * (d + 1) + 2 * kk * d + 2 * kk * d * h for kk, d in zip(k, (1024, 128)))
    else:                     # per modality: assignment K*(D+1), hidden rows K*H
        expected = sum(kk * (d + 1) + kk * h for kk, d in zip(k, (1024, 128)))
    expected += h + (h * h + 2 * h if gating else 0)      # hidden bias; gating FC (no bias) + its batch norm
    assert trainable == expected


def test_invalid_cluster_sizes_are_refused():
    for cls in (NetFV, SoftDBoW):
        with pytest.raises(ValueError, match=r"cluster_sizes \[4\] must give one cluster count per modality"):
            cls(feature_names=["rgb", "audio"], feature_dims=DIMS, cluster_sizes=[4])


@pytest.mark.parametrize("name", ["NetFV", "SoftDBoW"])
def test_export_and_paddle_inference_match_the_eager_model(tmp_path, name):
    model_cfg = {"framework": "Recognizer1D",
                 "backbone": {"name": name, "feature_names": ["rgb", "audio"], "feature_dims": DIMS,
                              "cluster_sizes": [4, 3], "hidden_size": 7, "gating": True},
                 "head": {"name": "MoEHead", "num_classes": 5, "hidden_size": 7}}
    paddle.seed(4)
    weights = str(tmp_path / "w.pdparams")
    paddle.save(build_model(model_cfg).state_dict(), weights)
    cfg = {"model_name": f"{name}_test", "MODEL": model_cfg, "INFERENCE": {"max_frames": 20}}
    feats, lengths = random_batch(np.random.default_rng(5), DIMS, [12, 3, 7, 1], 12)
    assert_export_matches_eager(cfg, weights, str(tmp_path), ["rgb", "audio"], feats, lengths, 5, alone=[1])
