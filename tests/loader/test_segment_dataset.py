"""YouTube8MSegmentDataset through paddle's DataLoader (0 and 2 workers) and across ranks, against the
starter reader's rows that TensorFlow computed for ``tests/data/segment/validate0000.tfrecord``."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from paddlevideo.loader.builder import build_dataloader, build_dataset
from paddlevideo.loader.datasets.yt8m_segment import YouTube8MSegmentDataset
from paddlevideo.loader.yt8m.quantization import dequantize_numpy
from paddlevideo.loader.yt8m.segments import SegmentLabelError, encode_segment_example
from paddlevideo.loader.yt8m.tfrecord import FOOTER_SIZE, HEADER_SIZE, write_records
from paddlevideo.tasks.evaluate import _per_video_entries
from paddlevideo.tasks.loop import iterate_batches

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "segment" / "validate0000.tfrecord"


def expected_rows():
    """The starter's rows with at least one real frame, keyed (id, start)."""
    z = np.load(FIXTURE.with_name("validate0000.expected.npz"))
    rows = {}
    for k in np.flatnonzero(z["example_valid_frames"] > 0):
        vid = z["ids"][z["example_video"][k]].decode()
        rows[(vid, int(z["example_start"][k]))] = (z["example_matrix"][k], z["example_labels"][k],
                                                   z["example_label_weights"][k], int(z["example_valid_frames"][k]))
    return rows


@pytest.mark.parametrize("workers", [0, 2])
def test_loader_batches_hold_every_example_once_with_the_reader_values(workers):
    rows = expected_rows()
    ds = YouTube8MSegmentDataset(str(FIXTURE), num_classes=3862)
    ds.set_batch_size(4)
    assert ds.num_steps(1) == 3 and ds.num_records() == 9 == len(rows)
    seen = []
    for batch in iterate_batches(build_dataloader(ds, 4, workers), ds):
        assert batch["segment_start"].numpy().dtype == np.int64
        entries = _per_video_entries(batch)         # what a metric's update() receives
        assert entries["id"].dtype.kind == "U" and entries["id"].tolist() == batch["id"]
        rgb, audio = batch["rgb"].numpy(), batch["audio"].numpy()
        for b, (vid, start) in enumerate(zip(batch["id"], entries["segment_start"].tolist())):
            matrix, labels, weights, valid = rows[(vid, start)]
            n = int(batch["lengths"].numpy()[b])
            assert n == valid
            ours = np.zeros((5, 1152), np.float32)
            ours[:n] = np.concatenate([dequantize_numpy(rgb[b, :n]), dequantize_numpy(audio[b, :n])], axis=1)
            assert ours.tobytes() == matrix.tobytes()
            assert batch["labels"].numpy()[b].tobytes() == labels.tobytes()
            assert entries["label_weights"][b].tobytes() == weights.tobytes()
            seen.append((vid, start))
    assert sorted(seen) == sorted(rows)
    assert [s[2:4] for s in ds.skipped_starts] == [("Zf1C", 65)]


def test_ranks_and_workers_split_the_examples_exactly_once():
    ds = YouTube8MSegmentDataset([str(FIXTURE), str(FIXTURE)], num_classes=3862, shuffle=True, seed=3)
    ds.set_batch_size(2)
    got = []
    for rank in range(2):
        for worker in range(2):
            got += [(e["id"], int(e["segment_start"])) for e in ds.iter_shard(rank, 2, worker, 2)]
    assert sorted(got) == sorted(list(expected_rows()) * 2)
    assert ds.num_steps(2) == 5   # ceil(18 / (2 * 2))


def test_num_classes_comes_from_the_head_when_the_dataset_does_not_set_it():
    cfg = {"MODEL": {"head": {"num_classes": 3862}},
           "DATASET": {"valid": {"format": "YouTube8MSegmentDataset", "file_pattern": str(FIXTURE)}}}
    ds = build_dataset(cfg, "valid")
    assert ds.num_classes == 3862
    cfg["MODEL"]["head"]["num_classes"] = 800   # record 0 rates class 887 at position 3
    with pytest.raises(SegmentLabelError, match=r"record 0 at byte 0: segment_labels: class 887 at position 3 is "
                                                r"outside \[0, 800\) \(num_classes=800\)$"):
        build_dataset(cfg, "valid").begin_pass()


def _bad_copy(tmp_path):
    """The fixture plus a record whose segment lists differ in length; returns path and its offset."""
    path = tmp_path / "seg.tfrecord"
    shutil.copy(FIXTURE, path)
    good = path.read_bytes()
    frames = {"rgb": np.ones((9, 1024), np.uint8), "audio": np.ones((9, 128), np.uint8)}
    bad = encode_segment_example("badv", [1], frames, [0, 5], [1, 2], [1.0])
    write_records(tmp_path / "bad.tfrecord", [bad])
    path.write_bytes(good + (tmp_path / "bad.tfrecord").read_bytes())
    assert len(bad) + HEADER_SIZE + FOOTER_SIZE == (tmp_path / "bad.tfrecord").stat().st_size
    return path, len(good)


def test_broken_segment_lists_raise_or_are_skipped_and_reported(tmp_path):
    path, offset = _bad_copy(tmp_path)
    ds = YouTube8MSegmentDataset(str(path), num_classes=3862)
    with pytest.raises(SegmentLabelError) as info:
        ds.begin_pass()
    assert str(info.value) == (f"{path}: record 6 at byte {offset}: segment_scores: has 1 values but segment_labels "
                               "has 2; the segment lists must be parallel (one position per rated segment and class)")
    ds = YouTube8MSegmentDataset(str(path), num_classes=3862, skip_corrupt=True)
    ds.set_batch_size(3)
    got = [(b["id"], b["segment_start"].numpy().tolist()) for b in iterate_batches(build_dataloader(ds, 3, 0), ds)]
    assert sum(len(i) for i, _ in got) == 9
    (skip,) = ds.pop_skipped()
    assert (skip["path"], skip["index"], skip["offset"], skip["type"]) == (str(path), 6, offset, "SegmentLabelError")
