"""expected_average_precision against the references of :mod:`tests.metrics.ap_reference`: a loop port of
Google's ``ap_at_n`` and the mean over every enumerated order of the tie groups."""
from __future__ import annotations

import math

import numpy as np
import pytest

from paddlevideo.metrics.average_precision import expected_average_precision
from tests.metrics.ap_reference import brute_force_ap, google_ap_at_n


def tied_list(rng, max_len=9, levels=4):
    """A short list with many ties whose orders are few enough to enumerate."""
    while True:
        m = int(rng.integers(1, max_len + 1))
        scores = (rng.integers(0, levels, m) / levels).astype(np.float32)
        _, counts = np.unique(scores, return_counts=True)
        if math.prod(math.factorial(int(c)) for c in counts) <= 20000:
            return scores, rng.random(m) < 0.5


@pytest.mark.parametrize("seed", range(4))
def test_equals_mean_over_all_tie_orders(seed):
    rng = np.random.default_rng(seed)
    for _ in range(60):
        scores, hits = tied_list(rng)
        total = int(hits.sum()) + int(rng.integers(0, 3))          # positives outside the list count
        n = None if rng.random() < 0.4 else int(rng.integers(1, scores.size + 2))   # cut-offs in ties too
        expected = brute_force_ap(scores.tolist(), hits.tolist(), total, n)
        assert expected_average_precision(scores, hits, total, n=n)[0] == pytest.approx(expected, abs=1e-12)


def test_tie_group_straddling_the_cut_off():
    # ranks 1-2: a positive and a negative tied at 0.9, then four tied at 0.5 (2 positives) across n = 4
    scores = np.array([0.9, 0.9, 0.5, 0.5, 0.5, 0.5], np.float32)
    hits = np.array([1, 0, 1, 0, 1, 0], bool)
    for n in (1, 2, 3, 4, 5, 6, None):
        expected = brute_force_ap(scores.tolist(), hits.tolist(), 5, n)
        assert expected_average_precision(scores, hits, 5, n=n)[0] == pytest.approx(expected, abs=1e-12)
    # by hand, n = 1: rank 1 is the positive with probability 1/2 -> (1/2 * 1/1) / min(5, 1)
    assert expected_average_precision(scores, hits, 5, n=1)[0] == pytest.approx(0.5, abs=1e-15)


@pytest.mark.parametrize("seed", range(3))
def test_distinct_scores_equal_googles_ap_at_n(seed):
    rng = np.random.default_rng(seed)
    m = 300
    scores = rng.permutation(m).astype(np.float32) / m              # all distinct
    hits = rng.random(m) < 0.3
    total = int(hits.sum()) + 11
    for n in (None, 1, 17, 150, 1000):
        expected = google_ap_at_n(scores.tolist(), hits.tolist(), n, total)
        assert expected_average_precision(scores, hits, total, n=n)[0] == pytest.approx(expected, abs=1e-12)


def test_label_homogeneous_ties_equal_googles_ap_at_n():
    rng = np.random.default_rng(7)
    hits = rng.random(400) < 0.3
    # positives only on odd levels, negatives only on even ones: every tie group is all one label
    scores = np.where(hits, 2 * rng.integers(0, 10, 400) + 1, 2 * rng.integers(0, 10, 400)).astype(np.float32)
    for n in (None, 50):
        expected = google_ap_at_n(scores.tolist(), hits.tolist(), n, int(hits.sum()))
        assert expected_average_precision(scores, hits, hits.sum(), n=n)[0] == pytest.approx(expected, abs=1e-12)


def test_groups_are_separate_lists_and_order_does_not_matter():
    rng = np.random.default_rng(11)
    lists = [tied_list(rng) for _ in range(6)]
    totals = np.array([int(h.sum()) + int(rng.integers(0, 2)) for _, h in lists], np.float64)
    totals[2] = 0                                                   # a list without positives: AP 0
    lists[2] = (lists[2][0], np.zeros_like(lists[2][1]))
    scores = np.concatenate([s for s, _ in lists])
    hits = np.concatenate([h for _, h in lists])
    groups = np.concatenate([np.full(s.size, k) for k, (s, _) in enumerate(lists)])
    perm = rng.permutation(scores.size)
    for n in (None, 3):
        expected = [brute_force_ap(s.tolist(), h.tolist(), t, n) for (s, h), t in zip(lists, totals)]
        for idx in (np.arange(scores.size), perm):
            got = expected_average_precision(scores[idx], hits[idx], np.append(totals, 3), groups=groups[idx],
                                             num_groups=7, n=n)
            np.testing.assert_allclose(got, expected + [0.0], rtol=0, atol=1e-12)   # group 6: 3 positives, no entry


def test_empty_list_and_no_positives():
    assert expected_average_precision(np.zeros(0), np.zeros(0, bool), 3).tolist() == [0.0]
    assert expected_average_precision(np.ones(4), np.zeros(4), 0).tolist() == [0.0]
    # positives that never made the list: AP 0, not undefined
    assert expected_average_precision(np.ones(4), np.zeros(4), 5).tolist() == [0.0]


def test_bad_input_raises():
    with pytest.raises(ValueError, match="one size"):
        expected_average_precision(np.zeros(3), np.zeros(2), 1)
    with pytest.raises(ValueError, match="cut-off n"):
        expected_average_precision(np.zeros(3), np.zeros(3), 1, n=0)
    with pytest.raises(ValueError, match="1 or 4 values"):
        expected_average_precision(np.zeros(3), np.zeros(3), [1, 2], groups=np.zeros(3, int), num_groups=4)
    with pytest.raises(ValueError, match=r"group ids must lie in \[0, 2\)"):
        expected_average_precision(np.zeros(3), np.zeros(3), [1, 1], groups=np.array([0, 1, 2]), num_groups=2)
    with pytest.raises(ValueError, match="negative"):
        expected_average_precision(np.zeros(3), np.zeros(3), -1)


def closed_form(i, c, t, r, m):
    """docs/metrics.md: (r/t) [(c + 1 - (i + 1) q) (H_{i+m} - H_i) + m q], q = (r-1)/(t-1) (0 if t = 1)."""
    q = (r - 1) / (t - 1) if t > 1 else 0.0
    harmonic = sum(1.0 / (i + j) for j in range(1, m + 1))
    return r / t * ((c + 1 - (i + 1) * q) * harmonic + m * q)


def test_documented_closed_form_matches_enumeration():
    rng = np.random.default_rng(3)
    for _ in range(40):
        i, t = int(rng.integers(0, 6)), int(rng.integers(1, 7))
        above = rng.random(i) < 0.5                     # i untied entries above the group, c positives
        group = np.zeros(t, bool)
        group[: int(rng.integers(0, t + 1))] = True
        c, r = int(above.sum()), int(group.sum())
        n = int(rng.integers(i + 1, i + t + 2))         # a cut-off inside or after the group
        m = min(t, n - i)
        scores = np.concatenate([np.arange(i, 0, -1) + 1.0, np.zeros(t)])
        hits = np.concatenate([above, group]).tolist()
        total = max(c + r, 1)
        above_sum = sum((k + 1) / (rank + 1) for k, rank in enumerate(np.flatnonzero(above)))
        expected_sum = brute_force_ap(scores.tolist(), hits, total, n) * min(total, n) - above_sum
        assert closed_form(i, c, t, r, m) == pytest.approx(expected_sum, abs=1e-12)
