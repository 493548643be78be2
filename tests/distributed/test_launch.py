"""Two processes under ``paddle.distributed.launch`` on CPU (gloo): identical parameters on both ranks,
validation metrics equal to a one-process evaluation of the same weights."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.tasks.tiny_setup import ROOT, make_tiny_data, quiet_env, write_tiny_config


def test_two_process_training_matches_across_ranks_and_one_process_eval(tmp_path):
    data = str(tmp_path / "data")
    make_tiny_data(data, train_videos=37, valid_videos=13, train_shards=3, valid_shards=2)
    out = str(tmp_path / "out")
    # valid: 13 videos, batch 5, 2 ranks -> the last global step holds 3 videos (1 + 2): uneven.
    cfg = write_tiny_config(str(tmp_path / "c.yaml"), data, out, epochs=2)
    with open(cfg) as f:
        text = f.read()
    text = text.replace("num_workers: 0", "num_workers: 1")
    with open(cfg, "w") as f:
        f.write(text)
    r = subprocess.run([sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2",
                        "--log_dir", str(tmp_path / "log"), "--log_level", "WARNING",
                        os.path.join(ROOT, "tests", "distributed", "dist_entry.py"), cfg],
                       cwd=ROOT, env=quiet_env(), capture_output=True, text=True, timeout=400)
    logs = "".join(open(os.path.join(tmp_path, "log", n)).read() for n in sorted(os.listdir(tmp_path / "log"))
                   if n.startswith("workerlog"))
    assert r.returncode == 0, r.stderr[-3000:] + logs[-3000:]
    p0, p1 = np.load(os.path.join(out, "rank0.npz")), np.load(os.path.join(out, "rank1.npz"))
    assert sorted(p0.files) == sorted(p1.files)
    for k in p0.files:
        np.testing.assert_array_equal(p0[k], p1[k], err_msg=k)
    m0, m1 = (json.load(open(os.path.join(out, f"rank{i}.json"))) for i in (0, 1))
    assert m0 == m1
    assert m0["num_videos"] == 13  # every validation video once: none lost, none counted twice
    # rank 0 wrote the checkpoint; it holds the same parameters
    import paddle

    ckpt = paddle.load(os.path.join(out, "Tiny_epoch_00002.pdparams"), return_numpy=True)
    for k in p0.files:
        np.testing.assert_array_equal(ckpt[k], p0[k], err_msg=k)
    # one process evaluates the same weights on the same data
    from paddlevideo.loader.builder import build_dataloader, build_dataset
    from paddlevideo.modeling import build_model
    from paddlevideo.tasks.evaluate import build_metric, evaluate
    from paddlevideo.utils.checkpoint import load_weights
    from paddlevideo.utils.config import load_config

    c = load_config(cfg)
    model = build_model(c["MODEL"])
    load_weights(model, os.path.join(out, "Tiny_epoch_00002.pdparams"))
    ds = build_dataset(c, "valid")
    single = evaluate(model, build_dataloader(ds, 5, 0), build_metric(c, 10), "valid", ds)
    assert single["num_videos"] == 13
    for k in ("hit_at_one", "perr", "gap", "map"):
        assert single[k] == pytest.approx(m0[k], abs=1e-6), k
    # (the reported loss is a mean of per-batch losses, so it depends on how videos fall into batches)
    # rank 0 alone wrote the log and checkpoints; the log shows the 2-process set-up
    with open(os.path.join(out, "train.log")) as f:
        assert "2 process(es) x batch 4 = 8 videos per step" in f.read()
