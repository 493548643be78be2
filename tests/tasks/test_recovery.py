"""Recovery after divergence: no checkpoint with non-finite parameters or loss is ever saved or named
good, and ``--resume`` with a lowered learning rate uses the config's schedule at the resumed step
(keeping the optimizer's moments) and says what changed."""
from __future__ import annotations

import glob
import logging
import math

import numpy as np
import paddle
import pytest
import yaml
from paddle.utils import unique_name

from paddlevideo.solver import build_optimizer
from paddlevideo.tasks.checkpointing import config_changes, resume_training, save_training_checkpoint
from paddlevideo.utils.logger import get_logger
from tests.tasks.tiny_setup import load_params, make_tiny_data, run_main, write_tiny_config


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("tiny_data"))
    make_tiny_data(d)  # 37 train videos
    return d


def tiny_config(tmp_path, data_dir, optimizer, batch_size=4, **top):
    path = write_tiny_config(str(tmp_path / "c.yaml"), data_dir, str(tmp_path / "out"), **top)
    with open(path) as f:
        cfg = yaml.safe_load(f)
    cfg["DATASET"]["batch_size"] = batch_size
    cfg["OPTIMIZER"] = {"_delete_": True, **optimizer}
    with open(path, "w") as f:
        yaml.safe_dump(cfg, f)
    return path


def assert_finite_file(path):
    params = load_params(path)
    for k, v in params.items():
        assert np.isfinite(v).all(), f"{path}: {k} is not finite"
    return params


@pytest.mark.parametrize("validate", [True, False])
def test_divergence_on_the_last_step_of_an_epoch(data_dir, tmp_path, validate):
    # batch 64 > 37 videos: one step per epoch, so epoch 2's only (and last) step is the one with lr 1e30
    cfg = tiny_config(tmp_path, data_dir, {"name": "Adam", "learning_rate": {
        "name": "PiecewiseDecay", "boundaries": [1], "values": [0.01, 1.0e30]}}, batch_size=64, epochs=3)
    out = tmp_path / "out"
    flags = ["--validate"] if validate else []
    r = run_main(["-c", cfg, *flags])
    assert r.returncode == 3, r.stderr
    lines = r.stderr.splitlines()
    good = str(out / "Tiny_epoch_00001.pdparams")
    assert len(lines) == 1 and lines[0].startswith("error: ") and "epoch 2" in lines[0], r.stderr
    assert f"the last good checkpoint is {good}." in lines[0] and "--resume" in lines[0]
    assert not glob.glob(str(out / "Tiny_epoch_00002.*"))
    for path in glob.glob(str(out / "*.pdparams")):  # epoch 1 and, with --validate, best
        assert_finite_file(path)
    assert_finite_file(good)

    # the documented recovery: lower the learning rate and --resume
    r = run_main(["-c", cfg, *flags, "--resume", "-o", "OPTIMIZER.learning_rate.values=[0.01, 0.001]"])
    assert r.returncode == 0, r.stderr
    notes = [line for line in r.stdout.splitlines() if " resume: " in line]
    assert len(notes) == 1, r.stdout
    assert notes[0].endswith("resume: OPTIMIZER.learning_rate.values changed [0.01, 1e+30] -> [0.01, 0.001] since "
                             "the checkpoint; using the config's values (lr now 1.000e-03; the optimizer's "
                             "moments are kept)")
    assert "resumed from" in r.stdout and "lr 1.000e-03)" in r.stdout
    assert_finite_file(str(out / "Tiny_epoch_00003.pdparams"))


def cosine(base, t, t_max):
    """CosineAnnealingDecay's closed form with eta_min 0 (Loshchilov & Hutter, SGDR, eq. 5)."""
    return base * (1 + math.cos(math.pi * t / t_max)) / 2


