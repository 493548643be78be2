"""The run folder: one live run at a time (a lock naming the pid), a new run never destroys or mixes with an
earlier one, an output_dir that is a file and a full disk end in one line with every complete file kept,
and at least one step line per epoch."""
from __future__ import annotations

import errno
import hashlib
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from paddlevideo.utils.rundir import LOCK_NAME, RunDirError, RunLock, prepare_run_dir, run_files
from tests.tasks.tiny_setup import ROOT, make_tiny_data, quiet_env, run_main, write_tiny_config


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("tiny_data"))
    make_tiny_data(d)
    return d


def digest(folder):
    """``{relative path: sha256}`` of every file under ``folder``."""
    out = {}
    for base, _, files in os.walk(folder):
        for name in files:
            p = os.path.join(base, name)
            with open(p, "rb") as f:
                out[os.path.relpath(p, folder)] = hashlib.sha256(f.read()).hexdigest()
    return out


def one_error_line(r):
    lines = r.stderr.splitlines()
    assert r.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), (r.returncode, r.stderr)
    return lines[0]


# ---- the lock, in process

def test_lock_refuses_a_second_holder_names_the_pid_and_is_released(tmp_path):
    d = str(tmp_path / "run")
    first = RunLock(d).acquire()
    with open(os.path.join(d, LOCK_NAME)) as f:
        assert f.read().startswith(f"pid {os.getpid()} on ")
    busy = rf"is in use by another training run \(pid {os.getpid()} on .*-o output_dir="
    with pytest.raises(RunDirError, match=busy):
        RunLock(d).acquire()                    # a second open file description: flock refuses it too
    first.release()
    assert not os.path.exists(os.path.join(d, LOCK_NAME))
    with RunLock(d):
        pass
    assert not os.path.exists(os.path.join(d, LOCK_NAME))


def test_a_lock_file_left_by_a_dead_process_is_taken_over(tmp_path):
    d = tmp_path / "run"
    d.mkdir()
    (d / LOCK_NAME).write_text("pid 999999 on elsewhere, started 2020-01-01 00:00:00: main.py\n")
    with RunLock(str(d)):
        assert (d / LOCK_NAME).read_text().startswith(f"pid {os.getpid()} ")


def test_folder_with_only_a_log_is_reused_and_the_log_kept(tmp_path):
    """A start that failed before its first checkpoint (e.g. a mistyped data pattern) left only train.log:
    the next run may use the folder, and the old log survives under a new name, unmixed."""
    d = tmp_path / "run"
    d.mkdir()
    (d / "train.log").write_text("[2026-01-01 10:00:00] INFO config c.yaml\n")
    assert prepare_run_dir(str(d)) is None
    names = os.listdir(d)
    assert len(names) == 1 and re.fullmatch(r"train\.log\.\d{8}-\d{6}", names[0]), names
    assert (d / names[0]).read_text() == "[2026-01-01 10:00:00] INFO config c.yaml\n"
    (d / "train.log").write_text("second failed start\n")          # twice in the same second: both kept
    assert prepare_run_dir(str(d)) is None
    kept = sorted(os.listdir(d))
    assert len(kept) == 2 and "train.log" not in kept
    assert sorted((d / n).read_text() for n in kept) == ["[2026-01-01 10:00:00] INFO config c.yaml\n",
                                                         "second failed start\n"]


def test_prepare_run_dir_refuses_moves_aside_or_resumes(tmp_path):
    d = tmp_path / "run"
    d.mkdir()
    assert prepare_run_dir(str(d)) is None                      # empty: nothing to do
    (d / "train.log").write_text("old\n")
    (d / "M_epoch_00001.pdparams").write_bytes(b"w")
    (d / "notes.txt").write_text("mine\n")
    assert run_files(str(d)) == ["train.log", "M_epoch_00001.pdparams"]
    with pytest.raises(RunDirError) as e:
        prepare_run_dir(str(d))
    msg = str(e.value)
    assert "already holds a training run (train.log, M_epoch_00001.pdparams)" in msg
    assert "--resume" in msg and f"-o output_dir={d}_2" in msg and "--overwrite" in msg
    assert prepare_run_dir(str(d), resume=True) is None and (d / "train.log").read_text() == "old\n"
    with pytest.raises(RunDirError, match="choose one"):
        prepare_run_dir(str(d), resume=True, overwrite=True)
    before = digest(d)
    moved = prepare_run_dir(str(d), overwrite=True)
    assert re.fullmatch(re.escape(str(d)) + r"\.replaced-\d{8}-\d{6}", moved)
    assert digest(moved) == before and os.listdir(d) == []


