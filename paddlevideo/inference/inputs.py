"""What ``tools/predict.py --input_file`` accepts, turned into record dicts.

An input is a PaddleVideo pkl (``.pkl``: one video dict or a list of them), a TFRecord file
(``.tfrecord``), a list file (``.list`` / ``.txt``: one path per line, read as the pkl dataset reads
it, :func:`paddlevideo.loader.yt8m.list_file.read_list_file`: relative paths are taken from the list
file's directory), a directory (its ``.pkl`` and ``.tfrecord`` files, sorted), or a glob
of those. Every video comes out as ``{"id": str, "labels": int64[L], <feature>: uint8[T, D], ...}``
with all stored frames (truncation to ``max_frames`` is the pipeline's job).

Two ways to read them:

* :func:`iter_input_items` keeps going past bad inputs: it yields an :class:`InputVideo` per readable
  video and a :class:`Skipped` (file, record, one-line reason) for each input it cannot use, so that
  ``tools/predict.py`` predicts everything else and reports the rest;
* :func:`iter_input_records` stops at the first bad input with its error (``tools/visualize_attention.py``).
"""
from __future__ import annotations

import glob
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ..loader.yt8m.list_file import read_list_file

__all__ = ["PKL_SUFFIXES", "TFRECORD_SUFFIXES", "LIST_SUFFIXES", "InputVideo", "Skipped", "expand_inputs",
           "iter_input_items", "iter_input_records"]

PKL_SUFFIXES = (".pkl", ".pickle")
TFRECORD_SUFFIXES = (".tfrecord", ".tfrecords")
LIST_SUFFIXES = (".list", ".txt")


@dataclass(frozen=True)
class InputVideo:
    """One readable video: the file it came from, its 0-based position in that file and its record dict."""

    file: str
    index: int
    record: dict[str, Any]


@dataclass(frozen=True)
class Skipped:
    """An input that cannot be predicted.

    Attributes:
        file: the file (or list file / pattern) concerned.
        index: 0-based record of the file from which on it was skipped; ``None`` for the whole file.
        reason: one line that names the file (and record or video) and says what is wrong.
        video_id: the video's id when one video was skipped (e.g. a video without frames), else ``None``.
    """

    file: str
    index: int | None
    reason: str
    video_id: str | None = None

    def short(self) -> str:
        """``file`` alone, ``file (from record i)`` or ``file (video 'id')``: for a summary line."""
        if self.video_id is not None:
            return f"{self.file} (video {self.video_id!r})"
        if self.index:
            return f"{self.file} (from record {self.index})"
        return self.file


def _kind(path: str) -> str:
    lower = path.lower()
    if lower.endswith(PKL_SUFFIXES):
        return "pkl"
    if lower.endswith(TFRECORD_SUFFIXES):
        return "tfrecord"
    if lower.endswith(LIST_SUFFIXES):
        return "list"
    return "unknown"


def _os_reason(path: str, exc: OSError) -> str:
    """``<path>: <what the system said>`` for an OSError (symlink loop, permission denied, ...)."""
    return f"{path}: {exc.strerror or exc}" if isinstance(exc, OSError) else f"{path}: {exc}"


def _one_line(path: str, exc: BaseException) -> str:
    """The first line of ``exc``'s message, prefixed with ``path`` unless it already starts with it."""
    if isinstance(exc, OSError) and exc.strerror:
        return _os_reason(path, exc)
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return text if text.startswith(path) else f"{path}: {text}"


def _read_list(path: str, skips: list[Skipped] | None = None) -> list[str]:
    """Files named by a list file (:func:`paddlevideo.loader.yt8m.list_file.read_list_file`'s rule); with
    ``skips`` a missing or foreign entry is recorded there, else raised."""
    def missing(n: int, token: str, resolved: str) -> None:
        problem = FileNotFoundError(f"{path}: line {n}: {token} not found ({resolved} does not exist)")
        if skips is None:
            raise problem
        skips.append(Skipped(path, None, str(problem)))

    out = []
    for found in read_list_file(path, on_missing=missing):
        if _kind(found) in ("pkl", "tfrecord") and not os.path.isdir(found):
            out.append(found)
            continue
        problem = ValueError(f"{path}: {found} is not a .pkl or .tfrecord file")
        if skips is None:
            raise problem
        skips.append(Skipped(path, None, str(problem)))
    return out


def _expand(path: str, skips: list[Skipped] | None) -> list[tuple[str, str]]:
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
    out: list[tuple[str, str]] = []
    for f in files:
        kind = _kind(f)
        if kind == "list":
            if skips is None:
                out.extend((_kind(g), g) for g in _read_list(f))
                continue
            try:
                out.extend((_kind(g), g) for g in _read_list(f, skips))
            except (OSError, UnicodeDecodeError, ValueError) as e:
                skips.append(Skipped(f, None, _one_line(f, e)))
        elif kind in ("pkl", "tfrecord"):
            out.append((kind, f))
        elif not os.path.isdir(f):
            problem = ValueError(f"{f}: unknown input kind; give a .pkl, .tfrecord, a list file "
                                 f"({', '.join(LIST_SUFFIXES)}), a directory or a glob")
            if skips is None or f == path:
                raise problem
            skips.append(Skipped(f, None, str(problem)))
    return out


