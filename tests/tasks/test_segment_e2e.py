"""Segment pipeline end to end at toy sizes: train on the segment-rated sample set with SegmentMAP in --validate,
--test, export, ``tools/predict.py --segments`` over every window, and ``tools/segment_map.py`` on that submission.

The streaming metric of ``--test`` sees only the rated windows; the submission holds every window of every video.
Unrated windows neither help nor hurt (they are dropped from the ranked lists before AP) and K is not reached, so
both must give the same MAP (up to the last float bits of eager vs. Paddle Inference scores)."""
import json
import os
import subprocess
import sys

import pytest
from tiny_setup import ROOT, quiet_env, run_main, write_tiny_config


def run_tool(*args, timeout=300):
    return subprocess.run([sys.executable, *map(str, args)], cwd=ROOT, env=quiet_env(), capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="module")
def segment_data(tmp_path_factory):
    d = tmp_path_factory.mktemp("segdata")
    r = run_tool("data/yt8m/make_segment_sample_data.py", "--out_dir", d, "--num_classes", 10, "--rated_classes", 6,
                 "--train_videos", 40, "--valid_videos", 16, "--max_frames", 30)
    assert r.returncode == 0, r.stderr
    return d


def test_train_validate_test_predict_and_score(segment_data, tmp_path):
    d = segment_data
    vocab = d / "sample_segment_label_ids.csv"
    valid = str(d / "sample_segment_validate*.tfrecord")
    out = tmp_path / "run"
    seg = {"format": "YouTube8MSegmentDataset"}
    cfg = write_tiny_config(str(tmp_path / "seg.yaml"), str(d), str(out), epochs=2)
    overrides = [
        f"DATASET.train={json.dumps({**seg, 'file_pattern': str(d / 'sample_segment_train*.tfrecord'), 'shuffle': 1})}",
        f"DATASET.valid={json.dumps({**seg, 'file_pattern': valid})}",
        f"DATASET.test={json.dumps({**seg, 'file_pattern': valid})}",
        f"METRIC={json.dumps([{'name': 'SegmentMAP', 'segment_label_ids': str(vocab)}, {'name': 'YouTube8MMetric'}])}",
    ]
    # the base config's MultiHotLabels would read the segment label vectors as class indices: leave it out
    overrides += [f"PIPELINE.{m}=[{{name: TruncateFrames, max_frames: 300}}]" for m in ("train", "valid", "test")]
    args = [x for o in overrides for x in ("-o", o)]
    r = run_main(["-c", cfg, "--validate", *args], timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    log = (out / "train.log").read_text()
    assert "best checkpoint by SegMAP (max)" in log
    assert "SegMAP " in log and "SegMAP_starter " in log
    t = run_main(["-c", cfg, "--test", "-w", str(out / "Tiny_best.pdparams"), *args], timeout=600)
    assert t.returncode == 0, t.stdout + t.stderr
    test_metrics = json.loads((out / "test_metrics.json").read_text())
    assert 0 < test_metrics["segment_map"] <= 1

    e = run_tool("tools/export_model.py", "-c", cfg, "-p", out / "Tiny_best.pdparams", "-o", tmp_path / "inf")
    assert e.returncode == 0, e.stderr
    sub = tmp_path / "submission.csv"
    p = run_tool("tools/predict.py", "--segments", "--input_file", valid, "--model_file",
                 tmp_path / "inf" / "Tiny.json", "--segment_label_ids", vocab, "--batch_size", 64,
                 "--use_gpu=False", "--output", sub)
    assert p.returncode == 0, p.stderr
    s = run_tool("tools/segment_map.py", "--submission", sub, "--labels", valid)
    assert s.returncode == 0, s.stderr
    scored = json.loads(s.stdout.strip().splitlines()[-1])
    assert scored["map"] == pytest.approx(test_metrics["segment_map"], abs=1e-6)
    assert scored["map_starter"] == pytest.approx(test_metrics["segment_map_starter"], abs=1e-6)
    assert os.path.getsize(sub) > 0
