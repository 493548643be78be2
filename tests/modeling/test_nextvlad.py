"""NeXtVLAD backbone (paddlevideo/modeling/backbones/nextvlad.py) against the paper's equations (arXiv 1811.05014).

* the eager backbone equals a float64 numpy implementation of the equations written here from the layer's
  weights (random, batch-norm statistics included), at small sizes in eval mode;
* padded frames holding random codes, and more of them, change nothing (1e-6);
* export + Paddle Inference give the eager model's probabilities on a padded batch and per video;
* the full config builds with the parameter count of the paper's formula ``lambda*N*(N + G + K*(G + (H+1)/G))``
  per modality, and the total is printed.
"""
from __future__ import annotations

import os

import numpy as np
import paddle
import pytest

from paddlevideo.utils.config import load_config, to_plain
from tests.modeling.backbone_checks import assert_export_matches_eager
from tests.tasks.tiny_setup import ROOT

FULL = os.path.join(ROOT, "configs", "recognition", "nextvlad", "nextvlad_youtube8m.yaml")
DEMO = os.path.join(ROOT, "configs", "recognition", "nextvlad", "nextvlad_youtube8m_demo.yaml")
SMALL = dict(feature_names=["rgb", "audio"], feature_dims=[12, 6], cluster_sizes=[5, 3], expansion=2, groups=4,
             hidden_size=16, gating_reduction=4, drop_rate=0.5)


def _randomize(layer: paddle.nn.Layer, seed: int) -> None:
    """Random values for every parameter and buffer (positive running variances), so that no weight is trivial."""
    rng = np.random.default_rng(seed)
    state = {}
    for k, v in layer.state_dict().items():
        shape = list(v.shape)
        if k.endswith("_variance"):
            state[k] = rng.uniform(0.5, 2.0, shape).astype(np.float32)
        else:
            state[k] = rng.normal(0.0, 0.5, shape).astype(np.float32)
    layer.set_state_dict(state)


def _small_backbone(seed: int = 0, dequantize_input: bool = False):
    from paddlevideo.modeling.backbones.nextvlad import NeXtVLAD

    paddle.seed(seed)
    model = NeXtVLAD(dequantize_input=dequantize_input, **SMALL)
    _randomize(model, seed)
    model.eval()
    return model


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _l2n(v, axis):
    return v / np.maximum(np.sqrt((v * v).sum(axis=axis, keepdims=True)), 1e-12)


def _numpy_nextvlad(x, w, prefix, groups, clusters):
    """One modality, one video: the paper's eq. for the valid frames ``x`` [T, D] in float64."""
    xt = x @ w[prefix + "expand.weight"] + w[prefix + "expand.bias"]               # [T, lambda*D]
    dg = xt.shape[1] // groups
    centers = w[prefix + "centers"]                                                # [K, D']
    vlad = np.zeros((clusters, dg))
    for t in range(x.shape[0]):
        att = _sigmoid(xt[t] @ w[prefix + "attention.weight"] + w[prefix + "attention.bias"])    # [G]
        logits = xt[t] @ w[prefix + "assign.weight"] + w[prefix + "assign.bias"]               # [G*K]
        for g in range(groups):
            lg = logits[g * clusters:(g + 1) * clusters]
            soft = np.exp(lg - lg.max())
            soft /= soft.sum()
            for k in range(clusters):
                vlad[k] += att[g] * soft[k] * (xt[t, g * dg:(g + 1) * dg] - centers[k])
    vlad = _l2n(vlad, axis=1)                        # intra-normalisation
    return _l2n(vlad.reshape(-1), axis=0)


def _bn(h, w, prefix, eps=1e-5):
    scale = w[prefix + "weight"] / np.sqrt(w[prefix + "_variance"] + eps)
    return (h - w[prefix + "_mean"]) * scale + w[prefix + "bias"]


def _numpy_backbone(xs, lengths, w):
    rows = []
    for b, n in enumerate(lengths):
        v = np.concatenate([_numpy_nextvlad(x[b, :n], w, f"pools.{m}.", SMALL["groups"], SMALL["cluster_sizes"][m])
                            for m, x in enumerate(xs)])
        h = _bn(v @ w["hidden_fc.weight"], w, "hidden_bn.")                         # eval mode: no dropout
        z = np.maximum(_bn(h @ w["gating.fc1.weight"], w, "gating.bn1."), 0.0)
        gate = _sigmoid(_bn(z @ w["gating.fc.weight"], w, "gating.bn."))
        rows.append(h * gate)
    return np.stack(rows)


def _float_batch(lengths, t_max, seed):
    rng = np.random.default_rng(seed)
    return [rng.normal(0, 1, (len(lengths), t_max, d)).astype(np.float32) for d in SMALL["feature_dims"]]


