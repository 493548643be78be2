"""YouTube-8M metrics against a second implementation written from the definitions (docs/metrics.md).

The reference functions below are plain Python loops over Google's ``eval_util`` semantics
(google/youtube-8m): ``argpartition`` top-k per video, a pooled list ranked by score, AP normalised by all
positives, with AP from :mod:`tests.metrics.ap_reference`: a loop port of ``ap_at_n`` (shuffle with seed 0,
then a stable sort) for data whose value does not depend on the order of ties, and the mean over every
enumerated order of the tie groups otherwise.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from paddlevideo.metrics import (
    YouTube8MMetric,
    calculate_gap,
    calculate_hit_at_one,
    calculate_map,
    calculate_precision_at_equal_recall_rate,
)
from tests.metrics.ap_reference import brute_force_ap, google_ap_at_n

# ------------------------------------------------------------------------------ references


def ref_hit_at_one(p, y):
    return sum(float(y[i, int(np.argmax(p[i]))]) for i in range(len(p))) / len(p)


def ref_perr(p, y):
    total = 0.0
    for i in range(len(p)):
        k = int(y[i].sum())
        top = np.argpartition(p[i], -k)[-k:]          # k == 0 takes all C classes, as Google
        total += sum(float(y[i, j]) for j in top if p[i, j] > 0) / len(top)
    return total / len(p)


def ref_ap_google(scores, hits, total_positives):
    """``average_precision_calculator.ap_at_n(..., n=None, total_num_positives)`` as a loop."""
    return google_ap_at_n(scores, hits, None, total_positives)


def ref_ap_thresholds(scores, hits, total_positives):
    """The sklearn threshold rule this package used before: sum over distinct thresholds t of
    (recall(t) - recall(previous t)) * precision(t). Only to show that a test case tells the rules apart."""
    if total_positives == 0:
        return 0.0
    ap, prev_recall = 0.0, 0.0
    for t in sorted(set(scores), reverse=True):
        chosen = [h for s, h in zip(scores, hits) if s >= t]
        recall = sum(chosen) / total_positives
        ap += (recall - prev_recall) * (sum(chosen) / len(chosen))
        prev_recall = recall
    return ap


def ref_pool(p, y, k):
    """Google's top_k_by_class: per video the argpartition top-k (class, score, label)."""
    k = min(k, p.shape[1])
    pool = []
    for i in range(len(p)):
        for c in np.argpartition(p[i], -k)[-k:]:
            pool.append((int(c), float(p[i, c]), float(y[i, c])))
    return pool


def ref_gap(p, y, k=20, ap=ref_ap_google):
    pool = ref_pool(p, y, k)
    return ap([s for _, s, _ in pool], [h for _, _, h in pool], float(y.sum()))


def ref_map(p, y, k=20, ap=ref_ap_google):
    pool = ref_pool(p, y, k)
    aps = []
    for c in range(p.shape[1]):
        positives = float(y[:, c].sum())
        if positives == 0:
            continue                                   # filter_empty_classes=True
        entries = [(s, h) for cc, s, h in pool if cc == c]
        aps.append(ap([s for s, _ in entries], [h for _, h in entries], positives))
    return float(np.mean(aps)) if aps else 0.0


def random_case(n=60, c=40, seed=0, max_labels=4):
    rng = np.random.default_rng(seed)
    y = np.zeros((n, c), np.float32)
    for i in range(n):
        y[i, rng.choice(c, size=int(rng.integers(1, max_labels + 1)), replace=False)] = 1
    # informative but imperfect scores, all distinct
    raw = 0.6 * y + rng.random((n, c))
    ranks = np.empty(raw.size, np.int64)
    ranks[np.argsort(raw, axis=None)] = np.arange(raw.size)
    p = ((ranks + 1) / raw.size).reshape(n, c).astype(np.float32)   # same order, exactly distinct
    assert len(np.unique(p)) == p.size
    return p, y


# ----------------------------------------------------------------------------------- tests


