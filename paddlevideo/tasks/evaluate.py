"""Evaluation over a whole split: loss and the streaming YouTube-8M metrics, gathered across ranks."""
from __future__ import annotations

from typing import Any, Dict, Mapping

import paddle
from tqdm import tqdm

from ..metrics.registry import METRICS
from ..utils.dist import all_gather_objects, rank as dist_rank
from ..utils.registry import build
from .loop import iterate_batches


def build_metric(cfg: Mapping[str, Any], num_classes: int) -> Any:
    """Build ``METRIC`` (default ``YouTube8MMetric`` with top_k 20) for ``num_classes`` classes."""
    from ..metrics import youtube8m  # noqa: F401  (registration)

    metric_cfg = dict(cfg.get("METRIC") or {"name": "YouTube8MMetric"})
    return build(metric_cfg, METRICS, num_classes=num_classes)


def merge_across_ranks(metric: Any) -> None:
    """Replace ``metric``'s state by the union of every rank's state (no-op in a one-process run).

    Every rank sends ``metric.state()`` (per-video top-k scores and label counts, O(videos * k)) with
    ``all_gather_object``; the metric is reset and all states are merged back in rank order, so every
    rank then holds the state of the whole split. Because the dataset gives each video to exactly one
    rank (:mod:`paddlevideo.loader.datasets.sharding`), nothing is counted twice, also when the last
    batch is uneven, and the result equals a one-process evaluation (the metric's result does not depend
    on the order of the videos).
    """
    states = all_gather_objects(metric.state())
    if len(states) == 1:
        return
    metric.reset()
    for state in states:
        metric.merge(state)


@paddle.no_grad()
def evaluate(model: paddle.nn.Layer, loader: Any, metric: Any, mode: str = "valid",
             dataset: Any = None) -> Dict[str, float]:
    """Run ``model`` over ``loader`` in eval mode and return the metrics of the whole split.

    Under ``paddle.distributed.launch`` each rank evaluates its shard of the split and the metric states
    are gathered (:func:`merge_across_ranks`); every rank returns the same numbers.

    Args:
        model: a recognizer (``forward(batch, mode)``); pass the bare model, not the ``DataParallel``
            wrapper (evaluation needs no gradient synchronisation).
        loader: yields batches with features, ``lengths`` and ``labels``.
        metric: streaming metric with ``reset``, ``update(probs [B, C], labels [B, C])``,
            ``state()``, ``merge(state)`` and ``accumulate() -> dict``.
        mode: ``valid`` or ``test``.
        dataset: the loader's dataset, for corrupt-record errors raised in loader workers.

    Returns:
        ``{"hit_at_one", "perr", "gap", "map", "num_videos", "loss"}``; loss is the mean over all
        batches of all ranks of the configured loss.

    Raises:
        CorruptRecordError: a corrupt record in the split (unless the dataset skips them).
    """
    was_training = model.training
    model.eval()
    metric.reset()
    total_loss, batches = 0.0, 0
    # Progress bar on rank 0 when stderr is a terminal only (disable=None), cleared when done: logs stay clean.
    bar = tqdm(iterate_batches(loader, dataset), desc=f"[{mode}]", unit="batch", leave=False,
               disable=None if dist_rank() == 0 else True)
    for batch in bar:
        out = model(batch, mode)
        metric.update(out["probs"].numpy(), batch["labels"].numpy())
        total_loss += float(out["loss"].item())
        batches += 1
    if was_training:
        model.train()
    merge_across_ranks(metric)
    losses = all_gather_objects((total_loss, batches))
    result = {k: float(v) for k, v in metric.accumulate().items()}
    result["loss"] = sum(t for t, _ in losses) / max(sum(n for _, n in losses), 1)
    return result