def expand_inputs(path: str) -> list[tuple[str, str]]:
    """Resolve ``path`` into the video files to read.

    Returns:
        ``[(kind, file), ...]`` with kind ``"pkl"`` or ``"tfrecord"``, in order (sorted for directories
        and globs, file order for list files).

    Raises:
        FileNotFoundError: nothing exists at ``path`` / matches the glob, a listed file is missing, or a
            directory holds no ``.pkl`` / ``.tfrecord`` file.
        ValueError: a file of an unknown kind (the message lists the accepted suffixes).
    """
    return _expand(path, None)


def _reader(kind: str, f: str, feature_names: Sequence[str], feature_dims: Sequence[int]):
    if kind == "pkl":
        from ..loader.yt8m.pkl import read_pkl

        return read_pkl(f, feature_names=tuple(feature_names), feature_dims=tuple(feature_dims))
    from ..loader.yt8m import read_tfrecord

    return read_tfrecord(f, feature_names=tuple(feature_names), feature_dims=tuple(feature_dims))


def _frames(record: dict[str, Any], feature_names: Sequence[str]) -> int:
    return min((len(record[n]) for n in feature_names if n in record), default=0)


def iter_input_items(path: str, feature_names: Sequence[str], feature_dims: Sequence[int],
                     min_frames: int = 1) -> Iterator[InputVideo | Skipped]:
    """Every video of the inputs ``path`` names (see :func:`expand_inputs`), going past bad inputs.

    pkl files are read with :func:`paddlevideo.loader.yt8m.pkl.read_pkl` (a restricted unpickler),
    TFRecords with :func:`paddlevideo.loader.yt8m.read_tfrecord` (frame level).

    Yields, in input order:
        :class:`InputVideo` for each readable video with at least ``min_frames`` frames, and
        :class:`Skipped` for

        * a file that cannot be read (permission, a symlink loop, ...): the whole file;
        * a damaged file (a corrupt or truncated TFRecord record, a bad or unsafe pkl, a video-level file
          given to a frame-level model, a feature of the wrong width): the file from the bad record on,
          with the reader's message (file, record, byte offset, reason); the videos before it are yielded;
          the rest of the file is not read, since the framing past a damaged record cannot be trusted;
        * a video with fewer than ``min_frames`` frames (nothing to predict): that video, named;
        * in a directory, glob or list file: a file of an unknown kind or a listed file that is missing.

    Raises:
        FileNotFoundError: ``path`` itself names nothing (no file, directory or glob match), or an empty
            directory.
        ValueError: ``path`` itself is a single file of an unknown kind.

    Both are raised by the call itself (the inputs are resolved at once); reading is lazy.
    """
    skips: list[Skipped] = []
    files = _expand(path, skips)     # here, so that a wrong path fails at the call, before anything is read
    return _items(files, skips, feature_names, feature_dims, min_frames)


def _items(files: list[tuple[str, str]], skips: list[Skipped], feature_names: Sequence[str],
           feature_dims: Sequence[int], min_frames: int) -> Iterator[InputVideo | Skipped]:
    yield from skips
    for kind, f in files:
        index = 0
        try:
            for record in _reader(kind, f, feature_names, feature_dims):
                if _frames(record, feature_names) < min_frames:
                    vid = str(record.get("id", ""))
                    yield Skipped(f, index, f"{f}: record {index}: video {vid!r} has "
                                            f"{_frames(record, feature_names)} frames; nothing to predict", vid)
                else:
                    yield InputVideo(f, index, record)
                index += 1
        except (OSError, ValueError, EOFError) as e:   # reader errors are ValueError subclasses
            where = getattr(e, "index", None)
            yield Skipped(f, where if where is not None else (index or None), _one_line(f, e))


def iter_input_records(path: str, feature_names: Sequence[str], feature_dims: Sequence[int],
                       min_frames: int = 0) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield ``(file, record)`` for every video of the inputs ``path`` names (see :func:`expand_inputs`),
    stopping at the first bad input.

    Raises:
        FileNotFoundError / ValueError: see :func:`expand_inputs`.
        CorruptRecordError / BadPklError: a damaged record or a feature of the wrong width (file, record
            and reason).
        ValueError: a video with fewer than ``min_frames`` frames (the message names file and video).
        OSError: a file cannot be read.
    """
    for kind, f in expand_inputs(path):
        for index, record in enumerate(_reader(kind, f, feature_names, feature_dims)):
            frames = _frames(record, feature_names)
            if frames < min_frames:
                raise ValueError(f"{f}: record {index}: video {str(record.get('id', ''))!r} has {frames} frames; "
                                 "nothing to predict")
            yield f, record
