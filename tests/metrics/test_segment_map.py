"""Segment MAP@K: hand-computed cases, a brute-force second implementation, the streaming metric against the
scorer of the equivalent submission, state/merge, and the submission writer's format."""
import heapq
import itertools

import numpy as np
import pytest

from paddlevideo.inference.segment_submission import SegmentSubmissionWriter
from paddlevideo.metrics.group import MetricGroup
from paddlevideo.metrics.segment_map import (
    SegmentMAP,
    average_precision_at_k,
    load_segment_label_ids,
    mean_average_precision,
)
from paddlevideo.metrics.segment_submission_eval import SegmentRatingTable, score_submission
from paddlevideo.metrics.segment_topk import ClassTopK

P, N, U = 1, 0, -1


# ---------------------------------------------------------------- AP@K of one class, by hand
@pytest.mark.parametrize("ratings, n_pos, k, expected", [
    ([P, N, P], 2, 10, (1 / 1 + 2 / 3) / 2),
    ([U, P, U, N, P], 2, 10, (1 / 1 + 2 / 3) / 2),      # unrated entries neither help nor hurt
    ([U, P, U, N, P], 2, 3, (1 / 1) / 2),              # truncation at K happens before unrated ones are dropped
    ([P, N, N, P], 2, 2, (1 / 1) / 2),                 # truncation at K
    ([P], 3, 100, 1 / 3),                              # short row: the missed positives still count in N_c
    ([N, N, P, P], 2, 100, (1 / 3 + 2 / 4) / 2),
    ([], 4, 100, 0.0),                                 # empty row
    ([U, U], 1, 100, 0.0),
    ([N], 0, 100, 0.0),                                # a class without positives
])
def test_average_precision_by_hand(ratings, n_pos, k, expected):
    assert average_precision_at_k(ratings, n_pos, k) == pytest.approx(expected, abs=1e-12)


def test_average_precision_rejects_inconsistent_input():
    with pytest.raises(ValueError, match="holds 2 positives but num_positives is 1"):
        average_precision_at_k([P, P], 1)
    with pytest.raises(ValueError, match="top_k must be >= 1"):
        average_precision_at_k([P], 1, 0)
    with pytest.raises(ValueError, match="-1 .unrated., 0 .negative. or 1"):
        average_precision_at_k([2], 1)


def test_mean_over_classes_with_positives_and_starter_average():
    rows = [(1, [P, N]), (2, [N, P]), (5, [N, N])]     # class 5: a row, no positive in the ground truth
    positives = {1: 1, 2: 1, 3: 2, 4: 0}               # class 3: positives but no row; class 4: none
    r = mean_average_precision(rows, positives, top_k=100)
    assert r["map"] == pytest.approx((1.0 + 0.5 + 0.0) / 3)      # class 3 counts 0, classes 4 and 5 are left out
    assert r["map_starter"] == pytest.approx((1.0 + 0.5) / 2)    # only classes with a row and a positive
    assert (r["classes_with_positives"], r["classes_with_rows"], r["classes_without_row"]) == (3, 3, 1)
    with pytest.raises(ValueError, match="class 1 has two rows"):
        mean_average_precision([(1, [P]), (1, [N])], {1: 1})
    assert mean_average_precision([], {}) ["map"] == 0.0


# ---------------------------------------------------------------- the streaming metric, by hand
def feed(metric, probs, labels, weights, ids, starts):
    metric.update(np.asarray(probs, np.float32), np.asarray(labels, np.float32),
                  label_weights=np.asarray(weights, np.float32), segment_start=np.asarray(starts), id=ids)


def test_ties_follow_the_segment_id_order():
    """Two segments with the same score for class 0: "b:0" ranks before "a:0" (larger id string first)."""
    for pos_id, expected in (("b", 1.0), ("a", 0.5)):
        m = SegmentMAP(2, top_k=10)
        labels = [[1.0 if i == pos_id else 0.0, 0] for i in ("a", "b")]
        feed(m, [[0.7, 0.1], [0.7, 0.1]], labels, [[1, 0], [1, 0]], ["a", "b"], [0, 0])
        assert m.accumulate()["segment_map"] == pytest.approx(expected)


