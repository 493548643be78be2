"""HierarchicalAttention backbone (paddlevideo/modeling/backbones/hierarchical_attention.py) against its equations.

* the eager backbone equals a float64 numpy implementation of the equations of docs/hierarchical_attention.md,
  written here from the layer's weights with plain loops over windows and heads (keys and values as separate
  per-position products, as in multi-head attention), on the unpadded videos of a padded batch;
* the per-frame attention weights equal the numpy product of the weights down the tree, sum to 1 over the valid
  frames and are exactly 0 on padding;
* padded frames holding random codes, and more of them, change nothing, and neither does predicting a video alone;
* export + Paddle Inference give the eager model's probabilities on a padded batch and per video; the ONNX export
  has no LSTM node (nothing to patch) and onnxruntime matches Paddle Inference on a padded batch;
* tools/visualize_attention.py draws the weights of a HierarchicalAttention model.
"""
from __future__ import annotations

import math
import os
import subprocess
import sys

import numpy as np
import paddle
import pytest

from paddlevideo.utils.config import load_config, to_plain
from tests.modeling.backbone_checks import assert_export_matches_eager, random_batch, run_backbone
from tests.tasks.tiny_setup import ROOT

CONFIGS = os.path.join(ROOT, "configs", "recognition", "hierarchical_attention")
DEMO = os.path.join(CONFIGS, "hierarchical_attention_youtube8m_demo.yaml")
FULL = os.path.join(CONFIGS, "hierarchical_attention_youtube8m.yaml")
SMALL = dict(feature_names=["rgb", "audio"], feature_dims=[12, 6], embedding_size=8, heads=2, window=3, levels=2,
             final_queries=2, activation="tanh", position_scale=0.7, drop_rate=0.5)


def _randomize(layer: paddle.nn.Layer, seed: int) -> None:
    """Random values for every parameter, so that no weight is trivial (LayerNorm gains around 1)."""
    rng = np.random.default_rng(seed)
    state = {}
    for k, v in layer.state_dict().items():
        shape = list(v.shape)
        state[k] = (rng.normal(1.0, 0.2, shape) if k.endswith("norm.weight") else rng.normal(0.0, 0.5, shape))
        state[k] = state[k].astype(np.float32)
    layer.set_state_dict(state)


def _small_backbone(seed: int = 0, dequantize_input: bool = False, **kw):
    from paddlevideo.modeling.backbones.hierarchical_attention import HierarchicalAttention

    paddle.seed(seed)
    model = HierarchicalAttention(dequantize_input=dequantize_input, **{**SMALL, **kw})
    _randomize(model, seed)
    model.eval()
    return model


