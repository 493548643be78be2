"""PaddleVideo's YouTube-8M pkl format: safe loading, reading as record dicts, writing.

PaddleVideo (``data/yt8m/tf2pkl.py`` and ``split_yt8m.py``, docs/youtube8m_format.md#paddlevideo-pkl-files) stores
frame-level videos as pickles of dicts, either one dict per file (split files, and ``data/example.pkl``) or a list of
dicts per file (one file per TFRecord). Each dict has, under ``str`` or ``bytes`` keys:

* ``video``: ``bytes``, the video id;
* ``feature``: ``np.uint8[n, 1024]`` quantized rgb, all stored frames (not truncated to 300);
* ``audio``: ``np.uint8[n, 128]`` quantized audio;
* ``label``: ``list[int]``, sorted and de-duplicated class indices;
* ``nframes``: ``numpy.int32`` = ``min(n, 300)``.

:func:`read_pkl` turns them into the record dicts :func:`.reader.read_tfrecord` yields, so the
pipeline, collate and model are shared by both formats. pkl files come from strangers, so they are
only ever opened with :func:`load_pickle`, an allow-list unpickler (Python ``pickle`` docs,
"Restricting Globals"). Nothing happens at import time and PaddlePaddle is not imported.
"""
from __future__ import annotations

import functools
import math
import mmap
import os
import pickle
import struct
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from ...utils.atomic import atomic_write
from .errors import BadPklError, UnsafePickleError
from .reader import read_tfrecord

__all__ = [
    "ALLOWED_GLOBALS",
    "NFRAMES_CAP",
    "PKL_FEATURE_KEYS",
    "PKL_PROTOCOL",
    "decode_pkl_video",
    "load_pickle",
    "load_pkl_videos",
    "read_pkl",
    "record_to_pkl_dict",
    "tfrecord_to_pkl",
    "write_pkl",
]

#: Pickle protocol PaddleVideo's tools write (``pickle.dump(..., protocol=2)``).
PKL_PROTOCOL = 2
#: ``nframes`` cap used by ``tf2pkl.py``: ``nframes = min(stored frames, 300)``.
NFRAMES_CAP = 300
#: Feature name in a record dict -> key in a pkl dict.
PKL_FEATURE_KEYS = {"rgb": "feature", "audio": "audio"}

# numpy 1.x pickles name ``numpy.core.*``, numpy 2 ``numpy._core.*``; both spellings are accepted.
_NUMPY_GLOBALS = {
    (f"numpy.{core}.{module}", name)
    for core in ("core", "_core")
    for module, name in (
        ("multiarray", "_reconstruct"),  # ndarray.__reduce__ (protocols 0-4)
        ("multiarray", "scalar"),  # numpy scalars such as numpy.int32(170)
        ("numeric", "_frombuffer"),  # ndarray.__reduce_ex__ with protocol 5
    )
}
# Protocol 2 written by Python 3 names builtins ``__builtin__`` (fix_imports); later ones ``builtins``.
_BUILTIN_GLOBALS = {
    (module, name)
    for module in ("builtins", "__builtin__")
    for name in ("bytes", "bytearray", "set", "frozenset")
}