def test_top20_rule_vocabulary_and_truncation_by_hand(tmp_path):
    """3 classes, per_segment_top_k=1: a segment enters only its best class. Vocabulary {0, 2}: class 1 is zeroed.

    segment s0: scores (0.2, 0.9, 0.5) -> class 1 zeroed -> best is class 2 (0.5); rated positive for 0 and 2.
    segment s1: scores (0.8, 0.1, 0.3) -> class 0; rated negative for 0.
    segment s2: scores (0.6, 0.0, 0.1) -> class 0; rated positive for 0.
    Class 0 ranking: s1 (N), s2 (P); positives of class 0: s0, s2 -> AP = (1/2) / 2 = 0.25 (s0 never entered).
    Class 2 ranking: s0 (P); positives 1 -> AP = 1. MAP = (0.25 + 1) / 2. With top_k=1 class 0 keeps s1 only:
    AP 0 -> MAP 0.5.
    """
    vocab = tmp_path / "segment_label_ids.csv"
    vocab.write_text("Index\n2\n0\n")
    probs = [[0.2, 0.9, 0.5], [0.8, 0.1, 0.3], [0.6, 0.0, 0.1]]
    labels = [[1, 0, 1], [0, 0, 0], [1, 0, 0]]
    weights = [[1, 0, 1], [1, 0, 0], [1, 0, 0]]
    for k, expected in ((10, (0.25 + 1.0) / 2), (1, 0.5)):
        m = SegmentMAP(3, top_k=k, per_segment_top_k=1, segment_label_ids=str(vocab))
        feed(m, probs, labels, weights, ["s0", "s1", "s2"], [0, 0, 0])
        r = m.accumulate()
        assert r["segment_map"] == pytest.approx(expected)
        assert r["segment_map_starter"] == pytest.approx(expected)
    rows = {c: row["sids"].tolist() for c, row in m.rows()}
    assert rows == {0: ["s1:0"], 2: ["s0:0"]}


def test_metric_needs_segment_entries():
    m = SegmentMAP(3)
    with pytest.raises(ValueError, match="needs the batch entries label_weights, segment_start, id"):
        m.update(np.zeros((1, 3), np.float32), np.zeros((1, 3), np.float32))


# ---------------------------------------------------------------- a second, brute-force implementation
def brute_force_map(probs, labels, weights, sids, vocab, per_segment_top_k, k):
    """Plain Python: the starter's rules written out with heapq and sorted(), then AP by its definition."""
    heaps = {}
    for p, sid in zip(probs, sids):
        z = [float(s) if c in vocab else 0.0 for c, s in enumerate(p)]
        top = sorted(range(len(z)), key=lambda c: (-z[c], c))[:per_segment_top_k]
        for c in top:
            if c not in vocab:
                continue
            h = heaps.setdefault(c, [])
            (heapq.heappushpop if len(h) >= k else heapq.heappush)(h, (np.float32(z[c]), sid))
    rating = {}
    positives = {}
    for y, w, sid in zip(labels, weights, sids):
        for c in range(len(y)):
            if w[c] > 0:
                rating[(sid, c)] = y[c] > 0
                positives[c] = positives.get(c, 0) + int(y[c] > 0)
    aps = {}
    for c, h in heaps.items():
        ranked = [sid for _, sid in sorted(h, reverse=True)]       # score desc, then id desc
        rated = [rating[(sid, c)] for sid in ranked[:k] if (sid, c) in rating]
        if positives.get(c, 0) == 0:
            continue
        hits, s = 0, 0.0
        for i, r in enumerate(rated, 1):
            if r:
                hits += 1
                s += hits / i
        aps[c] = s / positives[c]
    classes = [c for c, n in positives.items() if n > 0]
    full = np.mean([aps.get(c, 0.0) for c in classes]) if classes else 0.0
    return full, (np.mean(list(aps.values())) if aps else 0.0)