def _softmax(s):
    e = np.exp(s - s.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def _layer_norm(y, w, prefix, eps=1e-5):
    mu, var = y.mean(), y.var()
    return (y - mu) / np.sqrt(var + eps) * w[prefix + "norm.weight"] + w[prefix + "norm.bias"]


def _attend(z, w, prefix, heads, queries):
    """Multi-head attention of ``queries`` learned queries over the positions ``z`` [S, E] of one window, written as
    the textbook form: per-position keys s_j = u_h . z_j and per-position values V_h z_j + c_h, then the weighted sum
    of the values. Returns (outputs [Q, E], weights [S, Q*H])."""
    e = z.shape[1]
    d = e // heads
    u = w[prefix + "score.weight"]                                          # [E, Q*H]
    a = _softmax(z @ u)                                                     # [S, Q*H], softmax over the window
    outs = []
    for q in range(queries):
        head_out, pooled_in = [], []
        for h in range(heads):
            col = q * heads + h
            values = z @ w[prefix + "value"][h] + w[prefix + "value_bias"][h * d:(h + 1) * d]   # [S, d]
            head_out.append(a[:, col] @ values)
            pooled_in.append(a[:, col] @ z)
        o = np.concatenate(head_out) @ w[prefix + "out.weight"] + w[prefix + "out.bias"]
        outs.append(_layer_norm(o + np.mean(pooled_in, axis=0), w, prefix))
    return np.stack(outs), a


def _positions(t, e):
    pe = np.zeros((t, e))
    for pos in range(t):
        for i in range(e):
            angle = pos / 10000 ** (2 * (i // 2) / e)
            pe[pos, i] = math.sin(angle) if i % 2 == 0 else math.cos(angle)
    return pe


def _numpy_modality(x, w, m, cfg):
    """One modality of one video, valid frames ``x`` [n, D]: (output [Q*E], per-frame weights [n])."""
    e, hd, win, q = cfg["embedding_size"], cfg["heads"], cfg["window"], cfg["final_queries"]
    z = np.tanh(x @ w[f"fc_feature.{m}.weight"] + w[f"fc_feature.{m}.bias"])
    z = z + w[f"position_scale.{m}"][0] * _positions(len(x), e)
    trees = []                      # per level: list of (first position, weights averaged over heads [S])
    for level in range(cfg["levels"]):
        nodes, weights = [], []
        for start in range(0, len(z), win):
            out, a = _attend(z[start:start + win], w, f"level_pools.{m}.{level}.", hd, 1)
            nodes.append(out[0])
            weights.append(a.mean(axis=1))
        z = np.stack(nodes)
        trees.append(weights)
    out, a = _attend(z, w, f"final_pools.{m}.", hd, q)
    weight = a.mean(axis=1)                                                  # over the top positions
    for weights in reversed(trees):                                          # down to the frames
        weight = np.concatenate([weight[i] * wi for i, wi in enumerate(weights)])
    return out.reshape(-1), weight


def _numpy_backbone(xs, lengths, w, cfg=SMALL):
    rows, att = [], [[] for _ in xs]
    for b, n in enumerate(lengths):
        parts = []
        for m, x in enumerate(xs):
            out, weight = _numpy_modality(x[b, :n].astype(np.float64), w, m, cfg)
            parts.append(out)
            att[m].append(weight)
        rows.append(np.concatenate(parts))
    return np.stack(rows), att


def _float_batch(lengths, t_max, seed):
    rng = np.random.default_rng(seed)
    return [rng.normal(0, 1, (len(lengths), t_max, d)).astype(np.float32) for d in SMALL["feature_dims"]]


# lengths: one frame, a partial window, exactly one window (3), exactly window**levels (9), and longer videos
# whose top level keeps several positions for the final pooling (11 -> 4 -> 2, 20 -> 7 -> 3)
LENGTHS = [11, 1, 20, 3, 9, 5]


def _weights64(model):
    return {k: np.asarray(v.numpy(), np.float64) for k, v in model.state_dict().items()}


def test_backbone_equals_numpy_equations():
    model = _small_backbone(seed=1)
    xs = _float_batch(LENGTHS, 20, seed=2)
    got = run_backbone(model, xs, np.array(LENGTHS, np.int64))
    expected, _ = _numpy_backbone(xs, LENGTHS, _weights64(model))
    assert got.shape == (len(LENGTHS), 2 * 2 * 8) == (len(LENGTHS), model.out_channels)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_other_window_levels_and_activation_equal_numpy():
    cfg = {**SMALL, "window": 2, "levels": 3, "final_queries": 1, "heads": 4, "activation": "tanh"}
    model = _small_backbone(seed=7, window=2, levels=3, final_queries=1, heads=4)
    lengths = [13, 2, 8, 1]
    xs = _float_batch(lengths, 16, seed=8)
    got = run_backbone(model, xs, np.array(lengths, np.int64))
    expected, _ = _numpy_backbone(xs, lengths, _weights64(model), cfg)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_attention_weights_are_the_product_down_the_tree():
    model = _small_backbone(seed=3)
    lengths = np.array(LENGTHS, np.int64)
    xs = _float_batch(LENGTHS, 26, seed=4)                       # 6 more padded frames than the longest video
    with paddle.no_grad():
        got = [w.numpy() for w in model.attention_weights([paddle.to_tensor(x) for x in xs], paddle.to_tensor(lengths))]
    _, expected = _numpy_backbone(xs, LENGTHS, _weights64(model))
    assert [w.shape for w in got] == [(len(LENGTHS), 26)] * 2 and all(w.dtype == np.float32 for w in got)
    for m, w in enumerate(got):
        for b, n in enumerate(LENGTHS):
            np.testing.assert_allclose(w[b, :n], expected[m][b], rtol=1e-4, atol=1e-6)
            assert np.all(w[b, n:] == 0.0)                      # exactly 0 on padding
            assert np.all(w[b, :n] > 0)
        np.testing.assert_allclose(w.sum(axis=1), 1.0, rtol=0, atol=1e-5)


def test_padded_frames_change_nothing():
    model = _small_backbone(seed=5, dequantize_input=True)
    rng = np.random.default_rng(6)
    lengths = np.array([4, 1, 10, 2, 9], np.int64)
    short, _ = random_batch(rng, SMALL["feature_dims"], lengths, 10)
    long, _ = random_batch(rng, SMALL["feature_dims"], lengths, 37)   # more levels' worth of other padding
    for s, lg in zip(short, long):
        for b, n in enumerate(lengths):
            lg[b, :n] = s[b, :n]
    out = [run_backbone(model, xs, lengths) for xs in (short, long)]
    alone = [run_backbone(model, [x[b:b + 1, :n] for x in short], lengths[b:b + 1]) for b, n in enumerate(lengths)]
    np.testing.assert_allclose(out[1], out[0], rtol=0, atol=1e-6)
    np.testing.assert_allclose(np.concatenate(alone), out[0], rtol=0, atol=1e-6)


def test_invalid_sizes_are_refused_with_the_reason():
    from paddlevideo.modeling.backbones.hierarchical_attention import HierarchicalAttention

    with pytest.raises(ValueError, match="embedding_size 10 is not divisible by heads 4"):
        HierarchicalAttention(**{**SMALL, "embedding_size": 10, "heads": 4})
    with pytest.raises(ValueError, match="window 1: a level must pool at least 2 positions"):
        HierarchicalAttention(**{**SMALL, "window": 1})
    with pytest.raises(ValueError, match="activation 'sigmoid': choose one of tanh, relu, gelu"):
        HierarchicalAttention(**{**SMALL, "activation": "sigmoid"})


def test_full_config_output_width_and_sizes():
    from paddlevideo.modeling.builder import build_model

    cfg = load_config(FULL)
    model = build_model(cfg["MODEL"])
    bb = cfg["MODEL"]["backbone"]
    assert (bb["embedding_size"], bb["heads"], bb["window"], bb["levels"], bb["final_queries"]) == (512, 8, 16, 1, 4)
    assert model.backbone.out_channels == 4 * 512 * 2 == 4096          # AttentionLSTM's 2 * 1024 * 2
    assert cfg["MODEL"]["head"]["num_classes"] == 3862
    # parameters per pooling: score E*Q*H + value H*E*d + value bias E + out E*E + E + LayerNorm 2E
    e, h = 512, 8
    pool = lambda q: e * q * h + e * e + e + e * e + e + 2 * e  # noqa: E731
    fc = sum(d * e + e for d in (1024, 128))
    expected = fc + 2 + 2 * (1 * pool(1) + pool(4))
    assert sum(int(p.size) for p in model.backbone.parameters()) == expected


def _tiny_cfg():
    cfg = to_plain(load_config(DEMO))
    cfg["MODEL"]["backbone"].update(embedding_size=8, heads=2, window=3, levels=2, final_queries=2)
    cfg["MODEL"]["head"].update(num_classes=7, hidden_sizes=[8])
    cfg["model_name"] = "HierarchicalAttention_tiny"
    cfg["INFERENCE"] = {"max_frames": 30}
    return cfg


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    from paddlevideo.inference.export import build_eval_model

    cfg = _tiny_cfg()
    paddle.seed(5)
    model = build_eval_model(cfg["MODEL"])
    _randomize(model.backbone, 5)
    path = str(tmp_path_factory.mktemp("hier_weights") / "w.pdparams")
    paddle.save(model.state_dict(), path)
    return cfg, path


def test_export_and_paddle_inference_match_the_eager_model(tiny_weights, tmp_path):
    cfg, weights = tiny_weights
    rng = np.random.default_rng(6)
    lengths = np.array([9, 2, 13, 5, 1], np.int64)
    feats, lengths = random_batch(rng, [1024, 128], lengths, 13)
    assert_export_matches_eager(cfg, weights, str(tmp_path), ["rgb", "audio"], feats, lengths, 7, alone=[0, 1, 2])


def test_onnx_export_needs_no_lstm_patch_and_matches_on_padded_batches(tiny_weights, tmp_path):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("paddle2onnx")
    from paddlevideo.inference.export import export_model
    from paddlevideo.inference.predictor import InferenceOptions, Predictor

    cfg, weights = tiny_weights
    result = export_model(cfg, str(tmp_path / "onnx"), weights=weights, onnx=True)
    graph = onnx.load(result.onnx_file).graph
    assert not [n for n in graph.node if n.op_type in ("LSTM", "GRU", "RNN", "Loop", "Scan")]
    assert not [n for n in graph.node if n.name.endswith("_int32_for_lstm_cast")]     # nothing was patched in
    lengths = np.array([17, 3, 1, 9, 12], np.int64)
    feats, lengths = random_batch(np.random.default_rng(9), [1024, 128], lengths, 17)
    batch = {"rgb": feats[0], "audio": feats[1], "lengths": lengths}
    expected = Predictor(result.model_file, result.params_file, InferenceOptions(max_batch_size=5)).run(batch)
    got = ort.InferenceSession(result.onnx_file, providers=["CPUExecutionProvider"]).run(None, batch)[0]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)


def test_visualize_attention_tool_draws_the_weights(tiny_weights, tmp_path):
    import yaml

    from paddlevideo.loader.yt8m import write_tfrecord
    from tests.tasks.tiny_setup import make_records

    cfg, weights = tiny_weights
    records = make_records(2, seed=3, max_frames=25)
    write_tfrecord(str(tmp_path / "v.tfrecord"), records)
    cfg_path = tmp_path / "tiny.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    env = {**os.environ, "GLOG_minloglevel": "2", "PYTHONWARNINGS": "ignore"}
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "visualize_attention.py"), "-c", str(cfg_path),
                        "-w", weights, "--input_file", str(tmp_path / "v.tfrecord"), "--max_videos", "2",
                        "--output_dir", str(tmp_path / "att")], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    pngs = sorted(p.name for p in (tmp_path / "att").glob("*.png"))
    assert pngs == sorted(f"HierarchicalAttention_tiny_{rec['id']}_attention.png" for rec in records)
    assert r.stdout.count("rgb peak at frame") == 2 and r.stdout.count("audio peak at frame") == 2


