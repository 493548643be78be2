"""The metric contract end to end: the worked example of docs/contributing.md ("Adding a metric") is run
from this file alone (no other module knows it), then main.py's own code path trains and validates with it,
alone or beside YouTube8MMetric; the best checkpoint follows the toy metric's key and mode, the log line and
plot_log show it; config mistakes end as one line."""
from __future__ import annotations

import glob
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import yaml

from paddlevideo.metrics.base import BaseMetric, BestRule
from paddlevideo.metrics.group import MetricGroup, plan_metrics
from paddlevideo.metrics.youtube8m import YouTube8MMetric
from paddlevideo.utils.config import ConfigError
from paddlevideo.visualization.training_log import parse_training_log
from tests.contributing_doc import DOC, doc_blocks
from tests.tasks.tiny_setup import ROOT, load_params, make_tiny_data, quiet_env, run_main, write_tiny_config

# Register the worked example exactly as the doc shows it (this module is imported once per session).
_namespace: dict = {"__name__": "contributing_example"}
exec(compile(doc_blocks("Adding a metric")["python"], DOC, "exec"), _namespace)  # noqa: S102
LabelScoreMetric = _namespace["LabelScoreMetric"]


def _reference(probs: np.ndarray, labels: np.ndarray, threshold: float = 0.5) -> dict:
    """The two toy values by loops over videos and classes (independent of the vectorised example)."""
    pos, npos, err = 0.0, 0, 0.0
    for p, y in zip(probs.tolist(), labels.tolist()):
        above = sum(1 for v in p if v > threshold)
        err += abs(above - sum(1 for v in y if v > 0))
        for v, t in zip(p, y):
            if t > 0:
                pos, npos = pos + v, npos + 1
    return {"pos_score": pos / npos, "count_err": err / len(probs)}


def test_doc_example_is_a_metric_that_streams_and_merges():
    assert issubclass(LabelScoreMetric, BaseMetric)
    rng = np.random.default_rng(0)
    probs = rng.random((23, 7)).astype(np.float32)
    labels = (rng.random((23, 7)) < 0.3).astype(np.float32)
    labels[0, 0] = 1
    whole = LabelScoreMetric(7)
    whole.update(probs, labels)
    assert whole.accumulate() == pytest.approx(_reference(probs, labels), abs=1e-6)
    parts = [LabelScoreMetric(7) for _ in range(3)]              # three "ranks", joined by state/merge
    for i, m in enumerate(parts):
        m.update(probs[i::3], labels[i::3])
    for m in parts[1:]:
        parts[0].merge(m.state())
    assert parts[0].accumulate() == pytest.approx(whole.accumulate(), abs=1e-12)


def test_group_feeds_every_metric_and_keeps_their_numbers():
    rng = np.random.default_rng(1)
    probs = rng.random((30, 6)).astype(np.float32)
    labels = (rng.random((30, 6)) < 0.3).astype(np.float32)
    group = MetricGroup.from_config([{"name": "LabelScoreMetric", "threshold": 0.4},
                                     {"name": "YouTube8MMetric", "top_k": 3}], 6)
    assert list(group.KEYS) == ["pos_score", "count_err", "hit_at_one", "perr", "gap", "map"]
    assert group.rule == BestRule("pos_score", "max", "PosScore")
    for i in range(0, 30, 7):
        group.update(probs[i:i + 7], labels[i:i + 7], lengths=np.ones(len(probs[i:i + 7]), np.int64))
    alone = YouTube8MMetric(6, top_k=3)
    alone.update(probs, labels)
    got = group.accumulate()
    assert got == pytest.approx({**_reference(probs, labels, 0.4), **alone.accumulate()}, abs=1e-9)
    other = MetricGroup.from_config([{"name": "LabelScoreMetric", "threshold": 0.4},
                                     {"name": "YouTube8MMetric", "top_k": 3}], 6)
    other.merge(group.state())
    assert other.accumulate() == pytest.approx(got, abs=1e-12)
    assert group.format_line(got).startswith(f"PosScore {got['pos_score']:.4f}  CountErr {got['count_err']:.4f}  "
                                             f"Hit@1 {got['hit_at_one']:.4f}")
    assert LabelScoreMetric(6).report("unused", "test") == {}     # no report: the base's default


