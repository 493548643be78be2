"""Evaluation over a whole split: loss and the streaming YouTube-8M metrics."""
from __future__ import annotations

from typing import Any, Dict, Mapping

import paddle

from ..metrics.registry import METRICS
from ..utils.registry import build


def build_metric(cfg: Mapping[str, Any], num_classes: int) -> Any:
    """Build ``METRIC`` (default ``YouTube8MMetric`` with top_k 20) for ``num_classes`` classes."""
    from ..metrics import youtube8m  # noqa: F401  (registration)

    metric_cfg = dict(cfg.get("METRIC") or {"name": "YouTube8MMetric"})
    return build(metric_cfg, METRICS, num_classes=num_classes)


@paddle.no_grad()
def evaluate(model: paddle.nn.Layer, loader: Any, metric: Any, mode: str = "valid") -> Dict[str, float]:
    """Run ``model`` over ``loader`` in eval mode and return the metrics of the whole split.

    Args:
        model: a recognizer (``forward(batch, mode)``).
        loader: yields batches with features, ``lengths`` and ``labels``.
        metric: streaming metric with ``reset``, ``update(probs [B, C], labels [B, C])`` and
            ``accumulate() -> dict``; updated with every batch, computed once at the end.
        mode: ``valid`` or ``test``.

    Returns:
        ``{"hit_at_one", "perr", "gap", "map", "num_videos", "loss"}`` (loss: mean per batch of the
        configured loss).
    """
    was_training = model.training
    model.eval()
    metric.reset()
    total_loss, batches = 0.0, 0
    for batch in loader:
        out = model(batch, mode)
        metric.update(out["probs"].numpy(), batch["labels"].numpy())
        total_loss += float(out["loss"].item())
        batches += 1
    if was_training:
        model.train()
    result = {k: float(v) for k, v in metric.accumulate().items()}
    result["loss"] = total_loss / max(batches, 1)
    return result
