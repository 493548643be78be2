"""Batching of variable-length videos: pad to the longest video of the batch."""
from __future__ import annotations

from typing import Any, Dict, List, Mapping

import numpy as np

from .frames import frame_feature_keys


def collate_frames(records: List[Mapping[str, Any]]) -> Dict[str, np.ndarray]:
    """Stack records into a batch, zero-padding every frame feature to the longest video in the batch.

    Args:
        records: pipeline outputs, each with frame features ``uint8 [T_i, D]`` and ``labels`` (float32
            multi-hot [C]) when present.

    Returns:
        ``{<feature>: uint8 [B, max T_i, D], "lengths": int64 [B], "labels": float32 [B, C]}``; features
        keep their dtype (uint8 stays uint8). ``lengths`` are the frame counts of the first feature.

    Raises:
        ValueError: for an empty batch, or records whose features differ in frame count or keys.
    """
    if not records:
        raise ValueError("cannot collate an empty batch")
    keys = frame_feature_keys(records[0])
    lengths = np.array([len(r[keys[0]]) for r in records], dtype=np.int64)
    max_len = max(int(lengths.max()), 1)
    batch: Dict[str, np.ndarray] = {}
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
    return batch
