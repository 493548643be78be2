"""Pipeline steps and collate against direct numpy expectations."""
from __future__ import annotations

import numpy as np
import pytest

from paddlevideo.loader.pipelines import Compose, MultiHotLabels, TruncateFrames, collate_frames


def _record(vid, t, labels, rng):
    return {"id": vid, "labels": np.asarray(labels, np.int64),
            "rgb": rng.integers(0, 256, (t, 16)).astype(np.uint8),
            "audio": rng.integers(0, 256, (t, 4)).astype(np.uint8)}


def test_truncate_keeps_first_frames_of_every_feature():
    rng = np.random.default_rng(0)
    r = _record("a", 350, [1], rng)
    rgb, audio = r["rgb"].copy(), r["audio"].copy()
    out = TruncateFrames(300)(r)
    assert out["rgb"].shape == (300, 16) and out["audio"].shape == (300, 4)
    np.testing.assert_array_equal(out["rgb"], rgb[:300])
    np.testing.assert_array_equal(out["audio"], audio[:300])
    short = TruncateFrames(300)(_record("b", 7, [1], rng))
    assert short["rgb"].shape == (7, 16)


def test_multi_hot_ignores_order_and_duplicates():
    out = MultiHotLabels(6)({"labels": np.array([5, 0, 5, 2], np.int64)})
    np.testing.assert_array_equal(out["labels"], np.array([1, 0, 1, 0, 0, 1], np.float32))
    assert out["labels"].dtype == np.float32
    empty = MultiHotLabels(3)({"labels": np.zeros(0, np.int64)})
    np.testing.assert_array_equal(empty["labels"], np.zeros(3, np.float32))


def test_label_out_of_range_is_named():
    with pytest.raises(ValueError, match=r"label 6 is outside \[0, 6\)"):
        MultiHotLabels(6)({"labels": np.array([1, 6], np.int64)})


def test_compose_from_config_and_collate_pads_to_longest():
    rng = np.random.default_rng(1)
    pipe = Compose([{"name": "TruncateFrames", "max_frames": 5}, {"name": "MultiHotLabels", "num_classes": 4}])
    recs = [pipe(_record(v, t, lab, rng)) for v, t, lab in (("a", 3, [0]), ("b", 9, [1, 3]), ("c", 1, []))]
    batch = collate_frames(recs)
    assert batch["rgb"].shape == (3, 5, 16) and batch["rgb"].dtype == np.uint8
    assert batch["audio"].shape == (3, 5, 4) and batch["audio"].dtype == np.uint8
    np.testing.assert_array_equal(batch["lengths"], np.array([3, 5, 1], np.int64))
    assert batch["lengths"].dtype == np.int64
    for i, r in enumerate(recs):
        n = batch["lengths"][i]
        np.testing.assert_array_equal(batch["rgb"][i, :n], r["rgb"])
        assert not batch["rgb"][i, n:].any() and not batch["audio"][i, n:].any()
    np.testing.assert_array_equal(batch["labels"], np.array([[1, 0, 0, 0], [0, 1, 0, 1], [0, 0, 0, 0]], np.float32))


def test_unknown_step_lists_valid_names():
    with pytest.raises(KeyError, match="Valid names"):
        Compose([{"name": "TruncateFrame", "max_frames": 3}])