def random_case(seed, segments=120, classes=12, videos=9):
    rng = np.random.default_rng(seed)
    probs = rng.random((segments, classes)).astype(np.float32)
    probs[rng.random(probs.shape) < 0.1] = 0.95                   # exact ties, near the top of each ranking
    weights = (rng.random((segments, classes)) < 0.3).astype(np.float32)
    labels = weights * (rng.random((segments, classes)) < 0.5)
    ids = [f"v{rng.integers(videos):02d}" for _ in range(segments)]
    starts = 5 * np.arange(segments)
    return probs, labels, weights, ids, starts


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_streaming_metric_matches_brute_force(seed, tmp_path):
    probs, labels, weights, ids, starts = random_case(seed)
    vocab = [0, 2, 3, 5, 7, 8, 11]
    (tmp_path / "v.csv").write_text("\n".join(map(str, vocab)) + "\n")
    sids = [f"{i}:{s}" for i, s in zip(ids, starts)]
    expected = brute_force_map(probs, labels, weights, sids, set(vocab), per_segment_top_k=4, k=7)
    m = SegmentMAP(12, top_k=7, per_segment_top_k=4, segment_label_ids=str(tmp_path / "v.csv"))
    m._ranking.min_prune = 5                                     # prune often: the bound must not change results
    for lo in range(0, len(probs), 13):
        feed(m, probs[lo:lo + 13], labels[lo:lo + 13], weights[lo:lo + 13], ids[lo:lo + 13], starts[lo:lo + 13])
    r = m.accumulate()
    assert r["segment_map"] == pytest.approx(expected[0], abs=1e-12)
    assert r["segment_map_starter"] == pytest.approx(expected[1], abs=1e-12)
    assert all(len(row["sids"]) <= 7 for _, row in m.rows())
    assert len(m._ranking) <= 7 * len(vocab)


def test_state_merge_and_order_do_not_change_the_result():
    probs, labels, weights, ids, starts = random_case(5)
    whole = SegmentMAP(12, top_k=9, per_segment_top_k=3)
    feed(whole, probs, labels, weights, ids, starts)
    parts = [SegmentMAP(12, top_k=9, per_segment_top_k=3) for _ in range(3)]
    order = np.random.default_rng(1).permutation(len(probs))
    for j, chunk in enumerate(np.array_split(order, 3)):
        feed(parts[j], probs[chunk], labels[chunk], weights[chunk], [ids[i] for i in chunk], starts[chunk])
    merged = SegmentMAP(12, top_k=9, per_segment_top_k=3)
    for p in parts:
        merged.merge(p.state())
    assert merged.accumulate() == whole.accumulate()
    with pytest.raises(ValueError, match="another num_classes, top_k"):
        SegmentMAP(12, top_k=8, per_segment_top_k=3).merge(whole.state())


def test_streaming_metric_equals_the_score_of_the_written_submission(tmp_path):
    """SegmentMAP over rated segments == tools' scorer on the CSV the writer makes from the same scores."""
    probs, labels, weights, ids, starts = random_case(3, segments=200, classes=15)
    for k in (5, 1000):
        m = SegmentMAP(15, top_k=k, per_segment_top_k=6)
        w = SegmentSubmissionWriter(15, top_k=k, per_segment_top_k=6)
        for lo in range(0, 200, 32):
            sl = slice(lo, lo + 32)
            feed(m, probs[sl], labels[sl], weights[sl], ids[sl], starts[sl])
            w.add(ids[sl], starts[sl], probs[sl])
        path = tmp_path / f"sub{k}.csv"
        w.write(path)
        records = [(f"segment {i}", vid, [s] * int(weights[i].sum()), np.flatnonzero(weights[i]),
                    labels[i][weights[i] > 0]) for i, (vid, s) in enumerate(zip(ids, starts))]
        scored = score_submission(path, SegmentRatingTable.from_records(records), top_k=k)
        r = m.accumulate()
        assert scored["map"] == pytest.approx(r["segment_map"], abs=1e-12)
        assert scored["map_starter"] == pytest.approx(r["segment_map_starter"], abs=1e-12)
        assert 0 < r["segment_map"] < 1