@pytest.mark.parametrize("section, message", [
    ({"name": "YouTube8MMetric", "save_best": "gapp"},
     "METRIC.save_best='gapp': not a key of metric 'YouTube8MMetric'; valid keys: hit_at_one, perr, gap, map"),
    ({"name": "YouTube8MMetric", "mode": "up"}, "METRIC.mode='up': should be max or min"),
    ([{"name": "LabelScoreMetric"}, {"name": "LabelScoreMetric", "threshold": 0.9}],
     "METRIC.1: metric 'LabelScoreMetric' declares the key 'pos_score', which METRIC.0 (LabelScoreMetric) "
     "declares too; keys of the metrics in one METRIC list must differ"),
    ([{"name": "LabelScoreMetric", "save_best": "count_err"}, {"name": "YouTube8MMetric", "save_best": "gap"}],
     "METRIC.1.save_best: only one metric decides the best checkpoint, but METRIC.0 has save_best too"),
    ([{"name": "LabelScoreMetric", "save_best": "gap"}, {"name": "YouTube8MMetric"}],
     "METRIC.0.save_best='gap': not a key of metric 'LabelScoreMetric'; valid keys: pos_score, count_err"),
])
def test_plan_errors_are_one_line_and_name_the_valid_keys(section, message):
    with pytest.raises(ConfigError) as e:
        plan_metrics(section)
    assert str(e.value) == message


def test_default_rule_and_mode():
    assert plan_metrics(None)[1] == BestRule("gap", "max", "GAP")
    assert plan_metrics({"name": "YouTube8MMetric", "save_best": "perr"})[1] == BestRule("perr", "max", "PERR")
    assert plan_metrics([{"name": "YouTube8MMetric"}, {"name": "LabelScoreMetric", "save_best": "count_err",
                                                        "mode": "min"}])[1] == BestRule("count_err", "min", "CountErr")
    assert BestRule("x", "min").better(0.2, 0.3) and not BestRule("x", "min").better(0.3, 0.3)
    assert BestRule("x", "max").better(0.0, None) and not BestRule("x", "max").better(float("nan"), None)


def test_old_pdstate_best_is_read_and_a_changed_rule_restarts():
    from paddlevideo.tasks.train import best_from_counters

    gap = BestRule("gap", "max", "GAP")
    assert best_from_counters({"gap": 0.7, "epoch": 3}, gap) == {"key": "gap", "mode": "max", "value": 0.7, "epoch": 3}
    assert best_from_counters({"gap": -1.0, "epoch": None}, gap)["value"] is None
    new = {"key": "count_err", "mode": "min", "value": 1.5, "epoch": 2}
    assert best_from_counters(new, BestRule("count_err", "min")) == new
    assert best_from_counters(new, BestRule("count_err", "max"))["epoch"] is None
    assert best_from_counters({"gap": 0.7, "epoch": 3}, BestRule("perr", "max"))["epoch"] is None


def test_a_class_breaking_the_declarations_fails_at_definition():
    with pytest.raises(TypeError, match="display name 'Pos Score'"):
        type("Bad", (LabelScoreMetric,), {"KEYS": {"pos_score": "Pos Score"}})
    with pytest.raises(TypeError, match="key 'loss' must be an identifier other than"):
        type("Bad", (LabelScoreMetric,), {"KEYS": {"loss": "L"}, "DEFAULT_BEST": None})
    with pytest.raises(TypeError, match="does not print a number"):
        type("Bad", (LabelScoreMetric,), {"FORMATS": {"pos_score": ".1%"}})


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("tiny_metric"))
    make_tiny_data(d)
    return d


def _train_in_process(tmp_path, data_dir, metric, epochs=3):
    """``main.py -c CONFIG --validate`` through main.main in this process (where the toy metric is
    registered); returns the output dir."""
    sys.path.insert(0, ROOT)
    import main as main_module

    out = str(tmp_path / "run")
    cfg = write_tiny_config(str(tmp_path / "tiny.yaml"), data_dir, out, METRIC=metric, epochs=epochs)
    assert main_module.main(["-c", cfg, "--validate"]) == 0
    return out


def _per_epoch(out):
    files = sorted(glob.glob(os.path.join(out, "metrics_epoch_*.json")))
    return {json.load(open(f))["epoch"]: json.load(open(f)) for f in files}


