"""Evaluation metrics: importing this package registers them (nothing else runs at import).

Every metric derives from :class:`BaseMetric` (:mod:`.base`, the contract); ``METRIC`` configs, one
metric or a list, are read by :mod:`.group`.
"""
from . import segment_map, youtube8m  # noqa: F401  (registration)
from .base import BaseMetric, BestRule
from .group import MetricGroup, plan_metrics
from .registry import METRICS
from .segment_map import SegmentMAP, average_precision_at_k, mean_average_precision
from .youtube8m import (
    YouTube8MMetric,
    calculate_gap,
    calculate_hit_at_one,
    calculate_map,
    calculate_precision_at_equal_recall_rate,
)

__all__ = [
    "METRICS",
    "BaseMetric",
    "BestRule",
    "MetricGroup",
    "plan_metrics",
    "SegmentMAP",
    "YouTube8MMetric",
    "average_precision_at_k",
    "calculate_gap",
    "calculate_hit_at_one",
    "calculate_map",
    "calculate_precision_at_equal_recall_rate",
    "mean_average_precision",
]
