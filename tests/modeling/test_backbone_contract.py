"""The backbone contract end to end: a backbone defined outside the package goes through every normal code path.

The toy backbone is the worked example of ``docs/contributing.md`` ("Adding a backbone"): its ``python`` block
is executed here (so the page cannot drift from what works) and registers ``MaskedMeanPool``; its ``yaml`` block
is the ``MODEL`` section of the config. No module of the package is changed for it. The test then

* trains it in-process through ``main.py``'s entry (``run_cli``) with validation, which writes the best checkpoint;
* exports the best checkpoint with :func:`paddlevideo.inference.export.export_model` (what
  ``tools/export_model.py`` calls) and predicts with the Paddle Inference :class:`Predictor`;
* checks the eager backbone against a masked mean computed in numpy from the layer's weights, its invariance
  to what the padded frames hold, and the predictor against the eager model.

The registration is removed again at the end of the module, so the registry other tests see is unchanged.
"""
from __future__ import annotations

import json
import os
import sys
import types

import numpy as np
import paddle
import pytest
import yaml

from paddlevideo.modeling.registry import BACKBONES
from tests.contributing_doc import DOC, doc_blocks
from tests.tasks.tiny_setup import NUM_CLASSES, make_records, make_tiny_data

TOY = "MaskedMeanPool"


@pytest.fixture(scope="module")
def toy():
    """Execute the doc's python block as a module (registers the toy backbone); yield ``(module, MODEL section)``."""
    blocks = doc_blocks("Adding a backbone")
    module = types.ModuleType("contributing_backbone_example")     # as if it were a file of the package
    sys.modules[module.__name__] = module
    try:
        # dont_inherit: the block runs without this file's ``from __future__`` imports, as it would in its own file
        exec(compile(blocks["python"], f"{DOC} (Adding a backbone)", "exec", dont_inherit=True),  # noqa: S102
             module.__dict__)
        assert BACKBONES.get(TOY) is module.__dict__[TOY]
        yield module, yaml.safe_load(blocks["yaml"])["MODEL"]
    finally:
        BACKBONES._obj_map.pop(TOY, None)
        sys.modules.pop(module.__name__, None)


@pytest.fixture(scope="module")
def trained(toy, tmp_path_factory):
    """Train the toy backbone for 3 epochs with validation through ``main.py``'s entry, in-process."""
    from main import parse_args
    from paddlevideo.tasks.cli import run_cli

    _, model_section = toy
    tmp = tmp_path_factory.mktemp("toy_backbone")
    data, out = str(tmp / "data"), str(tmp / "out")
    make_tiny_data(data)
    model = json.loads(json.dumps(model_section))
    model["backbone"]["hidden_size"] = 6
    model["head"].update(num_classes=NUM_CLASSES, hidden_sizes=[12])
    model["loss"]["reduction"] = "batch_mean"
    cfg = {
        "model_name": "Toy",
        "MODEL": model,
        "DATASET": {"batch_size": 4, "valid_batch_size": 5, "num_workers": 0, **{
            split: {"format": "YouTube8MTFRecordDataset", "feature_names": ["rgb", "audio"],
                    "feature_dims": [1024, 128], "file_pattern": os.path.join(data, f"{pattern}*.tfrecord")}
            for split, pattern in (("train", "train"), ("valid", "validate"), ("test", "validate"))}},
        "PIPELINE": {split: [{"name": "TruncateFrames", "max_frames": 12}, {"name": "MultiHotLabels"}]
                     for split in ("train", "valid", "test")},
        "OPTIMIZER": {"name": "Adam", "learning_rate": 0.02},
        "METRIC": {"name": "YouTube8MMetric", "top_k": 20},
        "INFERENCE": {"max_frames": 12},
        "epochs": 3, "log_interval": 5, "seed": 3, "output_dir": out,
    }
    cfg_path = str(tmp / "toy.yaml")
    with open(cfg_path, "w", encoding="utf-8") as f:
        yaml.safe_dump(cfg, f)
    assert run_cli(parse_args(["-c", cfg_path, "--validate", "--device", "cpu"])) == 0
    return cfg, out, tmp


def _params(path: str) -> dict[str, np.ndarray]:
    return {k: np.asarray(v) for k, v in paddle.load(path, return_numpy=True).items()}


def test_training_with_validation_keeps_the_best_epoch(trained):
    _, out, _ = trained
    with open(os.path.join(out, "metrics_best.json"), encoding="utf-8") as f:
        best_epoch = json.load(f)["epoch"]
    assert 1 <= best_epoch <= 3
    best, of_epoch = _params(os.path.join(out, "Toy_best.pdparams")), _params(
        os.path.join(out, f"Toy_epoch_{best_epoch:05d}.pdparams"))
    assert sorted(best) == sorted(of_epoch) and any(k.startswith("backbone.fcs.") for k in best)
    for k in best:
        np.testing.assert_array_equal(best[k], of_epoch[k], err_msg=k)


