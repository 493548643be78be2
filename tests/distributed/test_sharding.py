"""Exactly-once sharding of TFRecord records across ranks, steps and loader workers."""
from __future__ import annotations

import itertools
import math
import os

import numpy as np
import pytest

from paddlevideo.loader.datasets.sharding import locate, num_global_steps, rank_step_ranges, worker_ranges
from paddlevideo.loader.datasets.yt8m_tfrecord import YouTube8MTFRecordDataset
from paddlevideo.loader.yt8m import iter_records, read_tfrecord
from paddlevideo.loader.yt8m.tfrecord import index_tfrecord
from tests.tasks.tiny_setup import make_tiny_data


@pytest.mark.parametrize("total,world,batch", [(0, 2, 3), (1, 2, 4), (37, 2, 4), (40, 2, 4), (41, 4, 5),
                                               (7, 8, 1), (100, 3, 7)])
def test_step_ranges_cover_every_record_once_with_equal_step_counts(total, world, batch):
    steps = math.ceil(total / (world * batch)) if total else 0
    assert num_global_steps(total, world, batch) == steps
    covered = []
    for rank in range(world):
        ranges = rank_step_ranges(total, world, batch, rank)
        assert len(ranges) in (steps, steps - 1)
        assert all(0 < stop - start <= batch for start, stop in ranges)
        for nw in (1, 3):
            parts = [worker_ranges(ranges, w, nw) for w in range(nw)]
            assert sorted(itertools.chain(*parts)) == sorted(ranges)
        covered += [i for start, stop in ranges for i in range(start, stop)]
    assert sorted(covered) == list(range(total))


def test_locate_maps_global_ranges_onto_files():
    counts = [3, 0, 4, 2]
    flat = [(f, i) for f, n in enumerate(counts) for i in range(n)]  # independent expectation
    for start in range(len(flat) + 1):
        for stop in range(start, len(flat) + 1):
            got = [(f, i) for f, a, b in locate(start, stop, counts) for i in range(a, b)]
            assert got == flat[start:stop]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("shard_data"))
    ids = make_tiny_data(d, train_videos=37, valid_videos=13, train_shards=3, valid_shards=2)
    return d, ids


def test_index_matches_the_framing_reader(data):
    d, _ = data
    path = os.path.join(d, "train0000.tfrecord")
    fi = index_tfrecord(path)
    assert fi.problem is None
    assert fi.offsets.tolist() == [off for _, off, _ in iter_records(path)]
    assert fi.lengths.tolist() == [len(p) for _, _, p in iter_records(path)]


@pytest.mark.parametrize("world,workers,batch,shuffle", [(1, 1, 4, False), (2, 1, 4, True), (2, 3, 4, True),
                                                         (3, 2, 5, False), (4, 2, 16, True)])
def test_every_record_read_exactly_once_per_epoch(data, world, workers, batch, shuffle):
    d, ids = data
    expected = sorted(r["id"] for p in sorted(os.listdir(d)) if p.startswith("train")
                      for r in read_tfrecord(os.path.join(d, p)))
    assert expected == sorted(ids["train"])
    ds = YouTube8MTFRecordDataset(os.path.join(d, "train*.tfrecord"), shuffle=shuffle, shuffle_buffer=5, seed=3)
    ds.set_batch_size(batch)
    for epoch in (1, 2):
        ds.set_epoch(epoch)
        seen = []
        per_rank_batches = []
        for rank in range(world):
            batches = 0
            for w in range(workers):
                n = len([r["id"] for r in ds.iter_shard(rank, world, w, workers)])
                seen += [r["id"] for r in ds.iter_shard(rank, world, w, workers)]
                batches += math.ceil(n / batch)
            per_rank_batches.append(batches)
        assert sorted(seen) == expected
        steps = ds.num_steps(world)
        assert all(b in (steps, steps - 1) for b in per_rank_batches), per_rank_batches


def test_dataloader_workers_under_two_ranks_see_each_id_once(data, monkeypatch):
    """End to end through paddle.io.DataLoader worker processes, with the launcher's rank variables."""
    from paddle.io import DataLoader

    d, ids = data
    seen = []
    for rank in range(2):
        monkeypatch.setenv("PADDLE_TRAINER_ID", str(rank))
        monkeypatch.setenv("PADDLE_TRAINERS_NUM", "2")
        ds = YouTube8MTFRecordDataset(os.path.join(d, "train*.tfrecord"), shuffle=True, shuffle_buffer=4, seed=1)
        ds.set_batch_size(4)
        ds.set_epoch(1)
        loader = DataLoader(ds, batch_size=4, num_workers=2,
                            collate_fn=lambda recs: {"n": np.array([int(r["id"][1:]) for r in recs], "int64")})
        seen += [int(v) for b in loader for v in np.asarray(b["n"]).reshape(-1)]
    assert sorted(seen) == sorted(int(i[1:]) for i in ids["train"])
