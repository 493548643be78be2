"""make_segment_sample_data.py writes segment-rated files the reader accepts, whose rated windows are learnable
(a logistic regression on the window means, fitted on the train split, ranks the validation ratings), with the
vocabulary file, the quirk of start times past the last frame, and the manifest rules of make_sample_data.py."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from paddlevideo.loader.yt8m import read_tfrecord
from paddlevideo.loader.yt8m.segments import iter_segment_ratings, segment_examples, segment_matrix

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "data" / "yt8m" / "make_segment_sample_data.py"
SMALL = ["--train_videos", "80", "--valid_videos", "40", "--max_frames", "40", "--rated_classes", "8"]


def run(out, *extra):
    return subprocess.run([sys.executable, str(SCRIPT), "--out_dir", str(out), *SMALL, *extra],
                          capture_output=True, text=True, timeout=120)


def windows(paths, num_classes=100):
    """(window mean features [N, 1152], rated class [N], score [N]) of every rated pair, and the skip count."""
    xs, cs, ys, skipped = [], [], [], 0
    for path in paths:
        for record, ratings in zip(read_tfrecord(path), iter_segment_ratings(path, num_classes=num_classes)):
            examples, skip = segment_examples(record, ratings, num_classes=num_classes)
            skipped += len(skip)
            for e in examples:
                mean = segment_matrix(e)[: len(e["rgb"])].mean(axis=0)
                for c in np.flatnonzero(e["label_weights"]):
                    xs.append(mean)
                    cs.append(c)
                    ys.append(e["labels"][c])
    return np.array(xs), np.array(cs), np.array(ys), skipped


def auc(pos, neg):
    """Probability that a positive scores above a negative (ties count half)."""
    pos, neg = np.asarray(pos)[:, None], np.asarray(neg)[None, :]
    return float((pos > neg).mean() + 0.5 * (pos == neg).mean())


def test_rated_windows_are_learnable_and_files_follow_the_schema(tmp_path):
    r = run(tmp_path)
    assert r.returncode == 0, r.stderr
    vocab_lines = (tmp_path / "sample_segment_label_ids.csv").read_text().splitlines()
    assert vocab_lines[0] == "Index" and len(vocab_lines) == 9
    vocab = np.array([int(v) for v in vocab_lines[1:]])
    assert len(set(vocab)) == 8 and vocab.min() >= 0 and vocab.max() < 100
    train = sorted(tmp_path.glob("sample_segment_train*.tfrecord"))
    valid = sorted(tmp_path.glob("sample_segment_validate*.tfrecord"))
    assert len(train) == 2 and len(valid) == 1
    xt, ct, yt, skip_t = windows(train)
    xv, cv, yv, skip_v = windows(valid)
    assert set(ct) <= set(vocab) and set(cv) <= set(vocab)
    assert 0.2 < yt.mean() < 0.8                       # positives and negatives both rated
    assert skip_t + skip_v >= 1                        # the quirk is there and is counted
    # multinomial logistic regression on the positive windows of the train split (gradient descent, numpy)
    pos = yt > 0
    k = {c: i for i, c in enumerate(vocab)}
    x = xt[pos]
    y = np.array([k[c] for c in ct[pos]])
    w = np.zeros((x.shape[1], len(vocab)))
    for _ in range(300):
        z = x @ w
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        p[np.arange(len(y)), y] -= 1
        w -= 0.5 * x.T @ p / len(y)
    z = xv @ w
    prob = np.exp(z - z.max(axis=1, keepdims=True))
    prob /= prob.sum(axis=1, keepdims=True)
    score = prob[np.arange(len(cv)), [k[c] for c in cv]]
    assert auc(score[yv > 0], score[yv == 0]) > 0.9      # 0.95: the rated class is visible in its window
    assert (prob[yv > 0].argmax(axis=1) == np.array([k[c] for c in cv[yv > 0]])).mean() > 0.8  # 0.91 here


def test_same_settings_skip_and_foreign_files_are_left_alone(tmp_path):
    assert run(tmp_path).returncode == 0
    first = (tmp_path / "sample_segment_train0000.tfrecord").read_bytes()
    r = run(tmp_path)
    assert r.returncode == 0 and "already" in r.stdout
    other = tmp_path / "other"
    assert run(other).returncode == 0
    assert (other / "sample_segment_train0000.tfrecord").read_bytes() == first   # deterministic
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "validate0000.tfrecord").write_bytes(b"real data")
    r = run(foreign)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr == (f"error: {foreign} holds .tfrecord files but no sample_segment_manifest.json: they were not "
                        "written by this script; use another --out_dir, or --force to write next to them\n")
    assert (foreign / "validate0000.tfrecord").read_bytes() == b"real data"
