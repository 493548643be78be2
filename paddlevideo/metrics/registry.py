"""Registry of the evaluation metrics that configs name under ``METRIC``."""
from ..utils.registry import Registry

METRICS = Registry("metric")
