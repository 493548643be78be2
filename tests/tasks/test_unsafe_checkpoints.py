"""Crafted checkpoint files whose pickle calls os.system: main.py -w / --test -w / --resume and
tools/export_model.py -p refuse them in one line naming the file and the global (exit 2), and the
payload never runs."""
from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys

import pytest

from tests.tasks.tiny_setup import ROOT, make_tiny_data, quiet_env, run_main, write_tiny_config

SYSTEM = f"{os.system.__module__}.system"  # posix.system on Linux


class RunsCommand:
    """Pickles as a call of os.system, as a crafted checkpoint does."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def write_evil(path, marker) -> None:
    """A state dict whose one value runs ``touch marker`` when unpickled with pickle/paddle.load."""
    with open(path, "wb") as f:
        pickle.dump({"backbone.fc_feature.0.weight": RunsCommand(str(marker))}, f, protocol=4)


def assert_refused(r, path, marker):
    lines = r.stderr.splitlines()
    assert r.returncode == 2, r.stderr
    assert len(lines) == 1, r.stderr  # the whole stderr: one line, no traceback, no warnings
    assert lines[0].startswith("error: refusing to load ") and str(path) in lines[0] and SYSTEM in lines[0]
    assert not os.path.exists(marker)


def test_the_payload_really_runs_under_plain_pickle(tmp_path):
    # the crafted file is a real attack: plain pickle (what paddle.load uses) runs it
    path, marker = tmp_path / "evil.pdparams", tmp_path / "ran"
    write_evil(path, marker)
    with open(path, "rb") as f:
        pickle.load(f)
    assert marker.exists()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny config and a finished 1-epoch run with its checkpoint files."""
    d = tmp_path_factory.mktemp("unsafe")
    make_tiny_data(str(d / "data"))
    cfg = write_tiny_config(str(d / "tiny.yaml"), str(d / "data"), str(d / "run"), epochs=1)
    r = run_main(["-c", cfg])
    assert r.returncode == 0, r.stderr
    return cfg, d / "run"


@pytest.mark.parametrize("mode", [[], ["--test"]])
def test_main_weights(trained, tmp_path, mode):
    cfg, _ = trained
    path, marker = tmp_path / "evil.pdparams", tmp_path / "ran"
    write_evil(path, marker)
    r = run_main(["-c", cfg, *mode, "-w", str(path), "-o", f"output_dir={tmp_path / 'out'}"])
    assert_refused(r, path, marker)


@pytest.mark.parametrize("ext", [".pdparams", ".pdopt", ".pdstate"])
def test_main_resume(trained, tmp_path, ext):
    cfg, run = trained
    out = tmp_path / "run"
    shutil.copytree(run, out)
    path, marker = out / f"Tiny_epoch_00001{ext}", tmp_path / "ran"
    write_evil(path, marker)
    r = run_main(["-c", cfg, "--resume", "-o", f"output_dir={out}", "-o", "epochs=2"])
    assert_refused(r, path, marker)
    assert not (out / "Tiny_epoch_00002.pdparams").exists()


def test_export_model(trained, tmp_path):
    cfg, _ = trained
    path, marker = tmp_path / "evil.pdparams", tmp_path / "ran"
    write_evil(path, marker)
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "export_model.py"), "-c", cfg, "-p", str(path),
                        "-o", str(tmp_path / "inference")], cwd=ROOT, env=quiet_env(), capture_output=True,
                       text=True, timeout=300)
    assert_refused(r, path, marker)
    assert not (tmp_path / "inference" / "Tiny.json").exists()


def test_own_checkpoints_still_resume_and_export(trained, tmp_path):
    cfg, run = trained
    out = tmp_path / "run"
    shutil.copytree(run, out)
    r = run_main(["-c", cfg, "--resume", "-o", f"output_dir={out}", "-o", "epochs=2"])
    assert r.returncode == 0, r.stderr
    assert "resumed from" in r.stdout and (out / "Tiny_epoch_00002.pdstate").exists()
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "export_model.py"), "-c", cfg, "-p",
                        str(out / "Tiny_epoch_00002.pdparams"), "-o", str(tmp_path / "inference")], cwd=ROOT,
                       env=quiet_env(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "inference" / "Tiny.json").exists()
