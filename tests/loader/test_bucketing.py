"""Length bucketing: every record exactly once, batches of similar length, padding ratio vs a direct count."""
from __future__ import annotations

import collections

import numpy as np
import pytest

from paddlevideo.loader.datasets.bucketing import bucket_by_length, padding_ratio, record_length


def _yt8m_like_lengths(n: int, rng: np.random.Generator) -> np.ndarray:
    """Lengths shaped like YouTube-8M 2018 frame counts: 120-300 s videos, a pile at the 300 cap, a few short."""
    seconds = rng.uniform(120, 420, size=n)
    short = rng.random(n) < 0.1
    seconds[short] = rng.uniform(1, 120, size=int(short.sum()))
    return np.minimum(seconds.astype(np.int64), 300)


def _records(lengths):
    return [{"id": f"v{i}", "rgb": np.zeros((int(t), 2), np.uint8)} for i, t in enumerate(lengths)]


def _padded_frames_loop(lengths, batch_size):
    """Independent count: walk the batches one by one."""
    computed = 0
    for start in range(0, len(lengths), batch_size):
        batch = list(lengths[start:start + batch_size])
        computed += len(batch) * max(batch)
    return computed


@pytest.mark.parametrize("n, batch_size, window", [(0, 4, 2), (7, 4, 2), (64, 8, 4), (101, 16, 3), (50, 1, 5)])
def test_every_record_exactly_once(n, batch_size, window):
    rng = np.random.default_rng(n)
    records = _records(rng.integers(0, 300, size=n))
    out = list(bucket_by_length(records, batch_size, window, np.random.default_rng(1)))
    assert collections.Counter(r["id"] for r in out) == collections.Counter(r["id"] for r in records)
    assert all(a is b for a, b in zip(sorted(out, key=lambda r: r["id"]), sorted(records, key=lambda r: r["id"])))


def test_batches_are_consecutive_runs_of_each_sorted_window():
    rng = np.random.default_rng(0)
    batch_size, window = 8, 5
    lengths = rng.integers(1, 301, size=203)                  # 5 full windows of 40 and a last one of 3
    out = list(bucket_by_length(_records(lengths), batch_size, window, np.random.default_rng(7)))
    out_len = [len(r["rgb"]) for r in out]
    w = batch_size * window
    for start in range(0, len(lengths), w):
        expected = np.sort(lengths[start:start + w])
        # batches of this window, in emitted order: each equals one run of the sorted window
        got = out_len[start:start + w]
        runs = {tuple(expected[i:i + batch_size]) for i in range(0, len(expected), batch_size)}
        batches = [tuple(sorted(got[i:i + batch_size])) for i in range(0, len(got), batch_size)]
        assert sorted(batches) == sorted(runs)
        if len(expected) % batch_size:                        # the only short batch comes last
            assert len(batches[-1]) == len(expected) % batch_size


def test_batch_order_is_shuffled_and_seeded():
    lengths = np.arange(1, 129)
    a = [record_length(r) for r in bucket_by_length(_records(lengths), 8, 16, np.random.default_rng(3))]
    b = [record_length(r) for r in bucket_by_length(_records(lengths), 8, 16, np.random.default_rng(3))]
    c = [record_length(r) for r in bucket_by_length(_records(lengths), 8, 16, np.random.default_rng(4))]
    assert a == b and a != c
    assert a != sorted(a)                                       # not simply sorted: batch order is random


def test_padding_ratio_matches_direct_count():
    rng = np.random.default_rng(1)
    for n, bs in [(1, 1), (10, 3), (257, 16), (1000, 32)]:
        lengths = rng.integers(0, 301, size=n)
        expected = _padded_frames_loop(lengths.tolist(), bs) / max(int(lengths.sum()), 1)
        assert padding_ratio(lengths, bs) == pytest.approx(expected, rel=1e-12)
    assert padding_ratio([5, 5, 5, 5], 2) == 1.0
    assert padding_ratio([1, 3], 2) == pytest.approx(6 / 4)
    with pytest.raises(ValueError, match="batch_size"):
        padding_ratio([1], 0)
    with pytest.raises(ValueError, match=">= 0"):
        padding_ratio([1, -2], 1)


def test_bucketing_cuts_waste_on_yt8m_like_lengths():
    rng = np.random.default_rng(2018)
    lengths = _yt8m_like_lengths(4096, rng)
    assert 200 < lengths.mean() < 235                           # about 215 frames per video
    batch_size = 16
    random_ratio = _padded_frames_loop(lengths.tolist(), batch_size) / lengths.sum()
    out = [record_length(r) for r in bucket_by_length(_records(lengths), batch_size, 32, np.random.default_rng(0))]
    bucketed_ratio = _padded_frames_loop(out, batch_size) / sum(out)
    assert random_ratio > 1.2
    assert bucketed_ratio <= 1.1


