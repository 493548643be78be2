"""Pipeline steps on one record dict: ``{"id": str, "labels": int64[L], <feature>: uint8[T, D], ...}``.

Every 2-D array in a record is a frame feature (``rgb``, ``audio`` ...); steps change those arrays
and the labels, and leave the bytes uint8 (dequantization happens in the model).
"""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np

from ...utils.registry import build
from ..registry import PIPELINES

Record = Dict[str, Any]


def frame_feature_keys(record: Mapping[str, Any]) -> List[str]:
    """Keys of the frame features of a record: the 2-D numpy arrays, in insertion order."""
    return [k for k, v in record.items() if isinstance(v, np.ndarray) and v.ndim == 2]


@PIPELINES.register()
class TruncateFrames:
    """Keep the first ``max_frames`` frames of every frame feature, as the YouTube-8M readers do
    (``num_frames = min(T, max_frames)``, YT8M.md §1.2).

    Args:
        max_frames: the most frames kept (YouTube-8M: 300).
    """

    def __init__(self, max_frames: int = 300) -> None:
        if int(max_frames) < 1:
            raise ValueError(f"max_frames must be >= 1, got {max_frames}")
        self.max_frames = int(max_frames)

    def __call__(self, record: Record) -> Record:
        for k in frame_feature_keys(record):
            record[k] = record[k][: self.max_frames]
        return record


@PIPELINES.register()
class MultiHotLabels:
    """Turn the label list into a float32 multi-hot vector ``[num_classes]`` (order and duplicates
    do not matter, as ``sparse.to_dense(validate_indices=False)`` in the starter code).

    Raises:
        ValueError: for a label outside ``[0, num_classes)``, naming the label and num_classes.
    """

    def __init__(self, num_classes: int) -> None:
        self.num_classes = int(num_classes)

    def __call__(self, record: Record) -> Record:
        labels = np.asarray(record["labels"], dtype=np.int64).reshape(-1)
        bad = labels[(labels < 0) | (labels >= self.num_classes)]
        if bad.size:
            raise ValueError(f"label {int(bad[0])} is outside [0, {self.num_classes}) (num_classes={self.num_classes})")
        multi_hot = np.zeros(self.num_classes, dtype=np.float32)
        multi_hot[labels] = 1.0
        record["labels"] = multi_hot
        return record


@PIPELINES.register()
class SampleFrames:
    """Sample ``seg_num`` frames per video, one per equal stride (legacy Paddle AttentionCluster reader).

    In training a uniformly random frame is taken in each stride ``[i*s, (i+1)*s)`` with
    ``s = T / seg_num``; in evaluation the frame at the stride centre. Videos shorter than ``seg_num``
    repeat frames. ``seg_num: null`` keeps all frames (the model then masks padding).

    Args:
        seg_num: frames per video, or None for all.
        mode: ``train`` (random within stride) or ``valid``/``test``/``infer`` (centre of stride).
        seed: seed of the sampler's own generator (random per record in training).
    """

    def __init__(self, seg_num: Optional[int] = 100, mode: str = "train", seed: Optional[int] = None) -> None:
        self.seg_num = None if seg_num is None else int(seg_num)
        self.train = mode == "train"
        self.rng = np.random.default_rng(seed)

    def __call__(self, record: Record) -> Record:
        keys = frame_feature_keys(record)
        if self.seg_num is None or not keys:
            return record
        n = len(record[keys[0]])
        if n == 0:
            return record
        stride = n / self.seg_num
        offset = self.rng.random(self.seg_num) if self.train else np.full(self.seg_num, 0.5)
        idx = np.minimum(n - 1, ((np.arange(self.seg_num) + offset) * stride).astype(np.int64))
        for k in keys:
            record[k] = record[k][idx]
        return record


class Compose:
    """Apply pipeline steps built from configs in order.

    Args:
        steps: list of step configs (``{name: TruncateFrames, max_frames: 300}``) or callables.

    Raises:
        KeyError / ValueError: an unknown step name or option (listing the valid ones).
    """

    def __init__(self, steps: Optional[Sequence[Any]] = None) -> None:
        self.steps = [s if callable(s) else build(s, PIPELINES) for s in (steps or [])]

    def __call__(self, record: Record) -> Record:
        for step in self.steps:
            record = step(record)
        return record