def test_backbone_equals_numpy_equations():
    model = _small_backbone(seed=1)
    w = {k: np.asarray(v.numpy(), np.float64) for k, v in model.state_dict().items()}
    lengths = [5, 1, 8, 3]
    xs = _float_batch(lengths, 8, seed=2)
    with paddle.no_grad():
        got = model([paddle.to_tensor(x) for x in xs], paddle.to_tensor(np.array(lengths, np.int64))).numpy()
    expected = _numpy_backbone(xs, lengths, w)
    assert got.shape == (4, SMALL["hidden_size"]) == (4, model.out_channels)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    # the pooled vector of each modality has unit norm and every cluster block too
    pool = model.pools[0]
    with paddle.no_grad():
        v = pool(paddle.to_tensor(xs[0]), paddle.to_tensor(np.arange(8)[None] < np.array(lengths)[:, None])).numpy()
    assert v.shape == (4, SMALL["cluster_sizes"][0] * 2 * 12 // 4)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-5)
    blocks = v.reshape(4, SMALL["cluster_sizes"][0], -1)
    np.testing.assert_allclose(np.linalg.norm(blocks, axis=2), 1 / np.sqrt(SMALL["cluster_sizes"][0]), rtol=1e-4)


def test_padded_frames_change_nothing():
    model = _small_backbone(seed=3, dequantize_input=True)
    lengths = np.array([4, 1, 7, 2], np.int64)
    rng = np.random.default_rng(4)
    short = [rng.integers(0, 256, (4, 7, d)).astype(np.uint8) for d in SMALL["feature_dims"]]
    long = [rng.integers(0, 256, (4, 15, d)).astype(np.uint8) for d in SMALL["feature_dims"]]   # other padding
    for s, lg in zip(short, long):
        for b, n in enumerate(lengths):
            lg[b, :n] = s[b, :n]
    with paddle.no_grad():
        out = [model([paddle.to_tensor(x) for x in xs], paddle.to_tensor(lengths)).numpy() for xs in (short, long)]
        alone = [model([paddle.to_tensor(x[b:b + 1, :n]) for x in short], paddle.to_tensor(lengths[b:b + 1])).numpy()
                 for b, n in enumerate(lengths)]
    np.testing.assert_allclose(out[1], out[0], rtol=0, atol=1e-6)
    np.testing.assert_allclose(np.concatenate(alone), out[0], rtol=0, atol=1e-6)


def test_invalid_sizes_are_refused_with_the_reason():
    from paddlevideo.modeling.backbones.nextvlad import NeXtVLAD

    with pytest.raises(ValueError, match=r"expansion \* dim = 2 \* 6 = 12 is not divisible by groups = 5"):
        NeXtVLAD(**{**SMALL, "groups": 5, "feature_dims": [10, 6]})
    with pytest.raises(ValueError, match="cluster_sizes"):
        NeXtVLAD(**{**SMALL, "cluster_sizes": [5]})
    with pytest.raises(ValueError, match="hidden_size // gating_reduction = 16 // 32"):
        NeXtVLAD(**{**SMALL, "gating_reduction": 32})


def test_export_and_paddle_inference_match_the_eager_model(tmp_path):
    from paddlevideo.inference.export import build_eval_model

    cfg = to_plain(load_config(DEMO))
    cfg["MODEL"]["backbone"].update(feature_dims=[1024, 128], cluster_sizes=[4, 2], hidden_size=16)
    cfg["MODEL"]["head"].update(num_classes=7, hidden_size=8)
    cfg["model_name"] = "NeXtVLAD_tiny"
    paddle.seed(5)
    model = build_eval_model(cfg["MODEL"])
    _randomize(model, 5)
    weights = str(tmp_path / "w.pdparams")
    paddle.save(model.state_dict(), weights)
    rng = np.random.default_rng(6)
    lengths = np.array([9, 2, 13, 5, 1], np.int64)
    feats = [rng.integers(0, 256, (5, 13, 1024)).astype(np.uint8), rng.integers(0, 256, (5, 13, 128)).astype(np.uint8)]
    assert_export_matches_eager(cfg, weights, str(tmp_path), ["rgb", "audio"], feats, lengths, 7, alone=[0, 1, 2])


def test_full_config_size_matches_the_paper_formula(capsys):
    from paddlevideo.modeling.builder import build_model

    cfg = load_config(FULL)
    bb = cfg["MODEL"]["backbone"]
    model = build_model(cfg["MODEL"])
    backbone = model.backbone
    lam, g, h = bb["expansion"], bb["groups"], bb["hidden_size"]
    assert (lam, g, list(bb["cluster_sizes"]), h, bb["gating_reduction"], bb["drop_rate"]) == (
        2, 8, [128, 64], 2048, 8, 0.5)
    # the paper's count per modality: lambda*N*(N + G + K*(G + (H + 1)/G)) = expansion FC + group attention +
    # assignment + (hidden FC rows of this modality + cluster centres), weights only (biases aside)
    offset = 0
    for m, (n, k) in enumerate(zip(bb["feature_dims"], bb["cluster_sizes"])):
        pool = backbone.pools[m]
        width = pool.out_channels
        counted = (pool.expand.weight.size + pool.attention.weight.size + pool.assign.weight.size
                   + pool.centers.size + backbone.hidden_fc.weight[offset:offset + width].size)
        offset += width
        assert counted * g == lam * n * (n * g + g * g + k * (g * g + h + 1))
    assert offset == backbone.hidden_fc.weight.shape[0]
    n_backbone = sum(int(p.size) for p in backbone.parameters())
    n_total = sum(int(p.size) for p in model.parameters())
    print(f"NeXtVLAD full config: backbone {n_backbone / 1e6:.2f} M, with the MoE head {n_total / 1e6:.2f} M "
          f"parameters ({n_total * 4 / 2**20:.0f} MB float32)")
    assert 76.7e6 < n_backbone < 76.9e6          # "under 80 M" (legacy Paddle zoo), as the module docstring
    assert n_backbone < 80e6
