"""The dataset contract the training and evaluation tasks rely on.

:mod:`paddlevideo.tasks` drives a dataset through these methods and nothing else; a new data format
subclasses :class:`~paddlevideo.loader.datasets.base.ShardedVideoDataset` (which implements all of them)
or provides them itself. :func:`check_dataset` checks a built dataset against the contract once, so a
missing method is a clear error at set-up rather than an ``AttributeError`` in the middle of an epoch.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["VideoDataset", "check_dataset"]


@runtime_checkable
class VideoDataset(Protocol):
    """What a dataset of :mod:`paddlevideo.loader.datasets` provides to the tasks.

    Attributes:
        extra_keys: batch keys the dataset adds beyond the frame features, ``lengths`` and ``labels``
            (e.g. ``label_weights`` float32 [B, C], which the framework passes to the loss as per-class
            weights). :meth:`collate` stacks them; a record key that is neither known nor declared is an
            error there.

    The methods, in the order a training run calls them:

    * ``set_batch_size(batch_size)``: records per rank and step, equal to the DataLoader's batch size.
    * ``num_steps(world)``: batches every rank takes per epoch (``ceil(N / (world * batch_size))``).
    * ``set_epoch(epoch)``: seeds the epoch's shuffling; called before each epoch.
    * ``begin_pass()``: called in the main process before each pass over a DataLoader; raises an
      indexing error (:class:`~paddlevideo.loader.yt8m.DataError`) in the caller's thread.
    * ``collate(records)``: a list of pipeline outputs -> one batch of numpy arrays.
    * ``recorded_error()``: the :class:`~paddlevideo.loader.yt8m.DataError` that ended a reader inside
      the loader since ``begin_pass``, or None (checked after every batch).
    * ``pop_skipped()``: the records skipped under ``skip_corrupt`` since the last call, as dicts
      ``{"path", "index", "offset", "reason", "message", "type"}``.
    """

    extra_keys: tuple[str, ...]

    def set_batch_size(self, batch_size: int) -> None: ...

    def num_steps(self, world: int | None = None) -> int: ...

    def set_epoch(self, epoch: int) -> None: ...

    def begin_pass(self) -> None: ...

    def collate(self, records: list[dict[str, Any]]) -> dict[str, np.ndarray]: ...

    def recorded_error(self) -> Exception | None: ...

    def pop_skipped(self) -> list[dict[str, Any]]: ...


_MEMBERS: Sequence[str] = ("extra_keys", "set_batch_size", "num_steps", "set_epoch", "begin_pass", "collate",
                           "recorded_error", "pop_skipped")


def check_dataset(dataset: Any, where: str = "DATASET") -> VideoDataset:
    """Return ``dataset`` when it provides every member of :class:`VideoDataset`.

    Args:
        dataset: a built dataset.
        where: the config section it came from, for the message.

    Raises:
        TypeError: naming the dataset class and the members it lacks.
    """
    missing = [m for m in _MEMBERS if not hasattr(dataset, m)]
    if missing:
        raise TypeError(f"{where}: dataset {type(dataset).__name__} does not implement the dataset contract "
                        f"(paddlevideo.loader.datasets.protocol.VideoDataset); missing: {', '.join(missing)}")
    return dataset

