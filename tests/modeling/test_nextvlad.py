"""NeXtVLAD backbone (paddlevideo/modeling/backbones/nextvlad.py) against the paper's equations (arXiv 1811.05014).

* the eager backbone equals a float64 numpy implementation of the equations written here from the layer's
  weights (random, batch-norm statistics included), at small sizes in eval mode;
* padded frames holding random codes, and more of them, change nothing (1e-6);
* export + Paddle Inference give the eager model's probabilities on a padded batch and per video;
* the full configs (the paper's best single model and Table 1's 128-cluster model) hold the paper's sizes and
  build with exactly the trainable parameter count written here from the paper's layer sizes (eq. 9 per modality,
  eq. 10 for the SE gating, the logistic classifier, plus the biases and batch norms of Figs. 2-4), which rounds
  to the paper's stated 79 M and 89 M.
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
SMALL = dict(feature_names=["rgb", "audio"], feature_dims=[12, 6], cluster_sizes=[5, 3], expansion=2, groups=[4, 3],
             hidden_size=16, gating_reduction=4, drop_rate=0.5)
TABLE1 = os.path.join(ROOT, "configs", "recognition", "nextvlad", "nextvlad_youtube8m_128k.yaml")


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
        v = np.concatenate([_numpy_nextvlad(x[b, :n], w, f"pools.{m}.", SMALL["groups"][m],
                                            SMALL["cluster_sizes"][m])
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
    assert v.shape == (4, SMALL["cluster_sizes"][0] * 2 * 12 // SMALL["groups"][0])
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
    with pytest.raises(ValueError, match=r"groups \[4\] must have the same length"):
        NeXtVLAD(**{**SMALL, "groups": [4]})
    one_g = NeXtVLAD(**{**SMALL, "groups": 2})                 # one G for every modality
    assert [p.groups for p in one_g.pools] == [2, 2]
    with pytest.raises(ValueError, match="hidden_size // gating_reduction = 16 // 32"):
        NeXtVLAD(**{**SMALL, "gating_reduction": 32})


def test_export_and_paddle_inference_match_the_eager_model(tmp_path):
    from paddlevideo.inference.export import build_eval_model

    cfg = to_plain(load_config(DEMO))
    cfg["MODEL"]["backbone"].update(feature_dims=[1024, 128], cluster_sizes=[4, 2], hidden_size=16)
    cfg["MODEL"]["head"].update(num_classes=7)
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


def _paper_count(n_dims, groups, clusters, lam, h, r, c):
    """Trainable parameters of the paper's model, from its layer sizes (arXiv 1811.05014, Figs. 2-4, eqs. 9-10).

    Weights: eq. 9 per modality ``lambda*N*(N + G + K*(G + (H + 1)/G))`` (expansion FC, group attention,
    assignment FC, centres and this modality's rows of the hidden FC), eq. 10 ``2*H*H/r`` (SE gating) and ``H*C``
    (logistic classifier). Biases and batch norms, which the paper's counts leave out: the biases of the expansion
    FC (lambda*N), of the attention (G) and of the assignment (G*K, eq. 6), the scale and shift of the batch norms
    after the hidden FC (2H) and after both gating FCs (2H/r + 2H, Fig. 4), and the classifier's bias (C)."""
    weights = sum(lam * n * (n + g + k * (g + (h + 1) / g)) for n, g, k in zip(n_dims, groups, clusters))
    weights += 2 * h * h / r + h * c
    extras = sum(lam * n + g + g * k for n, g, k in zip(n_dims, groups, clusters)) + 2 * h + 2 * h // r + 2 * h + c
    return weights, extras


@pytest.mark.parametrize("path, sizes, paper_millions", [
    (FULL, ([112, 56], [8, 4], 16), 79),        # Table 2: "single NeXtVLAD (460k steps) 79M", GAP 0.87846
    (TABLE1, ([128, 64], [8, 4], 8), 89),       # Table 1: "NeXtVLAD (8G, 0.5drop, 128K, 2048H) 89M", GAP 0.8723
])
def test_full_configs_have_the_papers_sizes_and_parameter_counts(path, sizes, paper_millions, capsys):
    from paddlevideo.modeling.builder import build_model

    cfg = load_config(path)
    bb, head = cfg["MODEL"]["backbone"], cfg["MODEL"]["head"]
    clusters, groups, r = sizes
    assert (bb["feature_dims"], bb["expansion"], bb["hidden_size"], bb["drop_rate"]) == ([1024, 128], 2, 2048, 0.5)
    assert (list(bb["cluster_sizes"]), list(bb["groups"]), bb["gating_reduction"]) == (clusters, groups, r)
    assert (head["name"], list(head["hidden_sizes"]), head["num_classes"]) == ("MLPHead", [], 3862)   # logistic
    model = build_model(cfg["MODEL"])
    trainable = sum(int(p.size) for p in model.parameters() if not p.stop_gradient)
    weights, extras = _paper_count([1024, 128], groups, clusters, 2, 2048, r, 3862)
    assert trainable == weights + extras
    assert round(weights / 1e6) == round(trainable / 1e6) == paper_millions
    print(f"{os.path.basename(path)}: {trainable:,} trainable parameters ({trainable * 4 / 2**20:.0f} MB float32), "
          f"paper {paper_millions}M")


@pytest.mark.parametrize("override, message", [
    ("MODEL.backbone.groups=[8]", "error: feature_names ['rgb', 'audio'], feature_dims [1024, 128], cluster_sizes "
                                  "[16, 8] and groups [8] must have the same length (one entry per modality)"),
    ("MODEL.backbone.groups=[7, 4]", "error: expansion * dim = 2 * 1024 = 2048 is not divisible by groups = 7"),
])
def test_main_refuses_invalid_groups_in_one_line(tmp_path, override, message):
    from tests.tasks.tiny_setup import run_main

    r = run_main(["-c", DEMO, "-o", override, "-o", f"output_dir={tmp_path / 'out'}"], timeout=300)
    assert r.returncode == 2
    assert r.stderr.splitlines() == [message]
