"""What ``tools/predict.py --input_file`` accepts, turned into record dicts.

An input is a PaddleVideo pkl (``.pkl``: one video dict or a list of them), a TFRecord file
(``.tfrecord``), a list file (``.list`` / ``.txt``: one path per line, first whitespace token, as
PaddleVideo's ``FeatureDataset`` reads it; relative paths are taken from the list file's directory,
then from the working directory), a directory (its ``.pkl`` and ``.tfrecord`` files, sorted), or a glob
of those. Every video comes out as ``{"id": str, "labels": int64[L], <feature>: uint8[T, D], ...}``
with all stored frames (truncation to ``max_frames`` is the pipeline's job).
"""
from __future__ import annotations

import glob
import os
from typing import Any, Dict, Iterator, List, Sequence, Tuple

__all__ = ["PKL_SUFFIXES", "TFRECORD_SUFFIXES", "LIST_SUFFIXES", "expand_inputs", "iter_input_records"]

PKL_SUFFIXES = (".pkl", ".pickle")
TFRECORD_SUFFIXES = (".tfrecord", ".tfrecords")
LIST_SUFFIXES = (".list", ".txt")


def _kind(path: str) -> str:
    lower = path.lower()
    if lower.endswith(PKL_SUFFIXES):
        return "pkl"
    if lower.endswith(TFRECORD_SUFFIXES):
        return "tfrecord"
    if lower.endswith(LIST_SUFFIXES):
        return "list"
    return "unknown"


def _read_list(path: str) -> List[str]:
    base = os.path.dirname(os.path.abspath(path))
    out = []
    with open(path, "r", encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            tokens = line.split()
            if not tokens or tokens[0].startswith("#"):
                continue
            entry = os.path.expanduser(tokens[0])
            candidates = [entry] if os.path.isabs(entry) else [os.path.join(base, entry), entry]
            found = next((c for c in candidates if os.path.isfile(c)), None)
            if found is None:
                raise FileNotFoundError(f"{path}: line {n}: {tokens[0]} not found (looked in {base} and "
                                        f"{os.getcwd()})")
            if _kind(found) not in ("pkl", "tfrecord"):
                raise ValueError(f"{path}: line {n}: {tokens[0]} is not a .pkl or .tfrecord file")
            out.append(found)
    return out


def expand_inputs(path: str) -> List[Tuple[str, str]]:
    """Resolve ``path`` into the video files to read.

    Returns:
        ``[(kind, file), ...]`` with kind ``"pkl"`` or ``"tfrecord"``, in order (sorted for directories
        and globs, file order for list files).

    Raises:
        FileNotFoundError: nothing exists at ``path`` / matches the glob, a listed file is missing, or a
            directory holds no ``.pkl`` / ``.tfrecord`` file.
        ValueError: a file of an unknown kind (the message lists the accepted suffixes).
    """
    path = os.path.expanduser(str(path))
    if os.path.isdir(path):
        files = sorted(os.path.join(path, f) for f in os.listdir(path) if _kind(f) in ("pkl", "tfrecord"))
        if not files:
            raise FileNotFoundError(f"{path}: directory has no .pkl or .tfrecord files")
    elif os.path.isfile(path):
        files = [path]
    else:
        files = sorted(glob.glob(path))
        if not files:
            raise FileNotFoundError(f"input not found: {path} (no file, directory or glob match)")
    out: List[Tuple[str, str]] = []
    for f in files:
        kind = _kind(f)
        if kind == "list":
            out.extend((_kind(g), g) for g in _read_list(f))
        elif kind in ("pkl", "tfrecord"):
            out.append((kind, f))
        elif not os.path.isdir(f):
            raise ValueError(f"{f}: unknown input kind; give a .pkl, .tfrecord, a list file ({', '.join(LIST_SUFFIXES)}), "
                             "a directory or a glob")
    return out


def iter_input_records(path: str, feature_names: Sequence[str],
                       feature_dims: Sequence[int]) -> Iterator[Tuple[str, Dict[str, Any]]]:
    """Yield ``(file, record)`` for every video of the inputs ``path`` names (see :func:`expand_inputs`).

    pkl files are read with :func:`paddlevideo.loader.yt8m.pkl.read_pkl` (a restricted unpickler),
    TFRecords with :func:`paddlevideo.loader.yt8m.read_tfrecord` (frame level).

    Raises:
        FileNotFoundError / ValueError: see :func:`expand_inputs`.
        CorruptRecordError: a damaged record or a feature of the wrong width (file, record and reason).
    """
    from ..loader.yt8m import read_tfrecord

    for kind, f in expand_inputs(path):
        if kind == "pkl":
            from ..loader.yt8m.pkl import read_pkl

            records = read_pkl(f, feature_names=tuple(feature_names), feature_dims=tuple(feature_dims))
        else:
            records = read_tfrecord(f, feature_names=tuple(feature_names), feature_dims=tuple(feature_dims))
        for record in records:
            yield f, record