def test_resumed_run_logs_the_new_schedule_at_the_resumed_step(data_dir, tmp_path):
    # 37 videos, batch 4: 10 steps per epoch, schedule stepped every iteration
    def optimizer(lr):
        return {"name": "Adam", "learning_rate": {"name": "CosineAnnealingDecay", "learning_rate": lr, "T_max": 40,
                                                  "iter_step": True}}

    cfg = tiny_config(tmp_path, data_dir, optimizer(0.01), epochs=1)
    assert run_main(["-c", cfg]).returncode == 0
    with open(cfg) as f:
        c = yaml.safe_load(f)
    c["OPTIMIZER"] = {"_delete_": True, **optimizer(0.004)}
    with open(cfg, "w") as f:
        yaml.safe_dump(c, f)
    r = run_main(["-c", cfg, "--resume", "-o", "epochs=2"])
    assert r.returncode == 0, r.stderr
    assert (f"resume: OPTIMIZER.learning_rate.learning_rate changed 0.01 -> 0.004 since the checkpoint; using the "
            f"config's values (lr now {cosine(0.004, 10, 40):.3e}; the optimizer's moments are kept)") in r.stdout
    # the step log shows the lr after that step's schedule step: global step 10 + s
    for s in (5, 10):
        line = [x for x in r.stdout.splitlines() if f"epoch 2/2 step {s} " in x]
        assert len(line) == 1 and f"lr {cosine(0.004, 10 + s, 40):.3e} " in line[0], r.stdout


