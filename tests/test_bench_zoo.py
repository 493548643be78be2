"""benchmarks/bench_zoo.py: picks demo configs by model name, trains each for the time budget through train_model,
validates, and prints one JSON line and a table; a bad flag value is one error line."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.tasks.tiny_setup import ROOT, make_tiny_data, quiet_env, write_tiny_config

sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
import bench_zoo  # noqa: E402


def test_models_pick_demo_configs_by_backbone_name():
    got = bench_zoo.resolve_configs(["dbof", "NeXtVLAD"], None)
    assert [os.path.relpath(p, ROOT) for p in got] == ["configs/recognition/dbof/dbof_youtube8m_demo.yaml",
                                                       "configs/recognition/nextvlad/nextvlad_youtube8m_demo.yaml"]
    every = bench_zoo.resolve_configs(None, None)
    assert set(got) <= set(every) and all(p.endswith("_youtube8m_demo.yaml") for p in every)
    # the segment fine-tuning demo is another task (rated windows), not a video-level zoo entry
    assert [os.path.relpath(p, ROOT) for p in bench_zoo.resolve_configs(["AttentionCluster"], None)] == [
        "configs/recognition/attention_cluster/attention_cluster_youtube8m_demo.yaml"]
    with pytest.raises(ValueError, match=r"no demo config for model 'Nope'.*models with one: .*DBoF"):
        bench_zoo.resolve_configs(["Nope"], None)


def _run(*args):
    return subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "bench_zoo.py"), *args], cwd=ROOT,
                          env=quiet_env({"PYTHONWARNINGS": "ignore"}), capture_output=True, text=True, timeout=300)


def test_one_tiny_model_for_a_short_budget(tmp_path):
    data = str(tmp_path / "data")
    make_tiny_data(data)   # 37 training videos in batches of 4, 13 validation videos
    cfg = write_tiny_config(str(tmp_path / "tiny.yaml"), data, str(tmp_path / "unused"))
    r = _run("--configs", cfg, "--seconds", "0.5", "--workers", "0", "--output_dir", str(tmp_path / "zoo"))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    record = json.loads(lines[0])
    assert record["benchmark"] == "bench_zoo" and record["seconds_per_model"] == 0.5
    (row,) = record["results"]
    assert row["model_name"] == "Tiny" and row["config"] == cfg and row["valid_videos"] == 13
    assert row["steps"] >= 1 and row["epochs"] >= 1 and row["stopped_by_time"] is True
    # every step but an epoch's last holds 4 videos (37 = 9 * 4 + 1)
    assert row["steps"] * 4 - 3 * row["epochs"] <= row["train_videos"] <= row["steps"] * 4
    assert row["videos_per_s"] == pytest.approx(row["train_videos"] / row["step_seconds"])
    assert 0.0 <= row["gap"] <= 1.0 and 0.0 <= row["hit_at_one"] <= 1.0
    # parameters: the tiny AttentionLSTM by hand. Per modality (1024 and 128 wide): FC to 8 (+8 bias), a
    # bidirectional LSTM 8 -> 8 (per direction 4*8*8 input + 4*8*8 recurrent + 2*4*8 biases) and attention 16 -> 1;
    # head: MLP 32 -> 16 -> 10.
    lstm = 2 * (4 * 8 * 8 * 2 + 2 * 4 * 8)
    per_modality = [d * 8 + 8 + lstm + 16 + 1 for d in (1024, 128)]
    assert row["parameters"] == sum(per_modality) + 32 * 16 + 16 + 16 * 10 + 10
    assert lines[1].split() == ["model", "GAP", "Hit@1", "videos/s", "parameters", "epochs", "steps", "config"]
    assert lines[3].split()[0] == "Tiny"
    log = open(tmp_path / "zoo" / "Tiny" / "train.log", encoding="utf-8").read()
    assert "training time budget of 0.5 s used up" in log
    assert np.isfinite(row["step_seconds"])


def test_bad_seconds_is_one_error_line():
    r = _run("--models", "DBoF", "--seconds", "0")
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.splitlines() == ["error: --seconds must be > 0, got 0.0"]
