"""Prediction over a stream of videos: batch, pad, run the predictor, take the top-k; per-stage timings.

Videos are truncated to ``max_frames`` (``TruncateFrames``) and batched with ``collate_frames``, which pads
each batch to its own longest video; the model masks the padding, so a video's scores do not depend on
the batch it lands in.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..loader.pipelines import TruncateFrames, collate_frames
from .results import format_result, top_k

__all__ = ["StageTimer", "predict_stream"]


@dataclass
class StageTimer:
    """Wall-clock seconds spent per stage (``preprocess``, ``inference``, ``postprocess``) and videos seen."""

    seconds: dict[str, float] = field(default_factory=lambda: {"preprocess": 0.0, "inference": 0.0,
                                                                "postprocess": 0.0})
    videos: int = 0
    batches: int = 0

    def summary(self) -> dict[str, Any]:
        """Totals and per-video milliseconds of each stage."""
        per_video = {k: 1000.0 * v / max(self.videos, 1) for k, v in self.seconds.items()}
        return {"videos": self.videos, "batches": self.batches, "total_s": dict(self.seconds),
                "ms_per_video": per_video}


def predict_stream(records: Iterable[tuple[str, dict[str, Any]]], run: Callable[[Mapping[str, np.ndarray]], np.ndarray],
                   batch_size: int = 1, max_frames: int = 300, k: int = 5,
                   label_names: Mapping[int, str] | None = None, warmup: int = 0,
                   timer: StageTimer | None = None,
                   pipeline: Callable[[dict[str, Any]], dict[str, Any]] | None = None
                   ) -> Iterator[tuple[str, dict[str, Any]]]:
    """Predict every ``(file, record)`` of ``records``.

    Args:
        records: ``(source file, record dict)`` pairs (:func:`paddlevideo.inference.inputs.iter_input_records`).
        run: batch -> probabilities float32 [B, C] (``Predictor.run`` or an eager model wrapper).
        batch_size: videos per batch.
        max_frames: frames kept per video (the first ones).
        k: how many classes to report per video.
        label_names: optional ``{class: name}``.
        warmup: run the first batch this many extra times before timing (for ``--enable_benchmark``).
        timer: collects per-stage seconds when given.
        pipeline: record -> record preprocessing applied before batching (the exported model's
            inference pipeline, e.g. ``TruncateFrames`` then ``SampleFrames``); default
            ``TruncateFrames(max_frames)``.

    Yields:
        ``(printable text, result dict)`` per video, in input order; the dict has ``file``, ``id``,
        ``top_k_classes``, ``top_k_scores`` (sigmoid probabilities), ``top_k_labels`` with a label file,
        and ``labels`` (the ground-truth classes stored in the input).

    Raises:
        ValueError: ``batch_size < 1`` or bad ``k``; errors of the reader and of ``run`` pass through.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    prepare = pipeline if pipeline is not None else TruncateFrames(max_frames)
    timer = timer if timer is not None else StageTimer()
    stream = iter(records)
    first = True
    while True:
        t0 = time.perf_counter()
        chunk: list[tuple[str, dict[str, Any]]] = []
        for item in stream:
            chunk.append(item)
            if len(chunk) == batch_size:
                break
        if not chunk:
            return
        inputs = [prepare({k2: v for k2, v in rec.items() if k2 != "labels"}) for _, rec in chunk]
        batch = collate_frames(inputs)
        preprocess = time.perf_counter() - t0
        if first:
            for _ in range(warmup):
                run(batch)
            first = False
        t1 = time.perf_counter()
        probs = run(batch)
        t2 = time.perf_counter()
        classes, scores = top_k(probs, k)
        outputs = []
        for (source, rec), c, s in zip(chunk, classes, scores):
            text, entry = format_result(source, str(rec["id"]), c, s, label_names)
            entry["labels"] = [int(x) for x in np.asarray(rec.get("labels", []), dtype=np.int64).reshape(-1)]
            outputs.append((text, entry))
        t3 = time.perf_counter()
        timer.seconds["preprocess"] += preprocess
        timer.seconds["inference"] += t2 - t1
        timer.seconds["postprocess"] += t3 - t2
        timer.videos += len(chunk)
        timer.batches += 1
        yield from outputs
