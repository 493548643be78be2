"""Batching of variable-length videos: pad to the longest video of the batch."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .frames import frame_feature_keys

#: Record keys every collate knows: the video id (not batched) and the multi-hot labels.
KNOWN_KEYS = ("id", "labels")


def _stack_extra(records: list[Mapping[str, Any]], key: str) -> np.ndarray:
    """Stack the declared extra key ``key`` of every record; the same shape in each (no padding)."""
    values = []
    for r in records:
        if key not in r:
            raise ValueError(f"video {r.get('id')!r} has no {key!r}, which the dataset declares in extra_keys")
        values.append(np.asarray(r[key]))
    first = values[0]
    for r, v in zip(records, values):
        if v.shape != first.shape:
            raise ValueError(f"extra key {key!r} is ragged: video {r.get('id')!r} has shape {v.shape}, "
                             f"video {records[0].get('id')!r} has {first.shape}; every record must give the same shape")
    out = np.stack(values)
    return out.astype(np.float32) if out.dtype == np.float64 else out


def collate_frames(records: list[Mapping[str, Any]], extra_keys: Sequence[str] = ()) -> dict[str, np.ndarray]:
    """Stack records into a batch, zero-padding every frame feature to the longest video in the batch.

    Args:
        records: pipeline outputs, each with frame features ``uint8 [T_i, D]`` (the 2-D arrays), ``id`` and
            ``labels`` (float32 multi-hot [C]) when present, and the ``extra_keys``.
        extra_keys: further keys the dataset declares (e.g. ``label_weights`` float32 [C]); each is stacked
            to ``[B, ...]`` (float64 becomes float32, other dtypes are kept) and must have the same shape in
            every record.

    Returns:
        ``{<feature>: uint8 [B, max T_i, D], "lengths": int64 [B], "labels": float32 [B, C], <extra key>:
        [B, ...]}``; features keep their dtype (uint8 stays uint8). ``lengths`` are the frame counts of the
        first feature.

    Raises:
        ValueError: for an empty batch, records whose features differ in frame count or keys, a record key
            that is neither a frame feature, ``id``, ``labels`` nor declared in ``extra_keys``, or a declared
            key that is missing from a record or differs in shape between records (ragged).
    """
    if not records:
        raise ValueError("cannot collate an empty batch")
    keys = frame_feature_keys(records[0])
    allowed = set(keys) | set(KNOWN_KEYS) | set(extra_keys)
    for r in records:
        unknown = [k for k in r if k not in allowed]
        if unknown:
            raise ValueError(f"video {r.get('id')!r} has key(s) {unknown} that are neither frame features "
                             f"(2-D arrays), {' nor '.join(KNOWN_KEYS)}, nor declared by the dataset (extra_keys "
                             f"{list(extra_keys)}); declare them or drop them in the pipeline")
    lengths = np.array([len(r[keys[0]]) for r in records], dtype=np.int64)
    max_len = max(int(lengths.max()), 1)
    batch: dict[str, np.ndarray] = {}
    for k in keys:
        first = records[0][k]
        out = np.zeros((len(records), max_len, first.shape[1]), dtype=first.dtype)
        for i, r in enumerate(records):
            x = r[k]
            if len(x) != lengths[i]:
                raise ValueError(f"video {r.get('id')!r}: feature {k!r} has {len(x)} frames, "
                                 f"{keys[0]!r} has {lengths[i]}")
            out[i, : len(x)] = x
        batch[k] = out
    batch["lengths"] = lengths
    if "labels" in records[0]:
        batch["labels"] = np.stack([np.asarray(r["labels"], dtype=np.float32) for r in records])
    for k in extra_keys:
        batch[k] = _stack_extra(records, k)
    return batch
