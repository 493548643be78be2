"""The batch contract: collate passes the extra keys a dataset declares, refuses undeclared or ragged ones,
and the dataset classes implement the protocol the tasks use."""
from __future__ import annotations

import numpy as np
import pytest

from paddlevideo.loader.datasets.base import ShardedVideoDataset
from paddlevideo.loader.datasets.protocol import VideoDataset, check_dataset
from paddlevideo.loader.datasets.yt8m_pkl import YouTube8MPklDataset
from paddlevideo.loader.datasets.yt8m_tfrecord import YouTube8MTFRecordDataset
from paddlevideo.loader.pipelines import collate_frames


def _records(n, num_classes=5, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        t = int(rng.integers(1, 7))
        out.append({"id": f"v{i}", "labels": (rng.random(num_classes) < 0.4).astype(np.float32),
                    "rgb": rng.integers(0, 256, (t, 8)).astype(np.uint8),
                    "audio": rng.integers(0, 256, (t, 2)).astype(np.uint8),
                    "label_weights": rng.random(num_classes).astype(np.float32)})
    return out


def test_declared_extra_key_is_stacked_unchanged():
    recs = _records(4)
    batch = collate_frames(recs, extra_keys=("label_weights",))
    assert batch["label_weights"].dtype == np.float32 and batch["label_weights"].shape == (4, 5)
    np.testing.assert_array_equal(batch["label_weights"], np.stack([r["label_weights"] for r in recs]))
    # the rest of the batch is what it is without the extra key
    plain = collate_frames([{k: v for k, v in r.items() if k != "label_weights"} for r in recs])
    assert set(batch) == set(plain) | {"label_weights"}
    for k in plain:
        np.testing.assert_array_equal(batch[k], plain[k])


def test_undeclared_key_is_refused_with_its_name():
    with pytest.raises(ValueError, match=r"video 'v0' has key\(s\) \['label_weights'\].*extra_keys \[\]"):
        collate_frames(_records(2))


def test_ragged_declared_key_is_refused():
    recs = _records(3)
    recs[2]["label_weights"] = recs[2]["label_weights"][:3]
    with pytest.raises(ValueError,
                       match=r"'label_weights' is ragged: video 'v2' has shape \(3,\), video 'v0' has \(5,\)"):
        collate_frames(recs, extra_keys=("label_weights",))


def test_declared_key_missing_from_a_record_is_refused():
    recs = _records(2)
    del recs[1]["label_weights"]
    with pytest.raises(ValueError, match=r"video 'v1' has no 'label_weights'"):
        collate_frames(recs, extra_keys=("label_weights",))


class _WeightedDataset(ShardedVideoDataset):
    """A format that declares label_weights: its collate (the base's) passes them through."""

    extra_keys = ("label_weights",)

    def __init__(self):
        super().__init__(None, ["rgb", "audio"], [8, 2], False, 1, 0, 0)


def test_dataset_collate_uses_the_declared_keys():
    recs = _records(3, seed=1)
    ds = _WeightedDataset()
    batch = ds.collate(recs)
    np.testing.assert_array_equal(batch["label_weights"], np.stack([r["label_weights"] for r in recs]))
    assert ShardedVideoDataset.extra_keys == ()  # the YouTube-8M formats declare none: the key is refused
    with pytest.raises(ValueError, match="has key"):
        collate_frames(recs, ShardedVideoDataset.extra_keys)


def test_dataset_classes_implement_the_protocol_and_others_are_named():
    for cls in (YouTube8MTFRecordDataset, YouTube8MPklDataset, _WeightedDataset):
        for member in ("extra_keys", "set_batch_size", "num_steps", "set_epoch", "begin_pass", "collate",
                       "recorded_error", "pop_skipped"):
            assert callable(getattr(cls, member)) or member == "extra_keys", (cls, member)
    assert isinstance(_WeightedDataset(), VideoDataset)

    class NotADataset:
        def collate(self, records):
            return {}

    assert not isinstance(NotADataset(), VideoDataset)
    with pytest.raises(TypeError, match=r"DATASET.train: dataset NotADataset does not implement the dataset contract"
                                        r".*missing: extra_keys, set_batch_size, num_steps, set_epoch, begin_pass, "
                                        r"recorded_error, pop_skipped$"):
        check_dataset(NotADataset(), "DATASET.train")
