"""NetVLAD with context gating against a numpy implementation of its equations (arXiv 1511.07247 eqs. 1-4,
arXiv 1706.06905 eq. 3), padding invariance and the export / Paddle Inference round trip.

Small sizes only; every expectation is computed independently in numpy (float64, one video at a time, with
explicit loops over clusters) from the layer's parameters, never from the layer's own output.
"""
from __future__ import annotations

import numpy as np
import paddle
import pytest

from paddlevideo.modeling import build_model
from paddlevideo.modeling.backbones.netvlad import NetVLAD
from tests.modeling.backbone_checks import (
    assert_export_matches_eager,
    np_hidden_and_gating,
    random_batch,
    repadded,
    run_backbone,
)

DEQ_SCALE, DEQ_BIAS = 4.0 / 255.0, 4.0 / 512.0 - 2.0
DIMS = [10, 6]


def _np(t: paddle.Tensor) -> np.ndarray:
    return t.numpy().astype(np.float64)


def np_netvlad(m: NetVLAD, codes: list[np.ndarray], length: int) -> np.ndarray:
    """Reference for one video: ``codes`` uint8 [T, D_m] per modality, first ``length`` frames valid."""
    parts = []
    for vlad, q in zip(m.vlads, codes):
        x = q[:length].astype(np.float64) * DEQ_SCALE + DEQ_BIAS                  # [L, D]
        w, b, c = _np(vlad.assign.weight), _np(vlad.assign.bias), _np(vlad.centers)
        s = x @ w + b                                                              # [L, K]
        a = np.exp(s - s.max(axis=1, keepdims=True))
        a /= a.sum(axis=1, keepdims=True)
        v = np.zeros_like(c)
        for k in range(c.shape[0]):
            for t in range(length):
                v[k] += a[t, k] * (x[t] - c[k])
            v[k] /= np.linalg.norm(v[k])
        v = v.reshape(-1)
        parts.append(v / np.linalg.norm(v))
    return np_hidden_and_gating(m, parts)


def _backbone(**kw) -> NetVLAD:
    paddle.seed(11)
    opts = dict(feature_names=["rgb", "audio"], feature_dims=DIMS, cluster_sizes=[4, 3], hidden_size=7)
    opts.update(kw)
    m = NetVLAD(**opts)
    # non-trivial running statistics for the gating batch norm, so that eval mode is a real check
    rng = np.random.default_rng(1)
    if m.gating is not None:
        m.gating.bn._mean.set_value(rng.normal(0, 0.3, 7).astype(np.float32))
        m.gating.bn._variance.set_value(rng.uniform(0.5, 2.0, 7).astype(np.float32))
    m.eval()
    return m


@pytest.mark.parametrize("gating", [True, False])
def test_netvlad_matches_numpy_equations(gating):
    rng = np.random.default_rng(0)
    m = _backbone(gating=gating)
    feats, lengths = random_batch(rng, DIMS, [9, 3, 1], 9)
    out = run_backbone(m, feats, lengths)
    assert out.shape == (3, 7) and m.out_channels == 7
    for b, n in enumerate(lengths):
        np.testing.assert_allclose(out[b], np_netvlad(m, [f[b] for f in feats], n), rtol=1e-4, atol=1e-5)


def test_vlad_blocks_are_intra_normalised():
    rng = np.random.default_rng(2)
    m = _backbone()
    feats, lengths = random_batch(rng, DIMS, [5, 2], 6)
    x = paddle.to_tensor(feats[0]).astype("float32") * DEQ_SCALE + DEQ_BIAS
    mask = paddle.arange(6).unsqueeze(0) < paddle.to_tensor(lengths).unsqueeze(1)
    v = m.vlads[0](x, mask).numpy().reshape(2, 4, DIMS[0])
    np.testing.assert_allclose(np.linalg.norm(v, axis=2), 0.5, rtol=1e-5)       # 1/sqrt(K), K = 4


def test_padding_does_not_change_the_output():
    rng = np.random.default_rng(3)
    m = _backbone()
    feats, lengths = random_batch(rng, DIMS, [7, 1, 4], 7)
    longer = repadded(rng, feats, lengths, 15)           # other random codes in the padding, 8 more frames
    np.testing.assert_allclose(run_backbone(m, longer, lengths), run_backbone(m, feats, lengths), rtol=0, atol=1e-6)
    alone = run_backbone(m, [f[1:2, :1] for f in feats], lengths[1:2])               # the 1-frame video without padding
    np.testing.assert_allclose(alone[0], run_backbone(m, feats, lengths)[1], rtol=0, atol=1e-6)


def test_invalid_cluster_sizes_are_refused():
    with pytest.raises(ValueError, match=r"cluster_sizes \[4\] must give one cluster count per modality"):
        NetVLAD(feature_names=["rgb", "audio"], feature_dims=DIMS, cluster_sizes=[4])


def test_export_and_paddle_inference_match_the_eager_model(tmp_path):
    model_cfg = {"framework": "Recognizer1D",
                 "backbone": {"name": "NetVLAD", "feature_names": ["rgb", "audio"], "feature_dims": DIMS,
                              "cluster_sizes": [4, 3], "hidden_size": 7},
                 "head": {"name": "MoEHead", "num_classes": 5, "hidden_size": 7}}
    paddle.seed(4)
    weights = str(tmp_path / "w.pdparams")
    paddle.save(build_model(model_cfg).state_dict(), weights)
    cfg = {"model_name": "NetVLAD_test", "MODEL": model_cfg, "INFERENCE": {"max_frames": 20}}
    feats, lengths = random_batch(np.random.default_rng(5), DIMS, [12, 3, 7, 1], 12)
    assert_export_matches_eager(cfg, weights, str(tmp_path), ["rgb", "audio"], feats, lengths, 5, alone=[1])