def test_invalid_arguments():
    with pytest.raises(ValueError, match="batch_size"):
        list(bucket_by_length([], 0, 1))
    with pytest.raises(ValueError, match="window"):
        list(bucket_by_length([], 4, 0))


def test_dataset_option_through_dataloader(tmp_path):
    from paddlevideo.loader.builder import build_dataloader
    from paddlevideo.loader.datasets.yt8m_tfrecord import YouTube8MTFRecordDataset
    from paddlevideo.loader.yt8m import write_tfrecord

    rng = np.random.default_rng(5)
    lengths = rng.integers(1, 60, size=70)
    records = [{"id": f"v{i:03d}", "labels": np.array([i % 5]), "rgb": np.full((t, 8), i % 256, np.uint8),
                "audio": np.zeros((t, 4), np.uint8)} for i, t in enumerate(lengths)]
    write_tfrecord(tmp_path / "a.tfrecord", records[:35])
    write_tfrecord(tmp_path / "b.tfrecord", records[35:])
    batch_size, window = 4, 3
    ds = YouTube8MTFRecordDataset(str(tmp_path / "*.tfrecord"), [{"name": "MultiHotLabels", "num_classes": 5}],
                                  feature_dims=(8, 4), shuffle=True, shuffle_buffer=8, seed=3,
                                  bucket_window=window)
    ds.set_batch_size(batch_size)
    seen = []
    for batch in build_dataloader(ds, batch_size, num_workers=0):
        lens = batch["lengths"].numpy()
        rgb = batch["rgb"].numpy()
        seen.extend(int(rgb[i, 0, 0]) for i in range(len(lens)))
    assert sorted(seen) == sorted(i % 256 for i in range(70))
    # the loader's batches are exactly the runs of the sorted windows of the (shuffled) stream
    stream = list(ds.iter_shard(0, 1))                         # the same reader's stream, not bucketed
    w = batch_size * window
    expected_batches = []
    for start in range(0, len(stream), w):
        win = sorted(len(r["rgb"]) for r in stream[start:start + w])
        expected_batches += [tuple(win[i:i + batch_size]) for i in range(0, len(win), batch_size)]
    got_batches = [tuple(sorted(b["lengths"].numpy().tolist())) for b in build_dataloader(ds, batch_size, 0)]
    assert sorted(got_batches) == sorted(expected_batches)
    ratio_bucketed = padding_ratio([x for b in got_batches for x in b], batch_size)
    ratio_plain = padding_ratio([len(r["rgb"]) for r in stream], batch_size)
    assert ratio_bucketed < ratio_plain


def test_dataset_option_with_two_loader_workers(tmp_path):
    """Each worker buckets its own stream; the DataLoader's batches are still exactly the sorted runs."""
    from paddlevideo.loader.builder import build_dataloader
    from paddlevideo.loader.datasets.yt8m_tfrecord import YouTube8MTFRecordDataset
    from paddlevideo.loader.yt8m import write_tfrecord

    rng = np.random.default_rng(9)
    lengths = rng.integers(1, 40, size=60)
    records = [{"id": f"v{i:03d}", "labels": np.array([0]), "rgb": np.full((t, 8), i, np.uint8),
                "audio": np.zeros((t, 4), np.uint8)} for i, t in enumerate(lengths)]
    for f in range(3):
        write_tfrecord(tmp_path / f"p{f}.tfrecord", records[f * 20:(f + 1) * 20])
    batch_size, window = 4, 2
    ds = YouTube8MTFRecordDataset(str(tmp_path / "*.tfrecord"), [{"name": "MultiHotLabels", "num_classes": 1}],
                                  feature_dims=(8, 4), shuffle=True, shuffle_buffer=4, seed=1, bucket_window=window)
    ds.set_batch_size(batch_size)
    expected = []
    for worker in range(2):
        stream = [len(r["rgb"]) for r in ds.iter_shard(0, 1, worker, 2)]
        for start in range(0, len(stream), batch_size * window):
            win = sorted(stream[start:start + batch_size * window])
            expected += [tuple(win[i:i + batch_size]) for i in range(0, len(win), batch_size)]
    got, ids = [], []
    for batch in build_dataloader(ds, batch_size, num_workers=2):
        got.append(tuple(sorted(batch["lengths"].numpy().tolist())))
        ids.extend(batch["rgb"].numpy()[:, 0, 0].tolist())
    assert sorted(ids) == list(range(60))
    assert sorted(got) == sorted(expected)