def test_flop_count_of_the_full_config_follows_the_formula():
    """benchmarks/_common.count_matmul_flops (Linear hooks + the poolings' declared products) against the formula of
    docs/hierarchical_attention.md for one 300-frame video: 0.5804 GFLOP."""
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    try:
        import _common
    finally:
        sys.path.pop(0)
    from paddlevideo.modeling.builder import build_model

    model = build_model(load_config(FULL)["MODEL"])
    t, e, h, w, q = 300, 512, 8, 16, 4
    batch = {"rgb": paddle.zeros([1, t, 1024], "uint8"), "audio": paddle.zeros([1, t, 128], "uint8"),
             "lengths": paddle.to_tensor(np.array([t], np.int64))}
    counted = _common.count_matmul_flops(model, batch)["total"]
    fc = 2 * t * (1024 + 128) * e
    per_modality, n = 0, t
    for _ in range(1):                                       # 300 frames -> 19 segments
        windows = -(-n // w)
        per_modality += 2 * windows * w * e * h * 2          # scores + weighted sums over the padded windows
        per_modality += 2 * windows * e * e * 2              # value maps + output projection, once per window
        n = windows
    per_modality += 2 * n * e * q * h * 2 + 2 * q * e * e * 2   # the final pooling over the 19 segments
    head = 2 * (4096 * 8192 + 8192 * 4096 + 4096 * 3862)
    expected = fc + 2 * per_modality + head
    assert counted == expected
    assert round(expected / 1e9, 4) == 0.5804
