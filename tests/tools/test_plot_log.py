"""tools/plot_log.py: the log parser against a hand-written log, and the PNG of a real training log."""
import pytest
from conftest import run
from png_check import png_size

from paddlevideo.visualization.training_log import parse_training_log

LOG = """\
[2026-01-01 10:00:00] INFO config c.yaml  device cpu  processes 1  seed 1234
[2026-01-01 10:00:01] INFO epoch 1/3 step 2  loss 0.90000  lr 2.000e-03  100.0 videos/s
[2026-01-01 10:00:02] INFO epoch 1/3 step 4  loss 0.70000  lr 2.000e-03  100.0 videos/s
[2026-01-01 10:00:02] INFO epoch 1 done: 4 steps, 32 videos in 1.0s (32.0 videos/s)
[2026-01-01 10:00:03] INFO [valid] epoch 1: Hit@1 0.5000  PERR 0.4000  GAP 0.3000  mAP 0.2000  (24 videos, loss 0.8000)
[2026-01-01 10:00:04] INFO epoch 2/3 step 2  loss 0.60000  lr 2.000e-03  100.0 videos/s  eta 0:00:04
[2026-01-01 10:00:09] INFO config c.yaml  device cpu  processes 1  seed 1234
[2026-01-01 10:00:10] INFO resumed from out/M_epoch_00001 (epoch 1, global step 4, lr 2.000e-03)
[2026-01-01 10:00:11] INFO epoch 2/3 step 2  loss 0.50000  lr 2.000e-03  100.0 videos/s  eta 0:00:04
[2026-01-01 10:00:12] INFO epoch 2/3 step 4  loss 0.30000  lr 5.000e-04  100.0 videos/s  eta 0:00:02
[2026-01-01 10:00:12] INFO epoch 2 done: 4 steps, 32 videos in 1.0s (32.0 videos/s)
[2026-01-01 10:00:13] INFO [valid] epoch 2: Hit@1 0.6000  PERR 0.5000  GAP 0.4500  mAP 0.3000  (24 videos, loss 0.6000)
"""


def test_parser_reads_steps_and_validation_and_keeps_the_resumed_run(tmp_path):
    p = tmp_path / "train.log"
    p.write_text(LOG)
    log = parse_training_log(str(p))
    assert log.epochs == 3
    assert log.steps[(2, 2)] == (0.5, 2e-3)            # the resumed run replaced the interrupted one
    assert log.steps[(2, 4)] == (0.3, 5e-4)
    assert log.epoch_loss() == pytest.approx({1: 0.8, 2: 0.4})
    assert log.steps_per_epoch == {1: 4, 2: 4}
    assert log.valid[2] == pytest.approx({"hit_at_one": 0.6, "perr": 0.5, "gap": 0.45, "map": 0.3,
                                          "num_videos": 24, "loss": 0.6})
    assert sorted(log.valid) == [1, 2]


def test_cli_on_hand_log_and_errors(tmp_path):
    p = tmp_path / "train.log"
    p.write_text(LOG)
    r = run("tools/plot_log.py", p, "-o", tmp_path / "curves.png")
    assert r.returncode == 0, r.stderr
    assert "best 0.4500 at epoch 2" in r.stdout
    assert png_size(tmp_path / "curves.png") == (1100, 420)
    bad = tmp_path / "other.log"
    bad.write_text("nothing to see\n")
    r = run("tools/plot_log.py", bad)
    assert r.returncode == 2 and "other.log: no training lines found" in r.stderr and "Traceback" not in r.stderr
    r = run("tools/plot_log.py", tmp_path / "missing.log")
    assert r.returncode == 2 and "missing.log" in r.stderr and "Traceback" not in r.stderr


def test_cli_on_a_real_training_log(trained_lstm):
    out, _ = trained_lstm
    log = parse_training_log(str(out / "train.log"))
    assert sorted(log.valid) == [1, 2] and set(e for e, _ in log.steps) == {1, 2}
    r = run("tools/plot_log.py", out / "train.log")
    assert r.returncode == 0, r.stderr
    png = out / "train_log.png"
    assert png_size(png) == (1100, 420) and png.stat().st_size > 10_000


# The walkthrough case of an older main.py: a 6-epoch run, then a new 1-epoch run appended to its log.
TWO_RUNS = LOG + """\
[2026-01-02 09:00:00] INFO config c.yaml  device cpu  processes 1  seed 1234
[2026-01-02 09:00:01] INFO 1 process(es) x batch 16 = 16 videos per step
[2026-01-02 09:00:02] INFO epoch 1/1 step 4  loss 0.95000  lr 3.000e-03  100.0 videos/s
[2026-01-02 09:00:02] INFO epoch 1 done: 4 steps, 32 videos in 1.0s (32.0 videos/s)
[2026-01-02 09:00:03] INFO [valid] epoch 1: Hit@1 0.1000  PERR 0.1000  GAP 0.1500  mAP 0.1000  (24 videos, loss 0.9000)
"""


def test_a_log_with_two_runs_is_never_merged(tmp_path):
    p = tmp_path / "train.log"
    p.write_text(TWO_RUNS)
    last = parse_training_log(str(p))
    assert (last.run, last.runs) == (2, 2)
    assert last.steps == {(1, 4): (0.95, 3e-3)} and last.epochs == 1 and last.steps_per_epoch == {1: 4}
    assert sorted(last.valid) == [1] and last.valid[1]["gap"] == pytest.approx(0.15)
    first = parse_training_log(str(p), run=1)
    assert (first.run, first.runs) == (1, 2)
    # the first run, its own resume included, exactly as the one-run log gives it
    alone = tmp_path / "alone.log"
    alone.write_text(LOG)
    assert first.steps == parse_training_log(str(alone)).steps and first.valid == parse_training_log(str(alone)).valid
    with pytest.raises(ValueError, match="holds 2 run"):
        parse_training_log(str(p), run=3)
    r = run("tools/plot_log.py", p, "-o", tmp_path / "curves.png")
    assert r.returncode == 0, r.stderr
    assert "holds 2 separate runs; plotted run 2 only" in r.stdout and "best 0.1500 at epoch 1" in r.stdout
    r = run("tools/plot_log.py", p, "--run", "1", "-o", tmp_path / "first.png")
    assert r.returncode == 0 and "plotted run 1 only" in r.stdout and "best 0.4500 at epoch 2" in r.stdout
    r = run("tools/plot_log.py", p, "--run", "5")
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0 and "there is no run 5" in r.stderr
