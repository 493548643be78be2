"""One tiny training run shared by the tool tests: generated YouTube-8M data (10 classes), AttentionLSTM at
toy sizes trained 2 epochs with --validate (and --use_visualdl), then --test on the validation split."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LSTM_DEMO = ROOT / "configs" / "recognition" / "attention_lstm" / "attention_lstm_youtube8m_demo.yaml"
CLUSTER_DEMO = ROOT / "configs" / "recognition" / "attention_cluster" / "attention_cluster_youtube8m_demo.yaml"
ENV = {**os.environ, "GLOG_minloglevel": "2", "PYTHONWARNINGS": "ignore"}


def run(*args, cwd=ROOT, timeout=600):
    """Run ``python *args`` quietly; returns the CompletedProcess (text)."""
    return subprocess.run([sys.executable, *map(str, args)], cwd=cwd, env=ENV, capture_output=True, text=True,
                          timeout=timeout)


def lstm_overrides(data, out):
    """-o overrides pointing the AttentionLSTM demo config at the tiny data, at toy sizes."""
    pairs = [f"DATASET.train.file_pattern={data}/sample_train*.tfrecord",
             f"DATASET.valid.file_pattern={data}/sample_validate*.tfrecord",
             f"DATASET.test.file_pattern={data}/sample_validate*.tfrecord",
             "MODEL.head.num_classes=10", "MODEL.backbone.embedding_size=8", "MODEL.backbone.lstm_size=8",
             "MODEL.head.hidden_sizes=[16]", "DATASET.batch_size=8", "DATASET.num_workers=0", "epochs=2",
             "log_interval=2", f"output_dir={out}"]
    return [x for p in pairs for x in ("-o", p)]


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    out = tmp_path_factory.mktemp("yt8m_tools")
    r = run(ROOT / "data/yt8m/make_sample_data.py", "--out_dir", out, "--num_classes", 10,
            "--train_videos", 48, "--valid_videos", 24, "--train_shards", 2, "--valid_shards", 1,
            "--max_frames", 30)
    assert r.returncode == 0, r.stderr
    return out


@pytest.fixture(scope="session")
def trained_lstm(tiny_data, tmp_path_factory):
    """``(output dir, stdout of training)`` after training with --validate --use_visualdl and --test."""
    out = tmp_path_factory.mktemp("run") / "lstm"
    r = run("main.py", "-c", LSTM_DEMO, "--validate", "--use_visualdl", *lstm_overrides(tiny_data, out))
    assert r.returncode == 0, r.stdout + r.stderr
    t = run("main.py", "-c", LSTM_DEMO, "--test", "-w", out / "AttentionLSTM_demo_best.pdparams",
            *lstm_overrides(tiny_data, out))
    assert t.returncode == 0, t.stdout + t.stderr
    return out, r.stdout + r.stderr
