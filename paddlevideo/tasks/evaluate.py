"""Evaluation over a whole split: loss and the streaming metrics of ``METRIC``, gathered across ranks."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import paddle
from tqdm import tqdm

from ..metrics.base import BaseMetric
from ..metrics.group import MetricGroup
from ..utils.dist import all_gather_objects
from ..utils.dist import rank as dist_rank
from .loop import iterate_batches


def build_metric(cfg: Mapping[str, Any], num_classes: int) -> MetricGroup:
    """Build ``METRIC`` (one metric or a list; default ``YouTube8MMetric`` with top_k 20) for
    ``num_classes`` classes, as a :class:`~paddlevideo.metrics.group.MetricGroup` that also holds the
    best-checkpoint rule (``METRIC.save_best`` / ``mode``).

    Raises:
        ConfigError: see :func:`paddlevideo.metrics.group.plan_metrics`.
    """
    from .. import metrics  # noqa: F401  (registration)

    return MetricGroup.from_config(cfg.get("METRIC"), num_classes)


def _per_video_entries(batch: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The batch entries a metric may use besides the labels: those of at most 2 dimensions (``lengths``
    int64 [B], per-class weights [B, C] ...), as numpy, and lists of strings (the segment dataset's ``id``) as
    numpy str arrays [B]; frame features [B, T, D] are left out."""
    out: dict[str, np.ndarray] = {}
    for k, v in batch.items():
        if k != "labels" and len(getattr(v, "shape", ())) in (1, 2):
            out[k] = v.numpy() if hasattr(v, "numpy") else np.asarray(v)
        elif isinstance(v, (list, tuple)) and v and all(isinstance(x, str) for x in v):
            out[k] = np.asarray(v, dtype=str)
    return out


@paddle.no_grad()
def evaluate(model: paddle.nn.Layer, loader: Any, metric: BaseMetric, mode: str = "valid",
             dataset: Any = None) -> dict[str, float]:
    """Run ``model`` over ``loader`` in eval mode and return the metrics of the whole split.

    Under ``paddle.distributed.launch`` each rank evaluates its shard of the split and the metric states
    are gathered (:meth:`~paddlevideo.metrics.base.BaseMetric.sync_across_ranks`); every rank returns the
    same numbers.

    Args:
        model: a recognizer (``forward(batch, mode)``); pass the bare model, not the ``DataParallel``
            wrapper (evaluation needs no gradient synchronisation).
        loader: yields batches with features, ``lengths`` and ``labels``.
        metric: a :class:`~paddlevideo.metrics.base.BaseMetric` (e.g. the group of :func:`build_metric`);
            each batch is fed as ``update(probs, labels, **per-video entries)``.
        mode: ``valid`` or ``test``.
        dataset: the loader's dataset, for corrupt-record errors raised in loader workers.

    Returns:
        the metric's declared keys, ``num_videos`` (videos evaluated over all ranks) and ``loss`` (the
        mean over all batches of all ranks of the configured loss).

    Raises:
        CorruptRecordError: a corrupt record in the split (unless the dataset skips them).
    """
    was_training = model.training
    model.eval()
    metric.reset()
    total_loss, batches, videos = 0.0, 0, 0
    # Progress bar on rank 0 when stderr is a terminal only (disable=None), cleared when done: logs stay clean.
    bar = tqdm(iterate_batches(loader, dataset), desc=f"[{mode}]", unit="batch", leave=False,
               disable=None if dist_rank() == 0 else True)
    for batch in bar:
        out = model(batch, mode)
        labels = batch["labels"].numpy()
        metric.update(out["probs"].numpy(), labels, **_per_video_entries(batch))
        total_loss += float(out["loss"].item())
        batches += 1
        videos += int(labels.shape[0])
    if was_training:
        model.train()
    metric.sync_across_ranks()
    losses = all_gather_objects((total_loss, batches, videos))
    result = {k: float(v) for k, v in metric.accumulate().items()}
    result["num_videos"] = sum(v for _, _, v in losses)
    result["loss"] = sum(t for t, _, _ in losses) / max(sum(n for _, n, _ in losses), 1)
    return result