# ---- through main.py

def test_two_live_runs_into_one_folder(data, tmp_path):
    """A long run holds the folder: a second run is refused naming the first one's pid, and leaves the first
    run's files alone. After the first is killed (SIGKILL: its lock file stays, naming a dead pid), --resume
    takes the folder over and continues from the last complete checkpoint."""
    out = tmp_path / "out"
    cfg = write_tiny_config(str(tmp_path / "c.yaml"), data, str(out), epochs=10000, log_interval=1000)
    first = subprocess.Popen([sys.executable, os.path.join(ROOT, "main.py"), "-c", cfg], cwd=ROOT, env=quiet_env(),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while not list(out.glob("*.pdstate")):          # the first run is training (one epoch done)
            assert first.poll() is None and time.time() < deadline, first.stderr.read() if first.poll() else "slow"
            time.sleep(0.2)
        second = run_main(["-c", cfg, "--resume"], timeout=120)
        line = one_error_line(second)
        assert f"is in use by another training run (pid {first.pid} on " in line and "-o output_dir=" in line
        assert first.poll() is None                     # the first run goes on
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=60)
    assert f"pid {first.pid} " in (out / LOCK_NAME).read_text()            # left behind by the killed run
    done = max(int(p.name[len("Tiny_epoch_"):-len(".pdstate")]) for p in out.glob("*.pdstate"))
    r = run_main(["-c", cfg, "--resume", "-o", f"epochs={done + 1}"], timeout=120)
    assert r.returncode == 0, r.stderr
    assert f"resumed from {out}/Tiny_epoch_{done:05d}" in r.stdout
    assert (out / f"Tiny_epoch_{done + 1:05d}.pdstate").is_file() and not (out / LOCK_NAME).exists()


def test_new_run_into_a_used_folder_is_refused_and_overwrite_moves_the_old_run(data, tmp_path):
    out = tmp_path / "out"
    cfg = write_tiny_config(str(tmp_path / "c.yaml"), data, str(out), epochs=2)
    assert run_main(["-c", cfg, "--validate"]).returncode == 0
    before = digest(out)
    r = run_main(["-c", cfg, "--validate", "-o", "epochs=1"])
    line = one_error_line(r)
    assert line == (f"error: output_dir '{out}' already holds a training run (train.log, Tiny_best.pdparams, "
                    "Tiny_epoch_00001.pdopt, Tiny_epoch_00001.pdparams and 7 more); continue it with --resume, "
                    f"start a new run elsewhere with -o output_dir={out}_2, or replace it with --overwrite (which "
                    f"moves the earlier run to {out}.replaced-<time>/)")
    assert digest(out) == before                        # nothing touched, the log not appended to
    r = run_main(["-c", cfg, "--validate", "--overwrite", "--resume"])
    assert "choose one" in one_error_line(r) and digest(out) == before
    r = run_main(["-c", cfg, "--validate", "--overwrite", "-o", "epochs=1"])
    assert r.returncode == 0, r.stderr
    moved = [p for p in tmp_path.iterdir() if p.name.startswith("out.replaced-")]
    assert len(moved) == 1 and digest(moved[0]) == before          # the earlier run, whole, beside the new one
    assert f"--overwrite: the earlier run in {out} was moved to {moved[0]}" in r.stdout
    log = (out / "train.log").read_text()
    assert log.count(" INFO config ") == 1 and "epoch 2" not in log
    assert sorted(p.name for p in out.glob("*.pdstate")) == ["Tiny_epoch_00001.pdstate"]


def test_output_dir_that_is_a_file(data, tmp_path):
    f = tmp_path / "out"
    f.write_text("keep me\n")
    cfg = write_tiny_config(str(tmp_path / "c.yaml"), data, str(f))
    for args in (["-c", cfg], ["-c", cfg, "--test", "-w", str(tmp_path / "w.pdparams")]):
        r = run_main(args)
        assert one_error_line(r) == (f"error: output_dir '{f}' is a file, not a folder; choose another with "
                                     "-o output_dir=PATH")
    assert f.read_text() == "keep me\n"


