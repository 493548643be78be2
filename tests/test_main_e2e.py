"""main.py end to end on a tiny generated YouTube-8M set: train with --validate, then --test reproduces
the best checkpoint's validation metrics; user mistakes end as one line and exit code 2."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "configs" / "recognition" / "attention_lstm" / "attention_lstm_youtube8m_demo.yaml"
ENV = {**os.environ, "GLOG_minloglevel": "2", "PYTHONWARNINGS": "ignore"}


def run(*args, cwd=ROOT):
    return subprocess.run([sys.executable, *map(str, args)], cwd=cwd, env=ENV, capture_output=True,
                          text=True, timeout=600)


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    out = tmp_path_factory.mktemp("yt8m")
    r = run(ROOT / "data/yt8m/make_sample_data.py", "--out_dir", out, "--num_classes", 10,
            "--train_videos", 48, "--valid_videos", 24, "--train_shards", 2, "--valid_shards", 1,
            "--max_frames", 30)
    assert r.returncode == 0, r.stderr
    return out


def _overrides(data, out):
    return ["-o", f"DATASET.train.file_pattern={data}/sample_train*.tfrecord",
            "-o", f"DATASET.valid.file_pattern={data}/sample_validate*.tfrecord",
            "-o", f"DATASET.test.file_pattern={data}/sample_validate*.tfrecord",
            "-o", "MODEL.head.num_classes=10", "-o", "MODEL.backbone.embedding_size=8",
            "-o", "MODEL.backbone.lstm_size=8", "-o", "MODEL.head.hidden_sizes=[16]",
            "-o", "DATASET.batch_size=8", "-o", "DATASET.num_workers=0", "-o", "epochs=2",
            "-o", f"output_dir={out}"]


def test_train_validate_then_test_reproduces_best_metrics(tiny_data, tmp_path):
    out = tmp_path / "run"
    r = run("main.py", "-c", DEMO, "--validate", *_overrides(tiny_data, out))
    assert r.returncode == 0, r.stdout + r.stderr
    for name in ("AttentionLSTM_demo_epoch_00001.pdparams", "AttentionLSTM_demo_epoch_00002.pdparams",
                 "AttentionLSTM_demo_epoch_00002.pdopt", "AttentionLSTM_demo_best.pdparams",
                 "metrics_best.json", "train.log"):
        assert (out / name).is_file(), name
    assert "GAP" in r.stdout and "Hit@1" in r.stdout and "PERR" in r.stdout and "mAP" in r.stdout
    best = json.loads((out / "metrics_best.json").read_text())
    r = run("main.py", "-c", DEMO, "--test", "-w", out / "AttentionLSTM_demo_best.pdparams",
            *_overrides(tiny_data, out))
    assert r.returncode == 0, r.stdout + r.stderr
    tested = json.loads((out / "test_metrics.json").read_text())
    assert tested["num_videos"] == best["num_videos"] == 24
    for k in ("hit_at_one", "perr", "gap", "map"):
        assert tested[k] == pytest.approx(best[k], abs=1e-6), k


def test_user_mistakes_are_one_line_errors(tiny_data, tmp_path):
    r = run("main.py", "-c", DEMO, "-o", "epocs=3")
    assert r.returncode == 2
    assert "unknown top-level key 'epocs'" in r.stderr and "Did you mean 'epochs'" in r.stderr
    assert "Traceback" not in r.stderr
    r = run("main.py", "-c", DEMO, "-o", "MODEL.backbone.name=AttentionLTSM")
    assert r.returncode == 2 and "AttentionLSTM" in r.stderr and "Traceback" not in r.stderr
    r = run("main.py", "-c", DEMO, "-o", f"DATASET.train.file_pattern={tmp_path}/nothing*.tfrecord",
            "-o", f"output_dir={tmp_path}/out")
    assert r.returncode == 2 and "nothing*.tfrecord" in r.stderr and "Traceback" not in r.stderr
    r = run("main.py", "-c", DEMO, "--test", "-w", tmp_path / "missing.pdparams", *_overrides(tiny_data, tmp_path))
    assert r.returncode == 2 and "missing.pdparams" in r.stderr and "Traceback" not in r.stderr


def test_train_on_paddlevideo_pkl_list_files(tmp_path):
    """The pkl config trains and validates on PaddleVideo-layout list files (the fixture pkls)."""
    pkl = ROOT / "tests" / "data" / "yt8m" / "paddle_pkl"
    cfg = ROOT / "configs" / "recognition" / "attention_lstm" / "attention_lstm_youtube8m_pkl.yaml"
    out = tmp_path / "run"
    r = run("main.py", "-c", cfg, "--validate",
            "-o", f"DATASET.train.file_path={pkl}/train.list", "-o", f"DATASET.train.data_prefix={pkl}",
            "-o", f"DATASET.valid.file_path={pkl}/edge.list", "-o", f"DATASET.valid.data_prefix={pkl}",
            "-o", "MODEL.backbone.embedding_size=8", "-o", "MODEL.backbone.lstm_size=8",
            "-o", "MODEL.head.hidden_sizes=[16]", "-o", "MODEL.head.activations=[relu]",
            "-o", "DATASET.batch_size=4", "-o", "DATASET.num_workers=0", "-o", "epochs=1",
            "-o", f"output_dir={out}")
    assert r.returncode == 0, r.stdout + r.stderr
    metrics = json.loads((out / "metrics_best.json").read_text())
    assert metrics["num_videos"] == 5           # edge.list: 5 videos
