"""A normal ``paddle.distributed.launch`` run (the README's command, ``--log_level WARNING``) prints the
training log and nothing else from the training processes; ``--verbose`` brings Paddle's lines back.
Measured without quieting variables in the environment (no GLOG_minloglevel, no PYTHONWARNINGS)."""
from __future__ import annotations

import os
import subprocess
import sys

from tests.tasks.tiny_setup import ROOT, make_tiny_data, write_tiny_config

LOG_LINE = r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] (INFO|WARNING) "


def launch(tmp_path, cfg, *extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PADDLE_") and k not in ("PYTHONWARNINGS", "GLOG_minloglevel")}
    env.update(OMP_NUM_THREADS="1", PYTHONPATH=ROOT + os.pathsep + env.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2", "--log_level",
                           "WARNING", "--log_dir", str(tmp_path / f"log{len(extra)}"), os.path.join(ROOT, "main.py"),
                           "-c", cfg, *extra], cwd=ROOT, env=env, capture_output=True, text=True, timeout=400)


def test_launch_is_quiet_and_verbose_restores_paddles_lines(tmp_path):
    import re

    data = str(tmp_path / "data")
    make_tiny_data(data)
    cfg = write_tiny_config(str(tmp_path / "c.yaml"), data, str(tmp_path / "out"), epochs=1)
    r = launch(tmp_path, cfg)
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout.splitlines()
    assert out and all(re.match(LOG_LINE, ln) for ln in out), r.stdout
    # 1 config line, 1 model size line, 1 batch line, 1 step line (5 steps, log_interval 5), 1 epoch line
    assert len(out) == 5 and "INFO model size: " in out[1], r.stdout
    # stderr: at most the launcher process's own ccache warning (printed before main.py runs, 2 lines)
    err = r.stderr.splitlines()
    launcher_warning = ("ccache", "warnings.warn(warning_message)")
    assert len(err) <= 2 and all(any(w in ln for w in launcher_warning) for ln in err), r.stderr
    rank1 = (tmp_path / "log0" / "workerlog.1").read_text()
    assert "Modified FLAGS" not in rank1 and "ccache" not in rank1
    v = launch(tmp_path, cfg, "--verbose", "-o", f"output_dir={tmp_path / 'out_verbose'}")
    assert v.returncode == 0, v.stdout + v.stderr
    assert "Modified FLAGS detected" in v.stdout + v.stderr
