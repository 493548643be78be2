"""Segment inference: score every 5-frame window of each video and feed a Kaggle submission, streaming.

Windows follow google/youtube-8m ``inference.get_segments`` (``--segment_labels``): a video of ``n`` stored
frames is cut into windows starting at 0, 5, 10, ... below ``min(n, 300)``; a window holds frames
``start .. start + 4``, and the last one may be short: it then has ``n - start`` frames (the starter pads it
with zero rows and passes ``num_frames = n - start``; here the window is batched with its length, and the
model masks the padding). The segment id is ``"<video id>:<start>"``.

Memory: one batch of windows at a time, plus the submission writer's bounded per-class ranking
(:class:`~paddlevideo.inference.segment_submission.SegmentSubmissionWriter`); nothing grows with the number
of videos.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import numpy as np

from ..loader.pipelines import collate_frames
from ..loader.pipelines.frames import frame_feature_keys
from .runner import StageTimer
from .segment_submission import SegmentSubmissionWriter

__all__ = ["iter_segment_windows", "predict_segments"]


def iter_segment_windows(records: Iterable[Mapping[str, Any]], segment_size: int = 5, max_frames: int = 300
                         ) -> Iterator[tuple[str, int, dict[str, np.ndarray]]]:
    """The windows of every video.

    Args:
        records: video dicts ``{"id": str, <feature>: uint8 [T, D], ...}`` (other keys are ignored).
        segment_size: frames per window (5: one window is 5 seconds).
        max_frames: windows start below ``min(T, max_frames)`` (the starter reader's 300).

    Yields:
        ``(video id, start, {<feature>: uint8 [w, D]})`` with ``w = min(segment_size, T - start)``, videos in
        input order, starts ascending.

    Raises:
        ValueError: ``segment_size`` or ``max_frames`` below 1.

    Source: google/youtube-8m ``inference.get_segments``.
    """
    if segment_size < 1 or max_frames < 1:
        raise ValueError(f"segment_size and max_frames must be >= 1, got {segment_size}, {max_frames}")
    for rec in records:
        keys = frame_feature_keys(rec)
        n = min((len(rec[k]) for k in keys), default=0)
        vid = rec["id"].decode("utf-8") if isinstance(rec["id"], bytes) else str(rec["id"])
        for start in range(0, min(n, max_frames), segment_size):
            yield vid, start, {k: rec[k][start:min(start + segment_size, n)] for k in keys}


def predict_segments(records: Iterable[Mapping[str, Any]], run: Callable[[Mapping[str, np.ndarray]], np.ndarray],
                     writer: SegmentSubmissionWriter, batch_size: int = 256, segment_size: int = 5,
                     max_frames: int = 300, timer: StageTimer | None = None,
                     on_video: Callable[[str], None] | None = None) -> dict[str, int]:
    """Score the windows of ``records`` in batches with ``run`` and add them to ``writer``.

    Args:
        records: video dicts (see :func:`iter_segment_windows`).
        run: batch -> probabilities float32 [B, C] (``Predictor.run`` or an eager model wrapper); the batch is
            :func:`~paddlevideo.loader.pipelines.collate_frames` of the windows (features padded to the longest
            window, ``lengths`` int64 [B]).
        writer: receives ``(video ids, starts, probabilities)`` per batch.
        batch_size: windows per batch.
        segment_size / max_frames: see :func:`iter_segment_windows`.
        timer: collects per-stage seconds (``videos`` counts windows here).
        on_video: called with each video id once its windows are taken (progress).

    Returns:
        ``{"videos": videos read, "windows": windows scored}``.

    Raises:
        ValueError: ``batch_size < 1``; errors of the reader and of ``run`` pass through.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    timer = timer if timer is not None else StageTimer()
    counts = {"videos": 0, "windows": 0}

    def counted() -> Iterator[Mapping[str, Any]]:
        for rec in records:
            counts["videos"] += 1
            yield rec
            if on_video is not None:
                on_video(str(rec.get("id", "")))

    windows = iter_segment_windows(counted(), segment_size, max_frames)
    while True:
        t0 = time.perf_counter()
        ids: list[str] = []
        starts: list[int] = []
        feats: list[dict[str, np.ndarray]] = []
        for vid, start, window in windows:
            ids.append(vid)
            starts.append(start)
            feats.append(window)
            if len(feats) == batch_size:
                break
        if not feats:
            return counts
        batch = collate_frames(feats)
        t1 = time.perf_counter()
        probs = np.asarray(run(batch))
        t2 = time.perf_counter()
        writer.add(ids, starts, probs)
        t3 = time.perf_counter()
        timer.seconds["preprocess"] += t1 - t0
        timer.seconds["inference"] += t2 - t1
        timer.seconds["postprocess"] += t3 - t2
        timer.videos += len(feats)
        timer.batches += 1
        counts["windows"] += len(feats)