def test_hand_computed_example():
    # 2 videos, 3 classes. Pool (top_k=2): v0 -> (c0 .9 +), (c1 .8 -); v1 -> (c2 .7 +), (c0 .1 -)
    # positives: v0 {c0}, v1 {c2, c1}  -> total 3.  Ranked pool: + - + -  -> AP = (1/1 + 2/3) / 3
    p = np.array([[0.9, 0.8, 0.0], [0.1, 0.05, 0.7]], np.float32)
    y = np.array([[1, 0, 0], [0, 1, 1]], np.float32)
    assert calculate_gap(p, y, top_k=2) == pytest.approx((1 + 2 / 3) / 3, abs=1e-12)
    assert calculate_hit_at_one(p, y) == pytest.approx(1.0)
    # PERR: v0 top-1 {c0} -> 1; v1 top-2 {c2, c0} -> 1/2
    assert calculate_precision_at_equal_recall_rate(p, y) == pytest.approx(0.75)
    # mAP@2: c0: entries (.9 +), (.1 -), 1 positive -> 1; c1: no entry, 1 positive -> 0;
    #        c2: (.7 +), 1 positive -> 1   => 2/3
    assert calculate_map(p, y, top_k=2) == pytest.approx(2 / 3, abs=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_untied_matches_google_definitions(seed):
    p, y = random_case(seed=seed)
    assert calculate_hit_at_one(p, y) == pytest.approx(ref_hit_at_one(p, y), abs=1e-12)
    assert calculate_precision_at_equal_recall_rate(p, y) == pytest.approx(ref_perr(p, y), abs=1e-12)
    assert calculate_gap(p, y, 20) == pytest.approx(ref_gap(p, y, 20), abs=1e-12)
    assert calculate_gap(p, y, 5) == pytest.approx(ref_gap(p, y, 5), abs=1e-12)
    assert calculate_map(p, y, 20) == pytest.approx(ref_map(p, y, 20), abs=1e-12)
    assert calculate_map(p, y, 3) == pytest.approx(ref_map(p, y, 3), abs=1e-12)


def test_video_without_labels_and_class_without_positives():
    p, y = random_case(n=30, c=25, seed=3)
    y[4] = 0                      # a video with no labels
    y[:, 7] = 0                   # a class with no positives
    m = YouTube8MMetric(25, top_k=20)
    m.update(p, y)
    r = m.accumulate()
    assert r["hit_at_one"] == pytest.approx(ref_hit_at_one(p, y), abs=1e-12)
    assert r["perr"] == pytest.approx(ref_perr(p, y), abs=1e-12)
    assert r["gap"] == pytest.approx(ref_gap(p, y), abs=1e-12)
    assert r["map"] == pytest.approx(ref_map(p, y), abs=1e-12)
    assert r["num_videos"] == 30
    # the label-less video is in the denominator of Hit@1 and PERR
    y_only = np.delete(y, 4, axis=0)
    p_only = np.delete(p, 4, axis=0)
    assert r["hit_at_one"] == pytest.approx(ref_hit_at_one(p_only, y_only) * 29 / 30, abs=1e-12)


def test_more_labels_than_top_k_caps_gap_below_one():
    c = 30
    y = np.zeros((1, c), np.float32)
    y[0, :25] = 1
    p = (np.arange(c, 0, -1) / c).astype(np.float32)[None]     # perfect ranking
    assert calculate_gap(p, y, 20) == pytest.approx(20 / 25, abs=1e-12)


def test_perr_counts_only_positive_scores():
    p = np.array([[-1.0, -2.0, -3.0]], np.float32)              # logits: all negative
    y = np.array([[1, 0, 0]], np.float32)
    assert calculate_precision_at_equal_recall_rate(p, y) == 0.0
    assert calculate_hit_at_one(p, y) == 1.0


def test_no_positive_at_all():
    p = np.random.default_rng(0).random((4, 6)).astype(np.float32)
    y = np.zeros((4, 6), np.float32)
    m = YouTube8MMetric(6)
    m.update(p, y)
    assert m.accumulate() == {"hit_at_one": 0.0, "perr": 0.0, "gap": 0.0, "map": 0.0, "num_videos": 4}


def label_homogeneous_ties(n, c, seed):
    """Scores on a coarse grid: positives on odd levels, negatives on even ones, so every group of tied
    scores (in a video, in the pool, in a class) is all positive or all negative."""
    rng = np.random.default_rng(seed)
    y = np.zeros((n, c), np.float32)
    for i in range(n):
        y[i, rng.choice(c, size=int(rng.integers(1, 5)), replace=False)] = 1
    level = np.where(y > 0, 2 * rng.integers(2, 10, (n, c)) + 1, 2 * rng.integers(0, 8, (n, c)))
    return (level / 20).astype(np.float32), y


def test_label_homogeneous_ties_equal_googles_eval():
    # 60 videos x 25 classes, top-20: Google's value does not depend on the order of ties here
    p, y = label_homogeneous_ties(60, 25, seed=4)
    assert len(np.unique(p)) <= 20                              # heavily tied
    r = YouTube8MMetric(25, top_k=20)
    r.update(p, y)
    r = r.accumulate()
    google_gap, google_map = ref_gap(p, y, 20), ref_map(p, y, 20)
    assert r["gap"] == pytest.approx(google_gap, abs=1e-12)
    assert r["map"] == pytest.approx(google_map, abs=1e-12)
    # the threshold rule (sklearn's) gives another GAP on this case, so the case tells the rules apart
    assert abs(ref_gap(p, y, 20, ap=ref_ap_thresholds) - google_gap) > 1e-3


def small_tied_case(rng, n=5, c=4, k=2):
    """A few videos with scores on 4 levels, small enough to enumerate every order of the pool's ties."""
    while True:
        y = (rng.random((n, c)) < 0.4).astype(np.float32)
        p = (rng.integers(1, 5, (n, c)) / 4).astype(np.float32)
        _, counts = np.unique([s for _, s, _ in ref_pool(p, y, k)], return_counts=True)
        if math.prod(math.factorial(int(m)) for m in counts) <= 20000:
            return p, y


@pytest.mark.parametrize("seed", range(5))
def test_mixed_ties_equal_mean_over_all_tie_orders(seed):
    rng = np.random.default_rng(100 + seed)
    for _ in range(4):
        p, y = small_tied_case(rng)
        m = YouTube8MMetric(4, top_k=2)
        m.update(p, y)
        r = m.accumulate()
        assert r["gap"] == pytest.approx(ref_gap(p, y, 2, ap=brute_force_ap), abs=1e-12)
        assert r["map"] == pytest.approx(ref_map(p, y, 2, ap=brute_force_ap), abs=1e-12)


def test_mixed_ties_do_not_depend_on_chunks_order_or_ranks():
    rng = np.random.default_rng(5)
    n, c = 40, 12
    y = (rng.random((n, c)) < 0.25).astype(np.float32)
    p = np.round(rng.random((n, c)), 1).astype(np.float32)      # only 11 distinct values: many mixed ties
    whole = YouTube8MMetric(c, top_k=5)
    whole.update(p, y)
    r = whole.accumulate()
    perm = rng.permutation(n)
    chunked = YouTube8MMetric(c, top_k=5)
    for part in np.array_split(perm, 7):
        chunked.update(p[part], y[part])
    assert chunked.accumulate() == pytest.approx(r, abs=1e-12)
    ranks = [YouTube8MMetric(c, top_k=5) for _ in range(3)]     # three "processes", gathered by merge
    for rank, part in zip(ranks, np.array_split(perm, 3)):
        rank.update(p[part], y[part])
    for other in ranks[1:]:
        ranks[0].merge(other.state())
    assert ranks[0].accumulate() == pytest.approx(r, abs=1e-12)
    # Google's shuffle-based value changes with the order the videos arrive in on such data
    google = {round(ref_gap(p[idx], y[idx], 5), 12) for idx in (np.arange(n), perm, perm[::-1])}
    assert len(google) > 1


def test_streaming_chunks_and_merge_equal_whole_split():
    p, y = random_case(n=101, c=50, seed=9)
    whole = YouTube8MMetric(50)
    whole.update(p, y)
    expected = whole.accumulate()
    chunked = YouTube8MMetric(50)
    for s in range(0, 101, 16):                 # uneven last batch
        chunked.update(p[s:s + 16], y[s:s + 16])
    assert chunked.accumulate() == pytest.approx(expected, abs=1e-12)
    a, b = YouTube8MMetric(50), YouTube8MMetric(50)
    a.update(p[:37], y[:37])
    b.update(p[37:], y[37:])
    a.merge(b.state())
    assert a.accumulate() == pytest.approx(expected, abs=1e-12)
    # the global GAP is not the mean of per-batch GAPs (PaddleVideo's number)
    batch_mean = np.mean([ref_gap(p[s:s + 16], y[s:s + 16]) for s in range(0, 101, 16)])
    assert abs(batch_mean - expected["gap"]) > 1e-6


def test_memory_is_top_k_per_video():
    p, y = random_case(n=50, c=300, seed=1)
    m = YouTube8MMetric(300, top_k=20)
    m.update(p, y)
    st = m.state()
    assert st["classes"].shape == (50, 20) and st["scores"].shape == (50, 20)


def test_bad_shapes_raise():
    m = YouTube8MMetric(5)
    with pytest.raises(ValueError, match="expected 5 classes"):
        m.update(np.zeros((2, 4), np.float32), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="one shape"):
        m.update(np.zeros((2, 5), np.float32), np.zeros((3, 5)))
    with pytest.raises(ValueError, match="cannot merge"):
        m.merge(YouTube8MMetric(6).state())
