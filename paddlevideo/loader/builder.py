"""Build datasets and data loaders from the ``DATASET`` / ``PIPELINE`` sections of a config."""
from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from paddle.io import DataLoader

from ..utils.registry import build
from . import datasets, pipelines  # noqa: F401  (registration)
from .datasets.protocol import VideoDataset, check_dataset
from .registry import DATASETS, PIPELINES


def build_dataset(cfg: Mapping[str, Any], mode: str) -> VideoDataset:
    """Build ``DATASET.<mode>`` with ``PIPELINE.<mode>`` as its pipeline.

    The dataset config names its class with ``format`` (PaddleVideo's key). ``mode`` is one of
    train, valid, test. Pipeline steps that take ``num_classes`` and do not set it get
    ``MODEL.head.num_classes``, so the class count is written once; so does a dataset class that takes
    ``num_classes`` (the segment dataset).

    Returns:
        The dataset, checked against the contract the tasks use
        (:class:`~paddlevideo.loader.datasets.protocol.VideoDataset`).

    Raises:
        KeyError: if the config has no ``DATASET.<mode>``; ValueError / KeyError for unknown names or options.
        TypeError: the class does not implement :class:`~paddlevideo.loader.datasets.protocol.VideoDataset`.
    """
    dataset_cfgs = cfg.get("DATASET") or {}
    if mode not in dataset_cfgs:
        raise KeyError(f"the config has no DATASET.{mode} section (it has: {', '.join(k for k in dataset_cfgs)})")
    pipeline_cfgs = cfg.get("PIPELINE") or {}
    steps = [dict(s) for s in (pipeline_cfgs.get(mode) or [])]
    num_classes = ((cfg.get("MODEL") or {}).get("head") or {}).get("num_classes")
    for step in steps:
        if num_classes is not None and "num_classes" not in step and step.get("name") in PIPELINES \
                and "num_classes" in inspect.signature(PIPELINES.get(step["name"])).parameters:
            step["num_classes"] = num_classes
    dataset_cfg = dataset_cfgs[mode]
    if num_classes is not None and isinstance(dataset_cfg, Mapping) and "num_classes" not in dataset_cfg \
            and dataset_cfg.get("format") in DATASETS \
            and "num_classes" in inspect.signature(DATASETS.get(dataset_cfg["format"])).parameters:
        dataset_cfg = {**dataset_cfg, "num_classes": num_classes}  # e.g. the segment dataset's label width
    return check_dataset(build(dataset_cfg, DATASETS, key="format", pipeline=steps), f"DATASET.{mode}")


def build_dataloader(dataset: VideoDataset, batch_size: int, num_workers: int = 0, **kwargs: Any) -> DataLoader:
    """A ``paddle.io.DataLoader`` over an iterable dataset, batched with the dataset's own ``collate``.

    Args:
        dataset: a dataset with a ``collate`` method.
        batch_size: videos per batch (per device).
        num_workers: loader worker processes (0 reads in the main process).
    """
    return DataLoader(dataset, batch_size=int(batch_size), num_workers=int(num_workers),
                      collate_fn=dataset.collate, **kwargs)
