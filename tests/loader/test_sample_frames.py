"""SampleFrames (legacy Paddle AttentionCluster frame sampling) against hand-computed indices."""
from __future__ import annotations

import numpy as np
import pytest

from paddlevideo.loader.pipelines.frames import SampleFrames


def _record(n: int) -> dict:
    """Frame t of rgb holds t in every column, and of audio 255 - t, so sampled rows reveal their index."""
    t = np.arange(n, dtype=np.uint8)
    return {"id": "v", "labels": np.array([1], np.int64),
            "rgb": np.repeat(t[:, None], 4, axis=1), "audio": np.repeat((255 - t)[:, None], 2, axis=1)}


def test_evaluation_takes_stride_centres():
    # T = 10, seg_num = 4: stride 2.5, centres 1.25, 3.75, 6.25, 8.75 -> frames 1, 3, 6, 8.
    out = SampleFrames(seg_num=4, mode="valid")(_record(10))
    assert out["rgb"][:, 0].tolist() == [1, 3, 6, 8]
    assert (255 - out["audio"][:, 0]).tolist() == [1, 3, 6, 8]         # same frames for every feature
    assert out["rgb"].dtype == np.uint8 and out["rgb"].shape == (4, 4)


def test_training_takes_one_frame_inside_each_stride():
    step = SampleFrames(seg_num=7, mode="train", seed=0)
    seen = set()
    for _ in range(200):
        idx = step(_record(30))["rgb"][:, 0].astype(int)
        stride = 30 / 7
        lo = np.floor(np.arange(7) * stride).astype(int)
        hi = np.ceil((np.arange(7) + 1) * stride).astype(int)
        assert np.all(idx >= lo) and np.all(idx < hi)
        seen.update(idx[:1].tolist())
    assert seen == {0, 1, 2, 3, 4}                 # the first stride [0, 4.29) is covered at random


def test_short_videos_repeat_frames_and_keep_seg_num():
    out = SampleFrames(seg_num=5, mode="test")(_record(2))
    # stride 0.4: centres 0.2, 0.6, 1.0, 1.4, 1.8 -> 0, 0, 1, 1, 1
    assert out["rgb"][:, 0].tolist() == [0, 0, 1, 1, 1]
    assert SampleFrames(seg_num=5, mode="train", seed=1)(_record(1))["rgb"][:, 0].tolist() == [0] * 5


def test_seed_none_follows_numpy_global_generator():
    step = SampleFrames(seg_num=6, mode="train")
    np.random.seed(5)
    a = step(_record(50))["rgb"][:, 0]
    np.random.seed(5)
    b = step(_record(50))["rgb"][:, 0]
    np.random.seed(6)
    c = step(_record(50))["rgb"][:, 0]
    assert a.tolist() == b.tolist() and a.tolist() != c.tolist()


def test_all_frames_and_empty_videos_pass_through():
    rec = _record(9)
    assert SampleFrames(seg_num=None)(rec)["rgb"].shape == (9, 4)
    assert SampleFrames(seg_num=3, mode="valid")(_record(0))["rgb"].shape == (0, 4)


def test_invalid_options():
    with pytest.raises(ValueError, match="seg_num"):
        SampleFrames(seg_num=0)
    with pytest.raises(ValueError, match="mode"):
        SampleFrames(seg_num=3, mode="eval")
