"""Write ``tests/data/backbones/reference.npz``: weights, inputs and outputs of the frame backbones.

Run from the repository root: ``PYTHONPATH=$PWD python tests/modeling/make_backbone_reference.py [OUT]``.
The committed file was produced by the code of the commit *before* the backbones moved onto
``FrameBackbone`` (see the commit message that added it); ``test_backbone_reference.py`` loads its weights
into the current code and checks the state-dict keys and the outputs, so a refactoring of the backbones
that changes a parameter name or a number fails there.

For every case of :data:`CASES` (a small ``MODEL`` config, built with ``paddle.seed(case index)``) the file
holds, under the prefix ``<case>/``:

* ``keys``: the recognizer's state-dict keys, in order (a str array);
* ``param/<key>``: every state-dict value (so the test does not depend on initialisation order);
* ``logits`` float32 [B, C], ``probs`` float32 [B, C] and ``features`` float32 [B, out_channels]
  (eval mode), and ``att/<i>`` the backbone's attention weights of modality i;

plus the shared inputs ``rgb`` uint8 [4, 9, 16], ``audio`` uint8 [4, 9, 8] (random codes in the padding too)
and ``lengths`` int64 [4] = [9, 4, 1, 6], and their float32 versions ``rgb_f`` / ``audio_f`` for the
``dequantize_input: False`` case.
"""
from __future__ import annotations

import sys
from typing import Any

import numpy as np
import paddle

from paddlevideo.modeling import build_model

_HEAD = {"name": "MLPHead", "num_classes": 5, "hidden_sizes": [11], "activations": ["tanh"]}

#: case name -> MODEL config (small sizes; feature dims 16 and 8).
CASES: dict[str, dict[str, Any]] = {
    "lstm": {"backbone": {"name": "AttentionLSTM", "feature_names": ["rgb", "audio"], "feature_dims": [16, 8],
                          "embedding_size": 12, "lstm_size": 10, "drop_rate": 0.5}},
    "lstm_float": {"backbone": {"name": "AttentionLSTM", "feature_names": ["rgb", "audio"],
                                "feature_dims": [16, 8], "embedding_size": 6, "lstm_size": 5,
                                "dequantize_input": False}},
    "cluster_fc1": {"backbone": {"name": "AttentionCluster", "feature_names": ["rgb", "audio"],
                                 "feature_dims": [16, 8], "cluster_nums": [4, 3]}},
    "cluster_fc2": {"backbone": {"name": "AttentionCluster", "feature_names": ["rgb", "audio"],
                                 "feature_dims": [16, 8], "cluster_nums": [3, 2], "weighting": "fc2",
                                 "fc2_hidden_size": 7, "shift_init": "normal", "l2_normalize_input": True,
                                 "score_batch_norm": True, "score_drop_rate": 0.3}},
    "cluster_noshift_float": {"backbone": {"name": "AttentionCluster", "feature_names": ["rgb", "audio"],
                                           "feature_dims": [16, 8], "cluster_nums": [2, 2], "shift": False,
                                           "dequantize_input": False}},
}


def model_config(case: str) -> dict[str, Any]:
    """The full ``MODEL`` config of ``case`` (framework, backbone, MLP head)."""
    return {"framework": "Recognizer1D", "backbone": dict(CASES[case]["backbone"]), "head": dict(_HEAD)}


def inputs() -> dict[str, np.ndarray]:
    """The fixed padded batch: uint8 codes (garbage in the padding), float32 copies and lengths."""
    rng = np.random.default_rng(12)
    rgb = rng.integers(0, 256, (4, 9, 16)).astype(np.uint8)
    audio = rng.integers(0, 256, (4, 9, 8)).astype(np.uint8)
    return {"rgb": rgb, "audio": audio, "lengths": np.array([9, 4, 1, 6], np.int64),
            "rgb_f": (rgb.astype(np.float32) - 128.0) / 64.0, "audio_f": (audio.astype(np.float32) - 128.0) / 64.0}


def run(model: paddle.nn.Layer, case: str, data: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Eval-mode ``logits``, ``probs``, ``features`` and ``att/<i>`` of ``model`` on ``data``."""
    suffix = "_f" if CASES[case]["backbone"].get("dequantize_input") is False else ""
    feats = [paddle.to_tensor(data["rgb" + suffix]), paddle.to_tensor(data["audio" + suffix])]
    lengths = paddle.to_tensor(data["lengths"])
    model.eval()
    with paddle.no_grad():
        out = {"features": model.backbone(feats, lengths).numpy(),
               "logits": model.head_output(feats, lengths).numpy(),
               "probs": model.infer_forward(*feats, lengths).numpy()}
        for i, w in enumerate(model.backbone.attention_weights(feats, lengths)):
            out[f"att/{i}"] = w.numpy()
    return out


def main(path: str) -> None:
    """Build every case with a fixed seed and write the reference file to ``path``."""
    data = inputs()
    arrays: dict[str, np.ndarray] = dict(data)
    for seed, case in enumerate(CASES):
        paddle.seed(seed)
        model = build_model(model_config(case))
        state = model.state_dict()
        arrays[f"{case}/keys"] = np.array(list(state.keys()))
        for k, v in state.items():
            arrays[f"{case}/param/{k}"] = v.numpy()
        for k, v in run(model, case, data).items():
            arrays[f"{case}/{k}"] = v
    np.savez_compressed(path, **arrays)
    print(f"wrote {path}: {len(arrays)} arrays")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/data/backbones/reference.npz")
