"""Pipeline steps on one record dict: ``{"id": str, "labels": int64[L], <feature>: uint8[T, D], ...}``.

Every 2-D array in a record is a frame feature (``rgb``, ``audio`` ...); steps change those arrays
and the labels, and leave the bytes uint8 (dequantization happens in the model).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ...utils.registry import build
from ...utils.types import NonNegativeInt, PositiveInt
from ..registry import PIPELINES

Record = dict[str, Any]


def frame_feature_keys(record: Mapping[str, Any]) -> list[str]:
    """Keys of the frame features of a record: the 2-D numpy arrays, in insertion order."""
    return [k for k, v in record.items() if isinstance(v, np.ndarray) and v.ndim == 2]


@PIPELINES.register()
class TruncateFrames:
    """Keep the first ``max_frames`` frames of every frame feature, as the YouTube-8M readers do
    (``num_frames = min(T, max_frames)``, docs/youtube8m_format.md#reader-behaviour).

    Args:
        max_frames: the most frames kept (YouTube-8M: 300).
    """

    def __init__(self, max_frames: PositiveInt = 300) -> None:
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

    #: This step needs ground-truth labels: inference pipelines (export, predict) leave it out.
    uses_labels = True

    def __init__(self, num_classes: PositiveInt) -> None:
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

    With ``T`` frames and ``s = T / seg_num``, frame ``i`` of the output is
    ``min(T - 1, floor((i + u_i) * s))``: in training ``u_i ~ U[0, 1)`` (one random frame in each stride,
    as the legacy reader), in evaluation ``u_i = 0.5`` (the stride centre; the legacy reader samples at
    random in every mode). Videos shorter than ``seg_num`` repeat frames, so every output has exactly
    ``seg_num`` frames. ``seg_num: null`` keeps all frames (the model then masks the padding).
    All frame features of the record (rgb, audio ...) are sampled at the same indices.

    Args:
        seg_num: frames per video, or None for all.
        mode: ``train`` (random within stride) or ``valid``/``test``/``infer`` (centre of stride).
        seed: None (default) draws from numpy's global generator, which the training loop seeds and
            Paddle's DataLoader re-seeds differently in every worker and every epoch; an int gives the
            step its own reproducible generator (for tests: worker copies then share its sequence).

    Input/output: a record dict with uint8 [T, D] frame features; a video with 0 frames is passed
    through unchanged.

    Raises:
        ValueError: for ``seg_num < 1`` or an unknown mode.
    """

    _MODES = ("train", "valid", "test", "infer")

    def __init__(self, seg_num: PositiveInt | None = 100, mode: str = "train",
                 seed: NonNegativeInt | None = None) -> None:
        if seg_num is not None and int(seg_num) < 1:
            raise ValueError(f"seg_num must be >= 1 or null, got {seg_num}")
        if mode not in self._MODES:
            raise ValueError(f"unknown mode {mode!r}; valid: {', '.join(self._MODES)}")
        self.seg_num = None if seg_num is None else int(seg_num)
        self.train = mode == "train"
        self.rng = None if seed is None else np.random.default_rng(seed)

    def indices(self, num_frames: int) -> np.ndarray:
        """Frame indices int64 [seg_num] for a video of ``num_frames >= 1`` frames."""
        if self.train:
            offset = self.rng.random(self.seg_num) if self.rng is not None else np.random.random(self.seg_num)
        else:
            offset = np.full(self.seg_num, 0.5)
        stride = num_frames / self.seg_num
        return np.minimum(num_frames - 1, ((np.arange(self.seg_num) + offset) * stride).astype(np.int64))

    def __call__(self, record: Record) -> Record:
        keys = frame_feature_keys(record)
        if self.seg_num is None or not keys:
            return record
        n = len(record[keys[0]])
        if n == 0:
            return record
        idx = self.indices(n)
        for k in keys:
            record[k] = record[k][idx]
        return record


def inference_steps(steps: Sequence[Any] | None) -> list[dict[str, Any]]:
    """The step configs of ``steps`` that do not need labels (``uses_labels``), for inference.

    Args:
        steps: pipeline step configs (``{name: ..., ...}``), e.g. a config's ``PIPELINE.test``.

    Returns:
        Plain-dict copies of the steps to apply to unlabeled videos, in order.

    Raises:
        KeyError: an unknown step name (listing the valid ones).
    """
    kept = []
    for step in steps or []:
        if not getattr(PIPELINES.get(step["name"]), "uses_labels", False):
            kept.append(dict(step))
    return kept


class Compose:
    """Apply pipeline steps built from configs in order.

    Args:
        steps: list of step configs (``{name: TruncateFrames, max_frames: 300}``) or callables.

    Raises:
        KeyError / ValueError: an unknown step name or option (listing the valid ones).
    """

    def __init__(self, steps: Sequence[Any] | None = None) -> None:
        self.steps = [s if callable(s) else build(s, PIPELINES) for s in (steps or [])]

    def __call__(self, record: Record) -> Record:
        for step in self.steps:
            record = step(record)
        return record