#: Every ``(module, name)`` global a pkl file may reference. Anything else raises
#: :class:`UnsafePickleError` before it is imported. ``_codecs.encode`` (how Python 3 pickles
#: ``bytes`` with protocol 2) is only run for the ``latin1`` codec.
ALLOWED_GLOBALS: frozenset[tuple[str, str]] = frozenset(
    _NUMPY_GLOBALS
    | _BUILTIN_GLOBALS
    | {("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}
)
_LATIN1 = ("latin1", "latin-1", "latin_1", "iso-8859-1", "iso8859-1", "l1")


class _NdarrayToken:
    """Stands for ``numpy.ndarray`` inside a pkl: only passed to ``_reconstruct``, never called, so a
    pickle cannot build ``ndarray(shape)`` of a size of its choosing."""

    def __repr__(self) -> str:
        return "numpy.ndarray"


_NDARRAY = _NdarrayToken()


class _MappedFile:
    """Read-only view of a file for the unpickler whose reads return at most the bytes the file
    holds, so a length field in the pickle can never make it allocate more than the file's size."""

    def __init__(self, data: mmap.mmap) -> None:
        self._data = data

    def read(self, n: int = -1) -> bytes:
        return self._data.read(n if n >= 0 else None)

    def readline(self) -> bytes:
        return self._data.readline()

    def size(self) -> int:
        return self._data.size()


class _RestrictedUnpickler(pickle._Unpickler):  # the Python unpickler: its memo is a dict, see below
    """Unpickler whose ``find_class`` resolves only :data:`ALLOWED_GLOBALS`, and which never allocates
    more than the file holds.

    Python's pure unpickler is used instead of the C one because the C one sizes its memo table from
    the index in a ``LONG_BINPUT`` opcode (ten bytes can ask for gigabytes), and because its opcode
    handlers can be checked here: ``BUILD`` only restores numpy arrays and dtypes (an array's data must
    have exactly the bytes its shape and dtype need, object dtypes are refused: numpy trusts their
    pointers), and ``BYTEARRAY8`` may not declare more bytes than are left in the file.
    """

    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, file: _MappedFile, path: str) -> None:
        # encoding="latin1": Python 2 ``str`` (keys, numpy buffers) load as numpy expects.
        super().__init__(file, encoding="latin1")
        self._file = file
        self._path = path

    def _refuse(self, what: str) -> UnsafePickleError:
        return UnsafePickleError(self._path, what)

    def find_class(self, module: str, name: str) -> Any:
        """Resolve a global the pickle names, only if it is in :data:`ALLOWED_GLOBALS`; constructors
        that could allocate a size the pickle chooses are replaced by checked versions.

        Raises:
            UnsafePickleError: for any other global, before it is imported (nothing of it runs).
        """
        if (module, name) not in ALLOWED_GLOBALS:
            raise UnsafePickleError(self._path, f"{module}.{name}")
        if (module, name) == ("_codecs", "encode"):
            return self._latin1_encode
        if name == "ndarray":
            return _NDARRAY
        if name == "_reconstruct":
            return self._reconstruct
        if name == "dtype":
            return self._dtype
        if name in ("bytes", "bytearray"):
            return functools.partial(self._bytes_like, bytes if name == "bytes" else bytearray)
        return super().find_class(module, name)

    def _latin1_encode(self, text: str, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        """``_codecs.encode`` limited to what pickled ``bytes`` need: str -> latin1 bytes."""
        if not isinstance(text, str) or str(encoding).lower() not in _LATIN1 or errors != "strict":
            raise UnsafePickleError(self._path, f"_codecs.encode(<{type(text).__name__}>, {encoding!r})")
        return text.encode("latin1")

    def _bytes_like(self, cls: type, *args: Any) -> Any:
        """``bytes(...)`` / ``bytearray(...)`` from data the pickle holds (nothing, a str with its
        encoding, bytes, a list of ints); an integer (a size to allocate) is refused."""
        if not args or isinstance(args[0], (str, bytes, bytearray, list, tuple)):
            return cls(*args)
        raise self._refuse(f"builtins.{cls.__name__}(<{type(args[0]).__name__}>) (a size to allocate)")

    def _dtype(self, *args: Any) -> np.dtype:
        """``numpy.dtype(...)`` without object fields."""
        dtype = np.dtype(*args)
        if dtype.hasobject:
            raise self._refuse(f"numpy.dtype({dtype}) (an object dtype)")
        return dtype

    def _reconstruct(self, subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
        """numpy's ``_reconstruct(ndarray, (0,), b'b')``: an empty array whose BUILD fills it."""
        if subtype is not _NDARRAY:
            raise self._refuse(f"numpy _reconstruct of {subtype!r}")
        if not isinstance(shape, tuple) or not all(isinstance(d, int) for d in shape) or 0 not in shape:
            raise self._refuse(f"numpy _reconstruct with shape {shape!r} (arrays are pickled empty, then filled)")
        return np.ndarray.__new__(np.ndarray, shape, self._dtype(dtype))

    def _load_build(self) -> None:
        """BUILD, for numpy arrays (data checked against shape and dtype) and dtypes only."""
        state, inst = self.stack[-1], self.stack[-2]
        if type(inst) is np.ndarray:
            self._check_array_state(state)
        elif not isinstance(inst, np.dtype):
            raise self._refuse(f"BUILD of a {type(inst).__name__}")
        pickle._Unpickler.load_build(self)
        if isinstance(inst, np.dtype) and inst.hasobject:
            raise self._refuse(f"numpy.dtype({inst}) (an object dtype)")

    def _load_bytearray8(self) -> None:
        """BYTEARRAY8, refusing a length beyond the file's size before allocating it."""
        (length,) = struct.unpack("<Q", self.read(8))
        if length > self._file.size():
            raise pickle.UnpicklingError(f"BYTEARRAY8 declares {length} bytes but the file has "
                                         f"{self._file.size()}")
        self.append(bytearray(self.read(length)))

    def _check_array_state(self, state: Any) -> None:
        """Check an ``ndarray.__setstate__`` state: a plain dtype and exactly the data its shape needs."""
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise self._refuse("numpy array state of an unknown layout")
        shape, dtype, data = state[-4], state[-3], state[-1]
        if not isinstance(shape, tuple) or not all(isinstance(d, int) and d >= 0 for d in shape):
            raise self._refuse(f"numpy array shape {shape!r}")
        if not isinstance(dtype, np.dtype) or dtype.hasobject:
            raise self._refuse(f"numpy array dtype {dtype!r}")
        if not isinstance(data, (bytes, bytearray, str)):
            raise self._refuse(f"numpy array data of type {type(data).__name__}")
        need = math.prod(shape) * dtype.itemsize
        if len(data) != need:
            raise BadPklError(self._path, None,
                              f"a numpy array of shape {list(shape)} and dtype {dtype} needs {need} bytes, "
                              f"the file holds {len(data)}")

    dispatch[pickle.BUILD[0]] = _load_build
    dispatch[pickle.BYTEARRAY8[0]] = _load_bytearray8


def load_pickle(path: str | os.PathLike) -> Any:
    """Unpickle a file that may come from a stranger, allowing only what pkl data needs.

    Allowed globals (:data:`ALLOWED_GLOBALS`): numpy arrays (``_reconstruct``, ``ndarray``,
    protocol-5 ``_frombuffer``), ``numpy.dtype``, numpy scalars (``scalar``) under both
    ``numpy.core`` (numpy 1.x) and ``numpy._core`` (numpy 2) module names, ``_codecs.encode`` for
    latin1 only, and ``bytes``/``bytearray``/``set``/``frozenset``. Lists, dicts, tuples, str,
    numbers, ``True``/``False``/``None`` need no global. Any other global is refused in
    ``find_class``, before it is imported, so a payload that would run a command never runs.

    Args:
        path: the pickle file.

    Returns:
        The unpickled object (for pkl data a dict or a list of dicts). Python 2 ``str`` values
        load as ``str`` (``encoding="latin1"``, as numpy recommends for Python 2 pickles).

    Raises:
        UnsafePickleError: the file references a global outside the allow-list (message names
            the file and the global).
        BadPklError: the file is not a pickle, is cut short, or fails to unpickle for another
            reason (index ``None``; the message names the file).
        OSError: the file cannot be opened.

    Source: Python ``pickle`` documentation, "Restricting Globals"; globals of PaddleVideo's
    ``data/example.pkl`` (docs/youtube8m_format.md#example-pkl).
    """
    path_str = os.fspath(path)
    with open(path_str, "rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            raise BadPklError(path_str, None, "not a valid pickle (the file is empty)")
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            try:
                return _RestrictedUnpickler(_MappedFile(data), path_str).load()
            except (UnsafePickleError, BadPklError):
                raise
            except MemoryError:
                raise BadPklError(path_str, None, "not a valid pickle (it asks for more memory than there "
                                  "is)") from None
            except EOFError:
                raise BadPklError(path_str, None, "not a valid pickle (it ends too early: cut short, or a "
                                  "length in it is larger than the file)") from None
            except Exception as exc:  # UnpicklingError, ValueError, TypeError, ...
                raise BadPklError(
                    path_str, None, f"not a valid pickle ({type(exc).__name__}: {exc})"
                ) from None


# ----------------------------------------------------------------------------------- reading


def read_pkl(
    path: str | os.PathLike,
    feature_names: Sequence[str] = ("rgb", "audio"),
    feature_dims: Sequence[int] = (1024, 128),
) -> Iterator[dict[str, Any]]:
    """Iterate over the videos of one PaddleVideo pkl file as record dicts.

    The file holds one dict (split files, ``data/example.pkl``) or a list of dicts (one file per
    TFRecord); keys may be ``str`` or ``bytes``. It is loaded with :func:`load_pickle`.

    Frames: a file written by ``tf2pkl.py`` stores every frame and ``nframes = min(n, 300)``;
    then all ``n`` stored frames are returned, exactly as :func:`.reader.read_tfrecord` returns
    them (the ``TruncateFrames`` pipeline step cuts to ``max_frames``). If ``nframes`` is smaller
    than that (a hand-made file), only the first ``nframes`` rows are returned, since PaddleVideo's
    ``FeatureDecoder`` treats the rows after ``nframes`` as invalid.

    Args:
        path: a ``.pkl`` file.
        feature_names: record features to return, each ``"rgb"`` (pkl key ``feature``) or
            ``"audio"`` (pkl key ``audio``).
        feature_dims: expected width of each feature, in the order of ``feature_names``.

    Returns:
        A lazy iterator of dicts in file order:
        ``{"id": str, "labels": np.int64[L], "rgb": np.uint8[T, 1024], "audio": np.uint8[T, 128]}``.
        The id (``bytes``) is decoded as UTF-8, falling back to Latin-1, as the TFRecord reader
        does. Labels are as stored (``tf2pkl.py`` stores them sorted and de-duplicated); a dict
        without ``label`` gives no labels. Arrays are writable.

    Raises:
        ValueError, TypeError: immediately, for bad arguments.
        UnsafePickleError: the file references a forbidden global (see :func:`load_pickle`).
        BadPklError: while iterating: not a pickle, a top-level object that is not a dict or a
            list of dicts, or a video dict with a missing key, a non-bytes/str id, non-integer
            labels, a feature that is not ``uint8[n, dim]``, or a bad ``nframes``; the message
            names the file, the video index and what is wrong.
        OSError: the file cannot be read.

    Source: PaddleVideo ``tf2pkl.py`` / ``split_yt8m.py`` output and ``FeatureDecoder`` key
    handling (docs/youtube8m_format.md#paddlevideo-pkl-files, #split-pkl-files, #paddlevideo-loader).
    """
    names, dims = _check_features(feature_names, feature_dims)
    return _read_pkl(os.fspath(path), names, dims)


def _check_features(
    feature_names: Sequence[str], feature_dims: Sequence[int]
) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """Validate the caller's feature arguments; raise ValueError/TypeError on bad ones."""
    if isinstance(feature_names, str):
        raise TypeError("feature_names must be a sequence of names, not one string")
    names, dims = tuple(feature_names), tuple(int(d) for d in feature_dims)
    if not names or len(names) != len(dims):
        raise ValueError(f"feature_names {names} and feature_dims {dims} must be non-empty and match")
    unknown = [n for n in names if n not in PKL_FEATURE_KEYS]
    if unknown or len(set(names)) != len(names):
        raise ValueError(
            f"pkl files hold the features {sorted(PKL_FEATURE_KEYS)} once each, got {names}"
        )
    if any(d <= 0 for d in dims):
        raise ValueError(f"feature_dims must be positive, got {dims}")
    return names, dims


def _read_pkl(path: str, names: tuple[str, ...], dims: tuple[int, ...]) -> Iterator[dict[str, Any]]:
    """Generator behind read_pkl."""
    videos = load_pkl_videos(path)
    for index, video in enumerate(videos):
        yield decode_pkl_video(path, index, video, names, dims)


def load_pkl_videos(path: str | os.PathLike) -> Sequence[Any]:
    """The video dicts of one pkl file, not yet checked: ``[dict]`` for a one-dict file, else the list.

    Raises:
        UnsafePickleError, BadPklError, OSError: see :func:`load_pickle`; BadPklError also for a
            top-level object that is neither a dict nor a list.
    """
    path_str = os.fspath(path)
    obj = load_pickle(path_str)
    if isinstance(obj, Mapping):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return obj
    raise BadPklError(path_str, None, f"expected a dict or a list of dicts, found {type(obj).__name__}")


def decode_pkl_video(path: str, index: int, video: Any, feature_names: Sequence[str],
                     feature_dims: Sequence[int]) -> dict[str, Any]:
    """Check and convert video ``index`` of :func:`load_pkl_videos` into a record dict (see
    :func:`read_pkl` for its layout).

    Raises:
        BadPklError: the video is not a dict of the pkl layout (names the file and the index).
    """
    if not isinstance(video, Mapping):
        raise BadPklError(path, index, f"expected a dict, found {type(video).__name__}")
    try:
        return _decode_video(video, tuple(feature_names), tuple(feature_dims))
    except _BadVideo as exc:
        raise BadPklError(path, index, str(exc)) from None


class _BadVideo(Exception):
    """Internal: a problem in one video's dict; turned into BadPklError with file and index."""


def _lookup(video: Mapping[Any, Any], key: str, required: bool = True) -> Any:
    """Value under ``key`` or ``key.encode()``; a missing required key raises _BadVideo."""
    hits = [k for k in (key, key.encode("ascii")) if k in video]
    if len(hits) == 2:
        raise _BadVideo(f"key {key!r} is present both as str and as bytes")
    if not hits:
        if not required:
            return None
        found = sorted(repr(k) for k in video)
        raise _BadVideo(f"missing key {key!r} (found {', '.join(found) or 'no keys'})")
    return video[hits[0]]


def _decode_video(video: Mapping[Any, Any], names, dims) -> dict[str, Any]:
    """Turn one pkl dict into a record dict (see read_pkl)."""
    raw_id = _lookup(video, "video")
    if isinstance(raw_id, (bytes, bytearray)):
        try:
            video_id = bytes(raw_id).decode("utf-8")
        except UnicodeDecodeError:
            video_id = bytes(raw_id).decode("latin-1")
    elif isinstance(raw_id, str):
        video_id = str(raw_id)
    else:
        raise _BadVideo(f"'video' (the id) must be bytes or str, found {type(raw_id).__name__}")

    record: dict[str, Any] = {"id": video_id, "labels": _decode_labels(_lookup(video, "label", False))}
    arrays = [(name, _decode_feature(_lookup(video, PKL_FEATURE_KEYS[name]), name, dim))
              for name, dim in zip(names, dims)]

    nframes = _lookup(video, "nframes")
    if isinstance(nframes, (bool, np.bool_)) or not isinstance(nframes, (int, np.integer)):
        raise _BadVideo(f"'nframes' must be an integer, found {type(nframes).__name__}")
    nframes = int(nframes)
    stored = {a.shape[0] for _, a in arrays}
    fewest = min(stored)
    if nframes < 0 or nframes > fewest:
        which = ", ".join(f"{PKL_FEATURE_KEYS[n]!r} {a.shape[0]}" for n, a in arrays)
        raise _BadVideo(f"'nframes' is {nframes}, outside [0, frames stored] (stored: {which})")
    keep_all = len(stored) == 1 and nframes == min(fewest, NFRAMES_CAP)
    for name, array in arrays:
        array = array if keep_all else array[:nframes]
        record[name] = array if array.flags.writeable else array.copy()
    return record


def _decode_labels(value: Any) -> np.ndarray:
    """Labels as int64[L]; None (no 'label' key) gives an empty array."""
    if value is None:
        return np.zeros(0, dtype=np.int64)
    if isinstance(value, (str, bytes, Mapping)):
        raise _BadVideo(f"'label' must be a list of integers, found {type(value).__name__}")
    try:
        labels = np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise _BadVideo(f"'label' is not a list of integers ({exc})") from None
    if labels.size == 0:
        return np.zeros(0, dtype=np.int64)
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise _BadVideo(
            f"'label' must be a flat list of integers, found dtype {labels.dtype} shape {labels.shape}"
        )
    if labels.dtype.kind == "u" and labels.max() > np.iinfo(np.int64).max:
        raise _BadVideo("'label' has a value beyond int64")
    return labels.astype(np.int64)


def _decode_feature(value: Any, name: str, dim: int) -> np.ndarray:
    """Check one feature is uint8[n, dim] and return it."""
    key = PKL_FEATURE_KEYS[name]
    if not isinstance(value, np.ndarray):
        raise _BadVideo(f"{key!r} ({name}) must be a numpy uint8 array, found {type(value).__name__}")
    if value.dtype != np.uint8:
        raise _BadVideo(f"{key!r} ({name}) must have dtype uint8 (quantized), found {value.dtype}")
    if value.ndim != 2 or value.shape[1] != dim:
        raise _BadVideo(f"{key!r} ({name}) must have shape [frames, {dim}], found {list(value.shape)}")
    return value


# ----------------------------------------------------------------------------------- writing


def record_to_pkl_dict(
    record: Mapping[str, Any], key_type: type = str, nframes_cap: int = NFRAMES_CAP
) -> dict[Any, Any]:
    """Convert a record dict into the dict PaddleVideo's ``tf2pkl.py`` writes for one video.

    Args:
        record: ``{"id": str|bytes, "labels": int[L], "rgb": np.uint8[T, 1024],
            "audio": np.uint8[T, 128]}`` (as :func:`.reader.read_tfrecord` yields).
        key_type: ``str`` (``tf2pkl.py`` under Python 3) or ``bytes`` (``data/example.pkl``).
        nframes_cap: the cap of ``nframes`` (300 in ``tf2pkl.py``).

    Returns:
        A dict with keys in the order ``video, feature, audio, label, nframes``:
        ``video`` bytes (a str id is UTF-8 encoded), ``feature``/``audio`` C-contiguous
        ``np.uint8[T, D]`` with all ``T`` frames, ``label`` a ``list[int]`` sorted and
        de-duplicated (``np.where(multi_hot)[0].tolist()`` in ``tf2pkl.py``), ``nframes``
        ``numpy.int32(min(T, nframes_cap))``.

    Raises:
        KeyError: the record lacks ``id``, ``rgb`` or ``audio``.
        TypeError: an id that is not str/bytes, a feature that is not uint8, ``key_type`` not
            ``str``/``bytes``, or labels that are not integers.
        ValueError: features that are not 2-D or differ in frame count.

    Source: PaddleVideo ``data/yt8m/tf2pkl.py`` (docs/youtube8m_format.md#paddlevideo-pkl-files).
    """
    if key_type not in (str, bytes):
        raise TypeError(f"key_type must be str or bytes, got {key_type!r}")
    video_id = record["id"]
    if isinstance(video_id, str):
        video_id = video_id.encode("utf-8")
    elif isinstance(video_id, (bytes, bytearray)):
        video_id = bytes(video_id)
    else:
        raise TypeError(f"record id must be str or bytes, got {type(video_id).__name__}")
    feats = {}
    for name in ("rgb", "audio"):
        array = np.asarray(record[name])
        if array.dtype != np.uint8:
            raise TypeError(f"feature {name!r} must be uint8, got {array.dtype}")
        if array.ndim != 2:
            raise ValueError(f"feature {name!r} must be [T, D], got shape {array.shape}")
        feats[name] = np.ascontiguousarray(array)
    frames = feats["rgb"].shape[0]
    if feats["audio"].shape[0] != frames:
        raise ValueError(f"rgb has {frames} frames but audio has {feats['audio'].shape[0]}")
    labels = np.asarray(record.get("labels", []))
    if labels.size and labels.dtype.kind not in "iu":
        raise TypeError(f"labels must be integers, got dtype {labels.dtype}")
    values = {
        "video": video_id,
        "feature": feats["rgb"],
        "audio": feats["audio"],
        "label": [int(c) for c in np.unique(labels.astype(np.int64).reshape(-1))],
        "nframes": np.int32(min(frames, int(nframes_cap))),
    }
    if key_type is bytes:
        return {k.encode("ascii"): v for k, v in values.items()}
    return values


def write_pkl(path: str | os.PathLike, obj: Any) -> int:
    """Pickle ``obj`` to ``path`` with protocol 2, atomically.

    The pickle goes to a temporary file in the same directory, which is flushed, ``fsync``-ed and
    renamed over ``path`` with ``os.replace``: a crash or an exception leaves any existing ``path``
    as it was, so a file at ``path`` is always complete (converters can resume by skipping it).

    Args:
        path: destination file; its directory must exist.
        obj: what to pickle (a pkl dict or a list of them, see :func:`record_to_pkl_dict`).

    Returns:
        The number of bytes written.

    Raises:
        OSError: the file cannot be written. ``pickle.PicklingError`` for unpicklable objects.

    Source: protocol of PaddleVideo's ``tf2pkl.py`` and ``split_yt8m.py``
    (docs/youtube8m_format.md#paddlevideo-pkl-files, #split-pkl-files).
    """
    def write(tmp: str) -> int:
        with open(tmp, "wb") as f:
            pickle.dump(obj, f, protocol=PKL_PROTOCOL)
            return f.tell()

    return atomic_write(path, write)


def tfrecord_to_pkl(
    src: str | os.PathLike, dst_dir: str | os.PathLike, split: bool = False
) -> tuple[list[str], int]:
    """Convert one frame-level YouTube-8M TFRecord file to PaddleVideo pkl file(s).

    Args:
        src: a frame-level ``.tfrecord`` (YouTube-8M 2018 schema; 2017 ``video_id`` also read).
        dst_dir: existing output directory.
        split: ``False``: one ``<stem>.pkl`` holding the list of all video dicts (``tf2pkl.py``);
            ``True``: one ``<stem>_split_<i>.pkl`` per video holding a single dict
            (``split_yt8m.py``). ``stem`` is the file name up to its first dot.

    Returns:
        ``(paths, videos)``: the paths written, in video order (one path when ``split`` is False),
        and the number of videos converted.

    Raises:
        CorruptRecordError: a record of ``src`` is damaged (nothing is written for a whole-file
            conversion; split files of earlier videos stay, each complete).
        OSError: a file cannot be read or written.

    Memory: the whole-file mode holds every video of ``src`` in memory, as ``tf2pkl.py`` does;
    the split mode holds one video at a time.

    Source: PaddleVideo ``data/yt8m/tf2pkl.py`` and ``split_yt8m.py``
    (docs/youtube8m_format.md#paddlevideo-pkl-files, #split-pkl-files), with features kept quantized and all
    frames stored.
    """
    stem = os.path.basename(os.fspath(src)).split(".", 1)[0]
    dst = os.fspath(dst_dir)
    videos = (record_to_pkl_dict(r) for r in read_tfrecord(src, "frame"))
    if not split:
        path = os.path.join(dst, f"{stem}.pkl")
        everything = list(videos)
        write_pkl(path, everything)
        return [path], len(everything)
    paths = []
    for i, video in enumerate(videos):
        path = os.path.join(dst, f"{stem}_split_{i}.pkl")
        write_pkl(path, video)
        paths.append(path)
    return paths, len(paths)
