"""The seams of docs/contributing.md together: a toy backbone and a toy metric, both defined by that page's worked
examples and registered from this file alone, go through training with validation (the best checkpoint chosen
by the toy metric's key), export, and ``tools/predict.py`` on the exported model, with no other module changed.

The predictions of the exported model are checked against the eager model computed here from the best weights.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import types

import numpy as np
import paddle
import pytest
import yaml

from paddlevideo.metrics.registry import METRICS
from paddlevideo.modeling.registry import BACKBONES
from tests.contributing_doc import DOC, doc_blocks
from tests.tasks.tiny_setup import NUM_CLASSES, ROOT, make_tiny_data, quiet_env, write_tiny_config


@pytest.fixture(scope="module")
def toys():
    """Register the two worked examples (replacing any registration another test module made), then restore."""
    saved = {reg: dict(reg._obj_map) for reg in (BACKBONES, METRICS)}
    module = types.ModuleType("contributing_examples")
    sys.modules[module.__name__] = module
    try:
        for section, registry, name in (("Adding a backbone", BACKBONES, "MaskedMeanPool"),
                                        ("Adding a metric", METRICS, "LabelScoreMetric")):
            registry._obj_map.pop(name, None)
            exec(compile(doc_blocks(section)["python"], f"{DOC} ({section})", "exec", dont_inherit=True),  # noqa: S102
                 module.__dict__)
            assert registry.get(name) is module.__dict__[name]
        yield yaml.safe_load(doc_blocks("Adding a backbone")["yaml"])["MODEL"]
    finally:
        for reg, entries in saved.items():
            reg._obj_map.clear()
            reg._obj_map.update(entries)
        sys.modules.pop(module.__name__, None)


def test_toy_backbone_and_toy_metric_train_validate_export_and_predict(toys, tmp_path):
    sys.path.insert(0, ROOT)
    import main as main_module
    from paddlevideo.inference.export import build_eval_model, export_model
    from paddlevideo.loader.yt8m import read_tfrecord
    from paddlevideo.utils.config import load_config

    data, out = str(tmp_path / "data"), str(tmp_path / "run")
    make_tiny_data(data)
    model = json.loads(json.dumps(toys))
    model["backbone"]["hidden_size"] = 6
    model["head"].update(num_classes=NUM_CLASSES, hidden_sizes=[12])
    model["loss"]["reduction"] = "batch_mean"
    metric = [{"name": "LabelScoreMetric", "save_best": "count_err", "mode": "min"},
              {"name": "YouTube8MMetric", "top_k": 20}]
    cfg_path = write_tiny_config(str(tmp_path / "toy.yaml"), data, out, model_name="Toy",
                                 MODEL={"_delete_": True, **model}, METRIC=metric, epochs=3, seed=5)
    assert main_module.main(["-c", cfg_path, "--validate", "--device", "cpu"]) == 0

    # the best checkpoint is the epoch with the lowest toy count_err (earliest of equal values)
    per_epoch = {}
    for e in (1, 2, 3):
        with open(os.path.join(out, f"metrics_epoch_{e:05d}.json"), encoding="utf-8") as f:
            per_epoch[e] = json.load(f)
    values = {e: m["count_err"] for e, m in per_epoch.items()}
    expected = min(values, key=lambda e: (values[e], e))
    assert len(set(values.values())) > 1, values          # the rule decides something on this seeded run
    with open(os.path.join(out, "metrics_best.json"), encoding="utf-8") as f:
        assert json.load(f)["epoch"] == expected
    best = paddle.load(os.path.join(out, "Toy_best.pdparams"), return_numpy=True)
    of_epoch = paddle.load(os.path.join(out, f"Toy_epoch_{expected:05d}.pdparams"), return_numpy=True)
    assert sorted(best) == sorted(of_epoch) and any(k.startswith("backbone.fcs.") for k in best)
    for k in best:
        np.testing.assert_array_equal(best[k], of_epoch[k], err_msg=k)

    # export the best weights with the library function tools/export_model.py calls
    cfg = load_config(cfg_path)
    weights = os.path.join(out, "Toy_best.pdparams")
    exported = export_model(cfg, str(tmp_path / "inference"), weights=weights)
    assert exported.self_check_max_abs_diff <= 1e-5

    # tools/predict.py in its own process: it needs only the exported files, not the toy classes
    valid = os.path.join(data, "validate0000.tfrecord")
    preds = str(tmp_path / "preds.json")
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "predict.py"), "--input_file", valid,
                        "--model_file", exported.model_file, "--use_gpu=False", "--batch_size", "3",
                        "--top_k", str(NUM_CLASSES), "--output", preds],
                       cwd=str(tmp_path), env=quiet_env(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    with open(preds, encoding="utf-8") as f:
        results = json.load(f)["results"]
    records = list(read_tfrecord(valid))
    assert [e["id"] for e in results] == [str(rec["id"]) for rec in records]

    # the same videos through the eager model built from the best weights, one at a time (no padding)
    eager_model = build_eval_model(cfg["MODEL"], weights)
    max_frames = int(cfg["INFERENCE"]["max_frames"]) if cfg.get("INFERENCE", {}).get("max_frames") else None
    for entry, rec in zip(results, records):
        rgb, audio = rec["rgb"][:max_frames], rec["audio"][:max_frames]
        with paddle.no_grad():
            probs = eager_model.infer_forward(paddle.to_tensor(rgb[None]), paddle.to_tensor(audio[None]),
                                              paddle.to_tensor(np.array([len(rgb)], np.int64))).numpy()[0]
        got = np.zeros(NUM_CLASSES, np.float32)
        got[entry["top_k_classes"]] = entry["top_k_scores"]
        np.testing.assert_allclose(got, probs, rtol=0, atol=1e-5, err_msg=entry["id"])