@pytest.mark.parametrize("metric, key, mode", [
    ([{"name": "LabelScoreMetric"}, {"name": "YouTube8MMetric", "top_k": 20}], "pos_score", "max"),
    ({"_delete_": True, "name": "LabelScoreMetric", "save_best": "pos_score", "mode": "min", "threshold": 0.3},
     "pos_score", "min"),
])
def test_training_keeps_the_best_checkpoint_by_the_toy_key(tmp_path, data_dir, metric, key, mode):
    out = _train_in_process(tmp_path, data_dir, metric)
    epochs = _per_epoch(out)
    assert sorted(epochs) == [1, 2, 3]
    values = {e: m[key] for e, m in epochs.items()}
    pick = (max if mode == "max" else min)(values.values())
    expected = min(e for e, v in values.items() if v == pick)       # the earliest of equal values
    other = (min if mode == "max" else max)(values.values())
    assert pick != other            # the rule decides something on this (seeded) run: the values differ
    best = json.load(open(os.path.join(out, "metrics_best.json")))
    assert best["epoch"] == expected and best[key] == values[expected]
    for k, v in load_params(os.path.join(out, "Tiny_best.pdparams")).items():
        np.testing.assert_array_equal(v, load_params(os.path.join(out, f"Tiny_epoch_{expected:05d}.pdparams"))[k])
    with_yt8m = isinstance(metric, list)
    if with_yt8m:                   # on this seeded run GAP would have picked another epoch
        assert expected != max(epochs, key=lambda e: (epochs[e]["gap"], -e))
    assert set(epochs[1]) == {"epoch", "num_videos", "loss", "pos_score", "count_err"} | (
        {"hit_at_one", "perr", "gap", "map"} if with_yt8m else set())
    assert epochs[1]["num_videos"] == 13

    log_text = open(os.path.join(out, "train.log"), encoding="utf-8").read()
    display = {"pos_score": "PosScore", "count_err": "CountErr"}[key]
    assert log_text.count(f"best checkpoint by {display} ({mode})") == 1
    line = re.search(r"\[valid\] epoch 2: (.*)", log_text).group(1)
    assert line.startswith(f"PosScore {epochs[2]['pos_score']:.4f}  CountErr {epochs[2]['count_err']:.4f}")
    assert ("Hit@1" in line) == with_yt8m
    log = parse_training_log(os.path.join(out, "train.log"))
    assert (log.best_key, log.best_mode) == (key, mode) and log.best_epoch() == expected
    for e, m in epochs.items():
        assert log.valid[e][key] == pytest.approx(m[key], abs=5e-5)
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "plot_log.py"), os.path.join(out, "train.log")],
                       cwd=ROOT, env=quiet_env(), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert f"validation {display} of 3 epoch(s), best {values[expected]:.4f} at epoch {expected} ({mode})" in r.stdout


@pytest.mark.parametrize("metric, needle", [
    ({"name": "YouTube8MMetric", "save_best": "gapp"},
     "METRIC.save_best='gapp': not a key of metric 'YouTube8MMetric'; valid keys: hit_at_one, perr, gap, map"),
    ([{"name": "YouTube8MMetric"}, {"name": "YouTube8MMetric", "top_k": 5}],
     "METRIC.1: metric 'YouTube8MMetric' declares the key 'hit_at_one', which METRIC.0 (YouTube8MMetric) "
     "declares too"),
    ([{"name": "YouTube8MMetric", "top_kk": 5}], "METRIC.0: metric 'YouTube8MMetric' has no option 'top_kk'"),
])
def test_main_refuses_a_bad_metric_section_in_one_line(tmp_path, data_dir, metric, needle):
    out = tmp_path / "run"
    cfg = write_tiny_config(str(tmp_path / "bad.yaml"), data_dir, str(out), METRIC=metric)
    r = run_main(["-c", cfg, "--validate"], timeout=120)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and r.stderr.startswith(f"error: {cfg}: ") and needle in r.stderr, r.stderr
    assert not out.exists()                                           # nothing was started


def test_save_best_override_on_the_command_line_is_named(tmp_path, data_dir):
    cfg = write_tiny_config(str(tmp_path / "c.yaml"), data_dir, str(tmp_path / "run"))
    r = run_main(["-c", cfg, "-o", "METRIC.save_best=loss"], timeout=120)
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert r.stderr == ("error: -o METRIC.save_best='loss': not a key of metric 'YouTube8MMetric'; valid keys: "
                        "hit_at_one, perr, gap, map\n")


def test_the_doc_config_block_is_the_one_this_file_trains_with():
    block = yaml.safe_load(doc_blocks("Adding a metric")["yaml"])
    assert block == {"METRIC": [{"name": "LabelScoreMetric", "save_best": "count_err", "mode": "min"},
                                {"name": "YouTube8MMetric", "top_k": 20}]}
    assert plan_metrics(block["METRIC"])[1] == BestRule("count_err", "min", "CountErr")