def _padded_batch(lengths, t_max, seed):
    """A batch of videos with the given lengths, padded to ``t_max`` with random codes (not zeros)."""
    rng = np.random.default_rng(seed)
    rgb = rng.integers(0, 256, (len(lengths), t_max, 1024)).astype(np.uint8)
    audio = rng.integers(0, 256, (len(lengths), t_max, 128)).astype(np.uint8)
    return {"rgb": rgb, "audio": audio, "lengths": np.asarray(lengths, np.int64)}


def _numpy_features(batch, weights):
    """Masked mean of tanh(dequantize(x) W + b) over each video's valid frames, per modality, in float64."""
    rows = []
    for b, n in enumerate(batch["lengths"]):
        parts = []
        for i, name in enumerate(("rgb", "audio")):
            x = batch[name][b, :n].astype(np.float64) * (4.0 / 255.0) + (4.0 / 512.0 - 2.0)
            h = np.tanh(x @ weights[f"backbone.fcs.{i}.weight"] + weights[f"backbone.fcs.{i}.bias"])
            parts.append(h.mean(axis=0))
        rows.append(np.concatenate(parts))
    return np.stack(rows)


def test_toy_backbone_is_a_masked_mean_and_ignores_padding(trained):
    from paddlevideo.inference.export import build_eval_model

    cfg, out, _ = trained
    weights = os.path.join(out, "Toy_best.pdparams")
    model = build_eval_model(cfg["MODEL"], weights)
    assert model.backbone.out_channels == 12
    assert [(s.name, s.dtype) for s in model.input_spec()] == [
        ("rgb", paddle.uint8), ("audio", paddle.uint8), ("lengths", paddle.int64)]
    batch = _padded_batch([7, 1, 12, 4], 12, seed=5)
    longer = _padded_batch([7, 1, 12, 4], 19, seed=6)        # other codes in the padding, 7 frames more of it
    for name in ("rgb", "audio"):
        for b, n in enumerate(batch["lengths"]):
            longer[name][b, :n] = batch[name][b, :n]
    with paddle.no_grad():
        feats = [model.backbone([paddle.to_tensor(bt[n]) for n in ("rgb", "audio")], paddle.to_tensor(bt["lengths"]))
                 .numpy() for bt in (batch, longer)]
    expected = _numpy_features(batch, _params(weights))
    assert feats[0].shape == expected.shape == (4, 12)
    np.testing.assert_allclose(feats[0], expected, rtol=0, atol=1e-5)
    np.testing.assert_allclose(feats[1], feats[0], rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match=f"backbone {TOY} has no attention_weights"):
        model.backbone.attention_weights([paddle.to_tensor(batch["rgb"]), paddle.to_tensor(batch["audio"])],
                                         paddle.to_tensor(batch["lengths"]))


def test_export_and_paddle_inference_match_the_eager_model(trained):
    from paddlevideo.inference.export import build_eval_model, export_model
    from paddlevideo.inference.predictor import InferenceOptions, Predictor
    from paddlevideo.loader.pipelines import collate_frames

    cfg, out, tmp = trained
    weights = os.path.join(out, "Toy_best.pdparams")
    result = export_model(cfg, str(tmp / "inference"), weights=weights)
    assert result.meta["input_names"] == ["rgb", "audio", "lengths"] and result.meta["num_classes"] == NUM_CLASSES
    assert result.self_check_max_abs_diff <= 1e-5
    model = build_eval_model(cfg["MODEL"], weights)
    pred = Predictor(result.model_file, result.params_file, InferenceOptions(max_batch_size=5))
    videos = make_records(5, seed=9)
    batch = collate_frames([{k: v for k, v in r.items() if k != "labels"} for r in videos])
    got = pred.run(batch)
    with paddle.no_grad():
        eager = model.infer_forward(*(paddle.to_tensor(batch[n]) for n in ("rgb", "audio", "lengths"))).numpy()
    assert got.shape == (5, NUM_CLASSES) and got.dtype == np.float32
    np.testing.assert_allclose(got, eager, rtol=0, atol=1e-5)
    # each video alone (no padding) gives its row of the padded batch
    for i, r in enumerate(videos[:3]):
        alone = pred.run({"rgb": r["rgb"][None], "audio": r["audio"][None],
                          "lengths": np.array([len(r["rgb"])], np.int64)})
        np.testing.assert_allclose(alone[0], got[i], rtol=0, atol=1e-5)