class _Records(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def test_resume_training_uses_new_schedule_keeps_moments(tmp_path):
    paddle.seed(0)
    x = paddle.to_tensor(np.random.default_rng(0).standard_normal((5, 4)).astype("float32"))

    def opt_cfg(lr, t_max, wd=None):
        c = {"name": "Adam", "learning_rate": {"name": "CosineAnnealingDecay", "learning_rate": lr, "T_max": t_max,
                                               "iter_step": True}}
        if wd is not None:
            c["weight_decay"] = {"name": "L2", "value": wd}
        return c

    cfg_x = {"model_name": "Lin", "output_dir": str(tmp_path), "OPTIMIZER": opt_cfg(0.05, 20)}
    # each "process" under its own name generator: parameter and accumulator names as a fresh process gives them
    with unique_name.guard():
        layer = paddle.nn.Linear(4, 3)
        opt, sched, _ = build_optimizer(cfg_x["OPTIMIZER"], layer.parameters())
        for _ in range(7):
            layer(x).square().mean().backward()
            opt.step()
            opt.clear_grad()
            sched.step()
        save_training_checkpoint(cfg_x, 1, layer, opt, {"global_step": 7, "best": {"gap": -1.0, "epoch": None}})
        saved = {k: v.numpy().copy() for k, v in opt.state_dict().items() if "moment1" in k}
    assert len(saved) == 2

    cfg_y = {**cfg_x, "OPTIMIZER": opt_cfg(0.003, 30, wd=1e-4)}
    handler = _Records()
    get_logger().addHandler(handler)
    old_level = get_logger().level
    get_logger().setLevel(logging.INFO)
    with unique_name.guard():
        layer = paddle.nn.Linear(4, 3)
        opt_y, sched_y, iter_step = build_optimizer(cfg_y["OPTIMIZER"], layer.parameters())
        try:
            counters = resume_training(cfg_y, 1, layer, opt_y, None, sched_y, iter_step)
        finally:
            get_logger().removeHandler(handler)
            get_logger().setLevel(old_level)
        assert counters["global_step"] == 7
        assert opt_y.get_lr() == pytest.approx(cosine(0.003, 7, 30), rel=1e-12)
        assert handler.lines == [
            "resume: OPTIMIZER.learning_rate.learning_rate changed 0.05 -> 0.003; OPTIMIZER.learning_rate.T_max "
            "changed 20 -> 30; OPTIMIZER.weight_decay changed (unset) -> {name: L2, value: 0.0001} since the "
            f"checkpoint; using the config's values (lr now {cosine(0.003, 7, 30):.3e}; the optimizer's moments "
            "are kept)"]
        # Adam's first moment after one more step: beta1 * saved + (1 - beta1) * grad (fresh: (1 - beta1) * grad)
        layer(x).square().mean().backward()
        grads = {p.name: p.grad.numpy() + 1e-4 * p.numpy() for p in layer.parameters()}  # L2 decay adds wd * p
        opt_y.step()
        after = opt_y.state_dict()
    for name, g in grads.items():
        key = f"{name}_moment1_0"
        np.testing.assert_allclose(after[key].numpy(), 0.9 * saved[key] + 0.1 * g, rtol=1e-5, atol=1e-7)
        assert not np.allclose(after[key].numpy(), 0.1 * g, rtol=1e-3, atol=0)  # fresh moments would give this


@pytest.mark.parametrize("new", [{"name": "RMSProp", "centered": True}, {"name": "Adam"}])
def test_optimizer_options_that_shape_its_state_start_the_moments_fresh(tmp_path, new):
    x = paddle.ones([2, 4])
    cfg = {"model_name": "Lin", "output_dir": str(tmp_path), "OPTIMIZER": {"name": "RMSProp", "learning_rate": 0.01}}
    with unique_name.guard():
        layer = paddle.nn.Linear(4, 3)
        opt, _, _ = build_optimizer(cfg["OPTIMIZER"], layer.parameters())
        layer(x).sum().backward()
        opt.step()
        save_training_checkpoint(cfg, 1, layer, opt, {"global_step": 1, "best": {"gap": -1.0, "epoch": None}})
    cfg2 = {**cfg, "OPTIMIZER": {**new, "learning_rate": 0.01}}
    handler = _Records()
    get_logger().addHandler(handler)
    get_logger().setLevel(logging.INFO)
    with unique_name.guard():
        layer = paddle.nn.Linear(4, 3)
        opt2, sched2, it = build_optimizer(cfg2["OPTIMIZER"], layer.parameters())
        try:
            resume_training(cfg2, 1, layer, opt2, None, sched2, it)
        finally:
            get_logger().removeHandler(handler)
        layer(x).sum().backward()
        opt2.step()  # Paddle asserts here if a loaded state lacks an accumulator the optimizer creates
    changed = "centered changed (unset) -> True" if "centered" in new else "name changed RMSProp -> Adam"
    key = "centered" if "centered" in new else "name"
    assert handler.lines == [f"resume: OPTIMIZER.{changed} since the checkpoint; using the config's values "
                             f"(lr now 1.000e-02; the optimizer's moments start fresh as OPTIMIZER.{key} changed)"]


def test_unchanged_optimizer_restores_the_saved_schedule_state(tmp_path):
    paddle.seed(0)
    layer = paddle.nn.Linear(2, 2)
    cfg = {"model_name": "Lin", "output_dir": str(tmp_path), "OPTIMIZER": {
        "name": "Momentum", "learning_rate": {"name": "StepDecay", "learning_rate": 0.1, "step_size": 2}}}
    opt, sched, _ = build_optimizer(cfg["OPTIMIZER"], layer.parameters())
    for _ in range(3):
        sched.step()
    save_training_checkpoint(cfg, 3, layer, opt, {"global_step": 30, "best": {"gap": -1.0, "epoch": None}})
    opt2, sched2, it = build_optimizer(cfg["OPTIMIZER"], layer.parameters())
    resume_training(cfg, 3, layer, opt2, None, sched2, it)
    assert sched2.last_epoch == 3 and opt2.get_lr() == pytest.approx(0.1 * 0.1)  # 0.1 * gamma ** (3 // 2)


def test_config_changes_lists_each_changed_leaf():
    old = {"name": "Adam", "learning_rate": 1.0e30, "grad_clip": {"clip_norm": 1.0}}
    new = {"name": "RMSProp", "learning_rate": {"name": "PiecewiseDecay", "values": [0.1, 0.01]},
           "grad_clip": {"clip_norm": 1.0}}
    assert config_changes(old, new) == [
        "OPTIMIZER.name changed Adam -> RMSProp",
        "OPTIMIZER.learning_rate changed 1e+30 -> {name: PiecewiseDecay, values: [0.1, 0.01]}"]
    assert config_changes(new, new) == []
    assert config_changes({"a": 1}, {"a": 1.0}) == []
    assert config_changes({"a": True}, {"a": 1}) == ["OPTIMIZER.a changed True -> 1"]
