"""Checks shared by the backbone tests: random padded batches and the export + Paddle Inference parity check."""
from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import paddle


def random_batch(rng: np.random.Generator, dims: Sequence[int], lengths: Sequence[int],
                 pad_to: int) -> tuple[list[np.ndarray], np.ndarray]:
    """uint8 ``[B, pad_to, D]`` per width in ``dims`` (random codes, padding included) and int64 lengths ``[B]``."""
    feats = [rng.integers(0, 256, size=(len(lengths), pad_to, d)).astype(np.uint8) for d in dims]
    return feats, np.asarray(lengths, np.int64)


def repadded(rng: np.random.Generator, feats: Sequence[np.ndarray], lengths: np.ndarray,
             pad_to: int) -> list[np.ndarray]:
    """``feats`` padded to ``pad_to`` frames instead, with other random codes in the padding: the same valid
    frames of each video (its first ``lengths[b]``), so a padding-invariant backbone gives the same output."""
    longer, _ = random_batch(rng, [f.shape[2] for f in feats], lengths, pad_to)
    for f, g in zip(feats, longer):
        for b, n in enumerate(lengths):
            g[b, :n] = f[b, :n]
    return longer


def np_hidden_and_gating(model: paddle.nn.Layer, parts: Sequence[np.ndarray]) -> np.ndarray:
    """The NetVLAD family's tail in float64 for one video (Miech et al., arXiv 1706.06905): the per-modality
    pooled vectors ``parts`` concatenated, the hidden FC, then context gating ``h * sigmoid(BN(W_g h))`` with
    the batch norm's running statistics (eval mode); without gating, the hidden FC's output."""
    h = np.concatenate(parts) @ _np64(model.hidden.weight) + _np64(model.hidden.bias)
    if model.gating is None:
        return h
    g, bn = h @ _np64(model.gating.fc.weight), model.gating.bn
    g = (g - _np64(bn._mean)) / np.sqrt(_np64(bn._variance) + bn._epsilon) * _np64(bn.weight) + _np64(bn.bias)
    return h / (1.0 + np.exp(-g))


def _np64(t: paddle.Tensor) -> np.ndarray:
    return t.numpy().astype(np.float64)


def run_backbone(model: paddle.nn.Layer, feats: Sequence[np.ndarray], lengths: np.ndarray) -> np.ndarray:
    """The backbone's float32 ``[B, out_channels]`` output without gradients."""
    with paddle.no_grad():
        return model([paddle.to_tensor(f) for f in feats], paddle.to_tensor(lengths)).numpy()


def assert_export_matches_eager(cfg: dict[str, Any], weights: str, out_dir: str, names: Sequence[str],
                                feats: Sequence[np.ndarray], lengths: np.ndarray, num_classes: int,
                                alone: Sequence[int]) -> None:
    """Export ``cfg`` with ``weights``, then the Paddle Inference predictor must give the eager model's probabilities
    (1e-5) on the padded batch, and each video of ``alone`` predicted by itself, unpadded, its row of the batch."""
    from paddlevideo.inference.export import build_eval_model, export_model
    from paddlevideo.inference.predictor import InferenceOptions, Predictor

    result = export_model(cfg, os.path.join(out_dir, "inference"), weights=weights)
    assert result.meta["input_names"] == [*names, "lengths"]
    model = build_eval_model(cfg["MODEL"], weights)
    pred = Predictor(result.model_file, result.params_file, InferenceOptions(max_batch_size=len(lengths)))
    got = pred.run({**dict(zip(names, feats)), "lengths": lengths})
    with paddle.no_grad():
        eager = model.infer_forward(*(paddle.to_tensor(a) for a in (*feats, lengths))).numpy()
    assert got.shape == (len(lengths), num_classes) and got.dtype == np.float32
    np.testing.assert_allclose(got, eager, rtol=0, atol=1e-5)
    for b in alone:
        n = int(lengths[b])
        single = pred.run({**{k: f[b:b + 1, :n] for k, f in zip(names, feats)}, "lengths": lengths[b:b + 1]})
        np.testing.assert_allclose(single[0], got[b], rtol=0, atol=1e-5)