def test_metric_in_a_metric_group_with_its_own_keys():
    group = MetricGroup.from_config([{"name": "YouTube8MMetric"}, {"name": "SegmentMAP", "top_k": 50}], 4)
    assert list(group.KEYS) == ["hit_at_one", "perr", "gap", "map", "segment_map", "segment_map_starter"]


# ---------------------------------------------------------------- the bounded ranking against heapq
def test_class_topk_keeps_what_a_bounded_min_heap_keeps():
    rng = np.random.default_rng(4)
    n = 3000
    classes = rng.integers(0, 6, n)
    scores = np.round(rng.random(n), 2).astype(np.float32)        # many ties
    sids = np.array([f"{rng.integers(50)}:{5 * rng.integers(60)}" for _ in range(n)])
    ranking = ClassTopK(25, min_prune=40)
    for lo in range(0, n, 97):
        ranking.push(classes[lo:lo + 97], scores[lo:lo + 97], sids[lo:lo + 97])
        assert len(ranking) <= 2 * 6 * 25 + 40 + 97
    heaps = {}
    for c, s, sid in zip(classes.tolist(), scores.tolist(), sids.tolist()):
        h = heaps.setdefault(c, [])
        (heapq.heappushpop if len(h) >= 25 else heapq.heappush)(h, (np.float32(s), sid))
    for c, row in ranking.ranked():
        assert list(zip(row["scores"].tolist(), row["sids"].tolist())) == \
            [(float(s), sid) for s, sid in sorted(heaps[c], reverse=True)]


# ---------------------------------------------------------------- the submission writer's format
def test_submission_writer_format(tmp_path):
    w = SegmentSubmissionWriter(4, top_k=2, per_segment_top_k=2, classes=[1, 3])
    w.add([b"ab", "cd", "ef"], [0, 5, 10], np.array([[0.9, 0.1, 0.2, 0.3],
                                                     [0.1, 0.8, 0.0, 0.7],
                                                     [0.1, 0.6, 0.0, 0.65]], np.float32))
    w.add(["gh"], [295], np.array([[0.0, 0.9, 0.0, 0.0]], np.float32))
    counts = w.write(tmp_path / "sub.csv")
    text = (tmp_path / "sub.csv").read_text()
    # ab:0 -> zeroed (0, 0.1, 0, 0.3) -> classes 3, 1; cd:5 -> 1, 3; ef:10 -> 3, 1; gh:295 -> 1 (and 0, dropped)
    assert text == "Class,Segments\n1,gh:295 cd:5\n3,cd:5 ef:10\n"
    assert counts == {"rows": 2, "entries": 4, "segments": 4}


def test_load_segment_label_ids(tmp_path):
    f = tmp_path / "ids.csv"
    f.write_text("\ufeffIndex\n7\n\n3\n")
    assert load_segment_label_ids(str(f), 10).tolist() == [3, 7]
    for text, message in (("Index\n3\nx\n", "line 3: 'x' is not a class index"),
                          ("3\n3\n", "line 2: class 3 repeats line 1"),
                          ("Index\n12\n", "line 2: class 12 is outside \\[0, 10\\)"),
                          ("Index\n", "holds no class index")):
        f.write_text(text)
        with pytest.raises(ValueError, match=f"{f}: {message}"):
            load_segment_label_ids(str(f), 10)


def test_many_ties_are_resolved_identically_in_any_feeding_order():
    """All scores equal: the ranking is the id order alone, whatever the batching."""
    ids = [f"{a}{b}" for a, b in itertools.product("abc", "xyz")]
    probs = np.full((len(ids), 2), 0.5, np.float32)
    for perm_seed in range(3):
        perm = np.random.default_rng(perm_seed).permutation(len(ids))
        w = SegmentSubmissionWriter(2, top_k=4, per_segment_top_k=1)
        for i in perm:
            w.add([ids[i]], [0], probs[i:i + 1])
        assert list(w.lines())[1] == "0," + " ".join(f"{x}:0" for x in sorted(ids, reverse=True)[:4])