def test_log_at_least_once_per_epoch(data, tmp_path):
    """log_interval above the steps per epoch (37 videos / batch 4 = 10 steps): one step line per epoch, at
    its last step, with the loss the same run logs there at log_interval 5."""
    steps = {}
    for interval in (50, 5):
        out = tmp_path / f"out{interval}"
        cfg = write_tiny_config(str(tmp_path / f"c{interval}.yaml"), data, str(out), epochs=2, log_interval=interval)
        r = run_main(["-c", cfg])
        assert r.returncode == 0, r.stderr
        steps[interval] = re.findall(r"epoch (\d)/2 step (\d+)  loss (\S+)", (out / "train.log").read_text())
    assert [(e, s) for e, s, _ in steps[50]] == [("1", "10"), ("2", "10")]
    assert steps[50] == [t for t in steps[5] if t[1] == "10"]


# ---- a full disk

def _enospc_on(fragment, monkeypatch):
    """Make ``os.fsync`` fail with ENOSPC for files whose path contains ``fragment`` (the write layer of
    paddlevideo.utils.atomic fsyncs every file before renaming it into place)."""
    real = os.fsync

    def fsync(fd):
        if fragment in os.readlink(f"/proc/self/fd/{fd}"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd)

    monkeypatch.setattr(os, "fsync", fsync)


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
def test_disk_full_while_saving_a_checkpoint_in_process(data, tmp_path, monkeypatch, capsys):
    from main import parse_args
    from paddlevideo.tasks.checkpointing import latest_epoch
    from paddlevideo.tasks.cli import run_cli
    from paddlevideo.utils.checkpoint import load_pickle_state, load_state
    from paddlevideo.utils.config import load_config

    out = tmp_path / "out"
    cfg = write_tiny_config(str(tmp_path / "c.yaml"), data, str(out), epochs=3)
    _enospc_on("Tiny_epoch_00002.pdopt", monkeypatch)
    code = run_cli(parse_args(["-c", cfg, "--validate"]))
    err = capsys.readouterr().err.splitlines()
    assert code == 2 and len(err) == 1, err
    assert err[0] == (f"error: disk full while writing {out}/Tiny_epoch_00002.pdopt (No space left on device); "
                      f"nothing already written was changed; the last complete checkpoint is "
                      f"{out}/Tiny_epoch_00001.pdparams (resume from it with --resume once there is space)")
    assert latest_epoch(load_config(cfg)) == 1
    assert load_state(str(out / "Tiny_epoch_00001.pdparams")) and load_state(str(out / "Tiny_epoch_00001.pdopt"))
    assert load_pickle_state(str(out / "Tiny_epoch_00001.pdstate"))["epoch"] == 1
    assert (out / "metrics_epoch_00002.json").is_file()          # what was done is written
    assert not [p for p in os.listdir(out) if ".tmp-" in p] and not (out / LOCK_NAME).exists()


def _mount_tmpfs(path, size):
    os.makedirs(path, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    return r.returncode == 0


def test_disk_full_on_a_real_small_filesystem(data, tmp_path):
    """A 450 KB tmpfs holds the first epoch's checkpoint (~190 KB) and the best weights, not the second's."""
    mnt = tmp_path / "small"
    if not _mount_tmpfs(mnt, "450k"):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        out = mnt / "out"
        cfg = write_tiny_config(str(tmp_path / "c.yaml"), data, str(out), epochs=5)
        r = run_main(["-c", cfg, "--validate"])
        line = one_error_line(r)
        assert re.fullmatch(rf"error: disk full while writing {out}/Tiny_epoch_0000[2-5]\.\w+ "
                            rf"\(No space left on device\); "
                            rf"nothing already written was changed; the last complete checkpoint is "
                            rf"{out}/Tiny_epoch_0000\d\.pdparams \(resume from it with --resume once there is space\)",
                            line), line
        last = int(re.search(r"last complete checkpoint is .*Tiny_epoch_(\d+)", line).group(1))
        from paddlevideo.utils.checkpoint import load_state

        for ext in ("pdparams", "pdopt"):
            assert load_state(str(out / f"Tiny_epoch_{last:05d}.{ext}"))
        assert (out / f"metrics_epoch_{last:05d}.json").is_file() and (out / "train.log").stat().st_size > 0
        assert not [p for p in os.listdir(out) if ".tmp-" in p]
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)
