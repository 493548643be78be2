"""Resume after SIGKILL ends with the same parameters as an uninterrupted run; checkpoints are atomic;
damaged checkpoints give an error naming the file."""
from __future__ import annotations

import glob
import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from tests.tasks.tiny_setup import ROOT, load_params, make_tiny_data, quiet_env, run_main, write_tiny_config


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("tiny_data"))
    make_tiny_data(d)  # 37 train videos, batch 4 -> 10 steps per epoch
    return d


def run_killed(args, extra_env):
    """Run main.py in its own session until the main process dies; then end what is left of that
    session (a loader worker orphaned by SIGKILL can block on its full result queue)."""
    p = subprocess.Popen([sys.executable, os.path.join(ROOT, "main.py"), *args], cwd=ROOT, env=quiet_env(extra_env),
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        return p.wait(timeout=300)
    finally:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_kill_mid_epoch_then_resume_matches_uninterrupted_run(data_dir, tmp_path):
    # One loader worker, dropout on and a per-epoch LR schedule: data order, dropout masks and the
    # schedule must all come back from the checkpoint.
    full_cfg = write_tiny_config(str(tmp_path / "full.yaml"), data_dir, str(tmp_path / "full"))
    kill_cfg = write_tiny_config(str(tmp_path / "kill.yaml"), data_dir, str(tmp_path / "kill"))
    workers = ["-o", "DATASET.num_workers=1"]
    full = run_main(["-c", full_cfg, *workers])
    assert full.returncode == 0, full.stderr
    killed = run_killed(["-c", kill_cfg, *workers], {"PADDLEVIDEO_KILL_AT_STEP": "15"})  # epoch 2, step 5
    assert killed == -signal.SIGKILL
    states = sorted(os.path.basename(p) for p in glob.glob(str(tmp_path / "kill" / "*.pdstate")))
    assert states == ["Tiny_epoch_00001.pdstate"]
    resumed = run_main(["-c", kill_cfg, *workers, "--resume"])
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed from" in resumed.stdout and "epoch 1" in resumed.stdout
    a = load_params(str(tmp_path / "full" / "Tiny_epoch_00003.pdparams"))
    b = load_params(str(tmp_path / "kill" / "Tiny_epoch_00003.pdparams"))
    assert sorted(a) == sorted(b)
    for k in a:
        np.testing.assert_allclose(b[k], a[k], rtol=0, atol=1e-6, err_msg=k)
    # and the run really trained: parameters moved away from the first epoch's
    first = load_params(str(tmp_path / "full" / "Tiny_epoch_00001.pdparams"))
    assert max(float(np.abs(a[k] - first[k]).max()) for k in a) > 1e-3


def test_resume_epoch_option_and_damaged_state_file(data_dir, tmp_path):
    cfg = write_tiny_config(str(tmp_path / "c.yaml"), data_dir, str(tmp_path / "out"), epochs=2)
    assert run_main(["-c", cfg]).returncode == 0
    state = tmp_path / "out" / "Tiny_epoch_00001.pdstate"
    state.write_bytes(state.read_bytes()[:100])  # truncated
    r = run_main(["-c", cfg, "-o", "resume_epoch=1"])
    assert r.returncode == 2
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("error: ") and str(state) in lines[-1] and "Traceback" not in r.stderr
    params = tmp_path / "out" / "Tiny_epoch_00002.pdparams"
    params.write_bytes(params.read_bytes()[: params.stat().st_size // 2])
    r = run_main(["-c", cfg, "--resume"])
    assert r.returncode == 2 and str(params) in r.stderr and "Traceback" not in r.stderr


def test_truncated_weights_error_names_file(tmp_path):
    import paddle

    from paddlevideo.utils.checkpoint import CheckpointError, load_weights

    layer = paddle.nn.Linear(3, 2)
    path = str(tmp_path / "w.pdparams")
    paddle.save(layer.state_dict(), path)
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) // 2)
    with pytest.raises(CheckpointError, match="w.pdparams"):
        load_weights(layer, path)


WRITER = textwrap.dedent("""
    import sys, numpy as np
    from paddlevideo.utils.checkpoint import save_atomic
    path = sys.argv[1]
    i = 0
    while True:
        i += 1
        save_atomic({"step": np.array([i], "int64"), "w": np.full((1 << 20,), i, "float32")}, path)
        print(i, flush=True)
""")


def test_checkpoint_write_killed_at_random_moments_leaves_a_loadable_file(tmp_path):
    import paddle

    path = str(tmp_path / "ckpt.pdparams")
    rng = random.Random(0)
    seen_tmp = 0
    last = 0
    for trial in range(6):
        p = subprocess.Popen([sys.executable, "-c", WRITER, path], env=quiet_env(), stdout=subprocess.PIPE, text=True)
        p.stdout.readline()  # at least one complete write in this trial
        time.sleep(rng.uniform(0.0, 0.3))
        p.send_signal(signal.SIGKILL)
        p.wait()
        p.stdout.close()
        seen_tmp += len(glob.glob(str(tmp_path / ".ckpt.pdparams.tmp-*")))
        for leftover in glob.glob(str(tmp_path / ".ckpt.pdparams.tmp-*")):
            os.remove(leftover)
        state = paddle.load(path, return_numpy=True)
        step = int(state["step"][0])
        assert step >= 1 and state["w"].shape == (1 << 20,)
        assert np.all(state["w"] == step)  # old or new, never a mix or a truncation
        last = step
    assert last >= 1
    # the kills landed in the middle of a write at least once (the temporary file was left behind)
    assert seen_tmp >= 1
