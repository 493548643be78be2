"""max_train_seconds: the epoch ends at the deadline, is saved as that epoch, and training stops; the model size
line of train.log."""
from __future__ import annotations

import glob
import os
import time

import numpy as np
import paddle
import pytest

from paddlevideo.tasks import loop
from tests.tasks.tiny_setup import make_tiny_data, run_main, write_tiny_config


class _Net(paddle.nn.Layer):
    """loss = (w * x).mean()."""

    def __init__(self):
        super().__init__()
        self.w = self.create_parameter([1], default_initializer=paddle.nn.initializer.Constant(1.0))

    def forward(self, batch, mode):
        return {"loss": (self.w * batch["x"]).mean()}


def _epoch(deadline, num_steps=None, n=6):
    batches = [{"x": paddle.ones([2, 3]), "lengths": paddle.to_tensor(np.array([3, 3], np.int64))} for _ in range(n)]
    net = _Net()
    ctx = loop.EpochContext(net, batches, None, paddle.optimizer.SGD(0.1, parameters=net.parameters()),
                            num_steps=num_steps, deadline=deadline)
    return loop.train_one_epoch(ctx, 1)


def test_deadline_passed_stops_after_one_step():
    stats = _epoch(time.perf_counter() - 1.0)
    assert stats["steps"] == 1 and stats["videos"] == 2 and stats["timed_out"] is True


def test_no_deadline_or_a_far_one_runs_the_whole_epoch():
    for deadline in (None, time.perf_counter() + 3600):
        stats = _epoch(deadline)
        assert stats["steps"] == 6 and stats["timed_out"] is False


def test_deadline_is_ignored_when_ranks_need_equal_step_counts():
    stats = _epoch(time.perf_counter() - 1.0, num_steps=6)
    assert stats["steps"] == 6 and stats["timed_out"] is False


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("tiny_data"))
    make_tiny_data(d)  # 37 train videos, batch 4 -> 10 steps per epoch
    return d


def test_budget_ends_training_in_epoch_one_and_saves_it(tmp_path, data_dir):
    out = str(tmp_path / "run")
    cfg = write_tiny_config(str(tmp_path / "c.yaml"), data_dir, out, epochs=3)
    r = run_main(["-c", cfg, "--validate", "-o", "max_train_seconds=0.001"])
    assert r.returncode == 0, r.stderr
    log = open(os.path.join(out, "train.log"), encoding="utf-8").read()
    assert "training time budget: 0.001 s of training steps (max_train_seconds)" in log
    assert "in epoch 1 (stopped mid-epoch), global step 1; training stops" in log
    assert "epoch 1 done: 1 steps, 4 videos" in log and "[valid] epoch 1:" in log and "epoch 2" not in log
    assert sorted(os.path.basename(p) for p in glob.glob(os.path.join(out, "Tiny_epoch_*.pdparams"))) == [
        "Tiny_epoch_00001.pdparams"]
    # the model size line: values of the tiny model's parameters (no batch norm, so all are trainable)
    from paddlevideo.modeling import build_model
    from paddlevideo.utils.config import load_config

    model = build_model(load_config(cfg)["MODEL"])
    n = sum(int(np.prod(p.shape)) for p in model.parameters())
    assert f"model size: {n:,} parameters ({n:,} trainable), {4 * n / 1e6:.1f} MB (float32)" in log


def test_bad_budget_is_one_error_line(tmp_path, data_dir):
    cfg = write_tiny_config(str(tmp_path / "c.yaml"), data_dir, str(tmp_path / "run"))
    r = run_main(["-c", cfg, "-o", "max_train_seconds=-5"])
    assert r.returncode == 2
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: -o max_train_seconds=-5") and "greater than 0" in lines[0]
