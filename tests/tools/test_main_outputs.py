"""What main.py leaves for people to look at: the step log line, the --test report, VisualDL events."""
import csv
import json
import re

import pytest
from png_check import png_size

STEP_LINE = re.compile(r"epoch (\d+)/2 step (\d+)\s+loss \d+\.\d+\s+lr \d\.\d+e-\d+\s+\d+\.\d videos/s")


def test_step_lines_have_epoch_step_loss_lr_speed_and_eta(trained_lstm):
    out, console = trained_lstm
    text = (out / "train.log").read_text()
    lines = [ln for ln in text.splitlines() if STEP_LINE.search(ln)]
    # 48 videos / batch 8 = 6 steps per epoch, log_interval 2 -> 3 lines per epoch
    assert [STEP_LINE.search(ln).groups() for ln in lines] == [(e, s) for e in "12" for s in "246"]
    # the ETA needs the steps of an epoch: known from epoch 2 on in a one-process run
    assert all("eta" not in ln for ln in lines[:3]) and all(re.search(r"eta \d+:\d\d:\d\d$", ln) for ln in lines[3:])
    assert "Traceback" not in console and "ccache" not in console and "I0" not in console


def test_test_report_beside_the_metrics(trained_lstm):
    out, _ = trained_lstm
    metrics = json.loads((out / "test_metrics.json").read_text())
    with open(out / "test_per_class_ap.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 10 and sum(int(r["positives"]) for r in rows) > 0
    aps = [float(r["ap"]) for r in rows if r["ap"]]
    assert sum(aps) / len(aps) == pytest.approx(metrics["map"], abs=1e-5)
    assert png_size(out / "test_report.png") == (1100, 420)


def test_visualdl_event_files(trained_lstm):
    visualdl = pytest.importorskip("visualdl")   # optional dependency: only checked where it is installed
    out, _ = trained_lstm
    files = list((out / "vdl").glob("vdlrecords.*.log"))
    assert len(files) == 1 and files[0].stat().st_size > 0
    reader = visualdl.LogReader(file_path=str(files[0]))
    tags = set(reader.get_tags()["scalar"])
    assert {"train/loss", "train/lr", "valid/gap", "valid/hit_at_one", "valid/perr", "valid/map",
            "valid/loss"} <= tags
    gap = {r.id: r.value for r in reader.get_data("scalar", "valid/gap")}
    for epoch in (1, 2):
        logged = json.loads((out / f"metrics_epoch_{epoch:05d}.json").read_text())["gap"]
        assert gap[epoch] == pytest.approx(logged, abs=1e-6)
    assert [r.id for r in reader.get_data("scalar", "train/loss")] == [2, 4, 6, 8, 10, 12]   # global steps


def test_use_visualdl_without_visualdl_installed_still_trains(tiny_data, tmp_path):
    from conftest import ENV, LSTM_DEMO, ROOT, lstm_overrides

    import subprocess
    import sys

    blocker = tmp_path / "block"
    blocker.mkdir()
    (blocker / "visualdl.py").write_text("raise ImportError('No module named visualdl (blocked by the test)')\n")
    env = {**ENV, "PYTHONPATH": str(blocker)}
    out = tmp_path / "run"
    r = subprocess.run([sys.executable, "main.py", "-c", str(LSTM_DEMO), "--use_visualdl",
                        *lstm_overrides(tiny_data, out), "-o", "epochs=1"],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "pip install visualdl" in r.stdout and "blocked by the test" in r.stdout
    assert (out / "AttentionLSTM_demo_epoch_00001.pdparams").is_file() and not (out / "vdl").exists()
