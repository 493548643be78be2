"""Evaluation metrics: importing this package registers them (nothing else runs at import)."""
from . import youtube8m  # noqa: F401  (registration)
from .registry import METRICS
from .youtube8m import (
    YouTube8MMetric,
    calculate_gap,
    calculate_hit_at_one,
    calculate_map,
    calculate_precision_at_equal_recall_rate,
)

__all__ = [
    "METRICS",
    "YouTube8MMetric",
    "calculate_gap",
    "calculate_hit_at_one",
    "calculate_map",
    "calculate_precision_at_equal_recall_rate",
]
