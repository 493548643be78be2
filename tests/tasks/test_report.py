"""--test evaluation report: PR curve and per-class AP against loop references of the definitions,
the CSV and the PNG it writes."""
import csv
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools"))
from png_check import png_size  # noqa: E402

from paddlevideo.metrics.report import precision_recall_curve, write_eval_report  # noqa: E402
from paddlevideo.metrics.youtube8m import YouTube8MMetric  # noqa: E402
from tests.metrics.ap_reference import brute_force_ap  # noqa: E402


def _loop_pr(scores, hits, total):
    """Precision/recall at each distinct threshold, counted one threshold at a time."""
    out = []
    for t in sorted(set(scores.tolist()), reverse=True):
        pred = scores >= t
        tp = float(np.sum(hits[pred]))
        out.append((tp / pred.sum(), tp / total, t))
    return out


def _google_ap(scores, hits, total):
    """Non-interpolated AP of Google's ap_at_n (no ties): sum over positives of precision / total."""
    order = np.argsort(-scores)
    tp, ap = 0, 0.0
    for rank, i in enumerate(order, 1):
        if hits[i]:
            tp += 1
            ap += tp / rank
    return ap / total if total else 0.0


def test_pr_curve_matches_threshold_loop_with_ties():
    rng = np.random.default_rng(3)
    scores = rng.integers(0, 12, 200).astype(np.float32) / 11     # many ties
    hits = rng.random(200) < 0.3
    p, r, t = precision_recall_curve(scores, hits, total_positives=hits.sum() + 7)
    ref = _loop_pr(scores, hits, hits.sum() + 7)
    assert len(ref) == len(p)
    np.testing.assert_allclose(p, [x[0] for x in ref], rtol=1e-12)
    np.testing.assert_allclose(r, [x[1] for x in ref], rtol=1e-12)
    np.testing.assert_allclose(t, [x[2] for x in ref])


def test_pr_curve_small_hand_example():
    # ranked: 0.9 (+), 0.8 (-), 0.8 (+), 0.1 (-); 4 positives in total
    p, r, t = precision_recall_curve(np.array([0.1, 0.8, 0.9, 0.8]), np.array([0, 0, 1, 1]), 4)
    np.testing.assert_allclose(t, [0.9, 0.8, 0.1], rtol=1e-6)
    np.testing.assert_allclose(p, [1.0, 2 / 3, 0.5])
    np.testing.assert_allclose(r, [0.25, 0.5, 0.5])
    with pytest.raises(ValueError, match="one size"):
        precision_recall_curve(np.zeros(3), np.zeros(2))


def test_report_files_match_definitions(tmp_path):
    rng = np.random.default_rng(0)
    n, c, k = 60, 30, 5
    labels = (rng.random((n, c)) < 0.08).astype(np.float32)
    labels[:, 29] = 0                                             # a class with no positives
    probs = np.clip(0.5 * labels + rng.random((n, c)) * 0.7, 0, 1).astype(np.float32)   # no ties (floats)
    metric = YouTube8MMetric(c, top_k=k)
    for i in range(0, n, 16):
        metric.update(probs[i:i + 16], labels[i:i + 16])
    out = write_eval_report(metric, str(tmp_path / "rep"), "test")

    # GAP: every video's top-k pooled, normalised by all positives (Google's calculate_gap)
    top = np.argsort(-probs, axis=1)[:, :k]
    pool_s = np.take_along_axis(probs, top, 1).ravel()
    pool_h = np.take_along_axis(labels, top, 1).ravel() > 0
    assert out["gap"] == pytest.approx(_google_ap(pool_s, pool_h, labels.sum()), abs=1e-9)
    assert out["gap"] == pytest.approx(metric.accumulate()["gap"], abs=1e-9)

    with open(out["csv"], newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["class"] for r in rows] == [str(i) for i in range(c)]
    aps = []
    for j, row in enumerate(rows):
        assert int(row["positives"]) == int(labels[:, j].sum())
        in_top = (top == j).any(axis=1)
        assert int(row["top_k_entries"]) == int(in_top.sum())
        if labels[:, j].sum() == 0:
            assert row["ap"] == ""
            continue
        ref = _google_ap(probs[in_top, j], labels[in_top, j] > 0, labels[:, j].sum())
        assert float(row["ap"]) == pytest.approx(ref, abs=1e-6)
        aps.append(ref)
    assert out["map"] == pytest.approx(np.mean(aps), abs=1e-6)
    assert out["map"] == pytest.approx(metric.accumulate()["map"], abs=1e-6)
    assert png_size(out["png"]) == (1100, 420)


def test_report_with_tied_scores_uses_the_expected_ap(tmp_path):
    # scores on 3 levels: ties inside classes and in the pool, few enough orders to enumerate
    rng = np.random.default_rng(2)
    n, c, k = 6, 3, 2
    labels = (rng.random((n, c)) < 0.5).astype(np.float32)
    probs = (rng.integers(1, 4, (n, c)) / 4).astype(np.float32)
    metric = YouTube8MMetric(c, top_k=k)
    metric.update(probs, labels)
    out = write_eval_report(metric, str(tmp_path), "test")
    st = metric.state()
    cls, sc, hit = st["classes"].ravel(), st["scores"].ravel(), st["hits"].ravel()
    assert out["gap"] == pytest.approx(brute_force_ap(sc.tolist(), hit.tolist(), float(labels.sum())), abs=1e-12)
    with open(out["csv"], newline="") as f:
        rows = list(csv.DictReader(f))
    for j, row in enumerate(rows):
        if labels[:, j].sum() == 0:
            assert row["ap"] == ""
            continue
        sel = cls == j
        ref = brute_force_ap(sc[sel].tolist(), hit[sel].tolist(), float(labels[:, j].sum()))
        assert float(row["ap"]) == pytest.approx(ref, abs=1e-6)          # the CSV has 6 decimals
    result = metric.accumulate()
    assert out["gap"] == pytest.approx(result["gap"], abs=1e-12)
    assert out["map"] == pytest.approx(result["map"], abs=1e-6)


def test_report_of_an_empty_metric_still_writes_files(tmp_path):
    out = write_eval_report(YouTube8MMetric(4, top_k=2), str(tmp_path), "valid")
    assert out["gap"] == 0.0 and out["map"] == 0.0
    assert os.path.basename(out["png"]) == "valid_report.png" and png_size(out["png"])[0] > 0
    with open(out["csv"]) as f:
        assert f.read().splitlines() == ["class,name,ap,positives,top_k_entries"] + [f"{i},,,0,0" for i in range(4)]


def test_report_names_the_classes_from_a_vocabulary_with_a_bom(tmp_path):
    """--label_file: vocabulary.csv as YouTube-8M ships it (extra columns, a UTF-8 BOM, a quoted comma) fills
    the name column; a class the file does not list gets an empty name."""
    from paddlevideo.inference.results import load_label_names

    vocab = tmp_path / "vocabulary.csv"
    vocab.write_bytes("\ufeffIndex,TrainVideoCount,Name,WikiUrl\n0,10,Game,u0\n1,5,\"Car, racing\",u1\n"
                      "3,1,Café,u3\n".encode("utf-8"))
    names = load_label_names(str(vocab))
    assert names == {0: "Game", 1: "Car, racing", 3: "Café"}
    out = write_eval_report(YouTube8MMetric(4, top_k=2), str(tmp_path), "test", label_names=names)
    with open(out["csv"], encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["class"], r["name"]) for r in rows] == [("0", "Game"), ("1", "Car, racing"), ("2", ""), ("3", "Café")]
