"""Registries of the data parts that configs name under ``DATASET`` and ``PIPELINE``."""
from ..utils.registry import Registry

DATASETS = Registry("dataset")
PIPELINES = Registry("pipeline")
