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
    import subprocess
    import sys

    from conftest import ENV, LSTM_DEMO, ROOT, lstm_overrides

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


def test_test_with_label_file_names_the_classes(trained_lstm, tiny_data, tmp_path):
    """``main.py --test --label_file vocabulary.csv`` (with a UTF-8 BOM, as spreadsheet programs save it):
    the report's name column holds each class's name; the rest of the CSV is that of the run without it."""
    from conftest import LSTM_DEMO, lstm_overrides, run

    out, _ = trained_lstm
    vocab = tmp_path / "vocabulary.csv"
    names = {i: f"class {i}, named" if i % 2 else f"Klasse-{i}-ü" for i in range(9)}     # 9: class 9 not listed
    vocab.write_bytes(("\ufeffIndex,TrainVideoCount,Name\n" + "".join(
        f'{i},{i * 3},"{n}"\n' for i, n in names.items())).encode("utf-8"))
    out2 = tmp_path / "named"
    r = run("main.py", "-c", LSTM_DEMO, "--test", "-w", out / "AttentionLSTM_demo_best.pdparams", "--label_file",
            vocab, *lstm_overrides(tiny_data, out2))
    assert r.returncode == 0, r.stdout + r.stderr
    with open(out / "test_per_class_ap.csv", newline="") as f:
        plain = list(csv.DictReader(f))
    with open(out2 / "test_per_class_ap.csv", encoding="utf-8", newline="") as f:
        named = list(csv.DictReader(f))
    assert [r["name"] for r in named] == [names[i] for i in range(9)] + [""]
    assert [{k: v for k, v in r.items() if k != "name"} for r in named] == \
        [{k: v for k, v in r.items() if k != "name"} for r in plain]
    bad = tmp_path / "bad.csv"
    bad.write_text("Index,Label\n0,x\n")
    r = run("main.py", "-c", LSTM_DEMO, "--test", "-w", out / "AttentionLSTM_demo_best.pdparams", "--label_file", bad,
            *lstm_overrides(tiny_data, tmp_path / "bad_out"))
    lines = r.stderr.splitlines()
    assert r.returncode == 2 and len(lines) == 1 and lines[0].startswith(f"error: {bad}: label file needs the columns")
