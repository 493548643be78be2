"""Every runnable command of README.md runs as written, in order, on a small sample set.

The rule (also stated at the end of the README):

* Fenced ``bash`` blocks are run, one line = one command (``\\`` continues a line; ``#`` lines are comments),
  in README order, from a scratch copy of the repository layout (symlinks to the code, a real ``data/``
  and ``output/``), with ``GLOG_minloglevel=2``.
* The ``## Quick start`` section is not run here: its install commands are what CI itself runs, and its
  ``make_sample_data.py`` step is replaced by the same script with small sizes (64 training and 32
  validation videos of at most 40 frames, the default 100 classes) written to the same place,
  ``data/yt8m/sample/frame/``.
* Fenced ``shell`` blocks (GPU, TensorRT, several machines, real-data paths, servers) are shown only.

Each command must exit with 0; then the files the README promises must exist, PNGs must be real PNGs.
"""
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
sys.path.insert(0, str(ROOT / "tests" / "tools"))
from png_check import png_size  # noqa: E402

FENCE = re.compile(r"^```(\w*)\s*$")


def readme_blocks():
    """``[(section heading, language, [commands])]`` for every fenced block of README.md."""
    blocks, section, lang, lines = [], "", None, []
    for raw in README.read_text(encoding="utf-8").splitlines():
        m = FENCE.match(raw)
        if lang is None:
            if raw.startswith("## "):
                section = raw[3:].strip()
            elif m:
                lang, lines = m.group(1), []
            continue
        if m and not m.group(1):
            commands, current = [], ""
            for line in lines:
                if not current and (not line.strip() or line.strip().startswith("#")):
                    continue
                current += line.rstrip()
                if current.endswith("\\"):
                    current = current[:-1] + " "
                    continue
                commands.append(current.strip())
                current = ""
            blocks.append((section, lang, commands))
            lang = None
        else:
            lines.append(raw)
    return blocks


def runnable_commands():
    return [c for section, lang, cmds in readme_blocks() if lang == "bash" and section != "Quick start" for c in cmds]


def test_rule_keeps_gpu_and_real_data_commands_out_of_the_run():
    cmds = runnable_commands()
    assert len(cmds) >= 12, cmds
    for c in cmds:
        assert shlex.split(c)[0] == "python", c
        for marker in ("--use_gpu=True", "--use_tensorrt", "--devices", "--nnodes", "/data/yt8m",
                       "attention_lstm_youtube8m.yaml ", "visualdl --logdir"):
            assert marker not in c, (marker, c)
    shown = [c for _, lang, cmds in readme_blocks() if lang == "shell" for c in cmds]
    assert any("--use_tensorrt=True" in c for c in shown) and any("--nnodes" in c for c in shown)
    quick = [c for section, _, cmds in readme_blocks() if section == "Quick start" for c in cmds]
    assert len(quick) == 2 and all(c.startswith("pip install paddlepaddle==3.3.1 -e ") for c in quick)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A scratch checkout: code linked, data/ and output/ real, small sample data in data/yt8m/sample/frame."""
    w = tmp_path_factory.mktemp("readme")
    for name in ("main.py", "tools", "paddlevideo", "configs"):
        (w / name).symlink_to(ROOT / name)
    (w / "data" / "yt8m").mkdir(parents=True)
    (w / "data" / "example.pkl").symlink_to(ROOT / "data" / "example.pkl")
    for script in (ROOT / "data" / "yt8m").glob("*.py"):
        (w / "data" / "yt8m" / script.name).symlink_to(script)
    r = subprocess.run([sys.executable, "data/yt8m/make_sample_data.py", "--train_videos", "64", "--valid_videos",
                        "32", "--max_frames", "40", "--train_shards", "2", "--valid_shards", "2"],
                       cwd=w, env=_env(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert (w / "data" / "yt8m" / "sample" / "frame" / "sample_validate0000.tfrecord").is_file()
    assert not (w / "data" / "yt8m" / "frame").exists()     # the real dataset's folder stays free
    return w


def _env():
    env = {**os.environ, "GLOG_minloglevel": "2", "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    return env


def test_readme_commands_run_as_written(workdir):
    # the Quick-start run (not run here) trained into output/AttentionLSTM_demo: no walkthrough step may touch it
    quick = workdir / "output" / "AttentionLSTM_demo"
    quick.mkdir(parents=True)
    (quick / "train.log").write_text("[2026-01-01 10:00:00] INFO config quick-start run\n")
    (quick / "AttentionLSTM_demo_best.pdparams").write_bytes(b"quick-start weights")
    for cmd in runnable_commands():
        r = subprocess.run(["bash", "-c", cmd], cwd=workdir, env=_env(), capture_output=True, text=True,
                           timeout=600)
        assert r.returncode == 0, f"README command failed: {cmd}\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}"
        assert "Traceback" not in r.stderr, f"{cmd}\n{r.stderr[-3000:]}"

    out = workdir / "output"
    assert sorted(p.name for p in quick.iterdir()) == ["AttentionLSTM_demo_best.pdparams", "train.log"]
    assert (quick / "AttentionLSTM_demo_best.pdparams").read_bytes() == b"quick-start weights"
    assert (quick / "train.log").read_text() == "[2026-01-01 10:00:00] INFO config quick-start run\n"
    lstm = out / "AttentionLSTM_demo_1epoch"
    for name in ("AttentionLSTM_demo_best.pdparams", "metrics_best.json", "train.log", "test_metrics.json",
                 "test_per_class_ap.csv"):
        assert (lstm / name).is_file(), name
    assert png_size(lstm / "train_log.png") == (1100, 420)
    assert png_size(lstm / "test_report.png") == (1100, 420)
    assert len(list((out / "attention").glob("AttentionLSTM_demo_*_attention.png"))) == 2
    assert len(list((out / "attention").glob("AttentionCluster_demo_*_attention.png"))) == 1
    for png in (out / "attention").glob("*_attention.png"):
        assert png_size(png)[0] == 1200
    assert (workdir / "inference" / "AttentionLSTM_demo" / "AttentionLSTM_demo.json").is_file()
    assert '"results"' in (out / "predictions.json").read_text()
    assert (workdir / "data" / "yt8m" / "sample" / "pkl_frame" / "sample_train.list").is_file()
    assert (out / "pkl_run" / "metrics_best.json").is_file()
    assert (out / "AttentionLSTM_demo_2proc" / "metrics_best.json").is_file()
    assert (out / "AttentionCluster_demo_1epoch" / "AttentionCluster_demo_best.pdparams").is_file()
    try:
        import visualdl  # noqa: F401
    except ImportError:
        return
    assert list((lstm / "vdl").glob("vdlrecords.*.log"))
