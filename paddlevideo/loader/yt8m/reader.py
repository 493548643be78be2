"""Read and write YouTube-8M TFRecord files as plain record dicts, without TensorFlow.

A record dict holds exactly:

* ``"id"``: ``str``, the video id (context key ``id``, or ``video_id`` in the 2017 release);
* ``"labels"``: ``np.int64[L]``, class indices in file order, as stored (not sorted or de-duplicated);
* frame level: one ``np.uint8[T, dim]`` array per feature name (``"rgb"`` ``[T, 1024]``,
  ``"audio"`` ``[T, 128]``) holding every stored frame, still quantized;
* video level: one ``np.float32[dim]`` array per feature, keyed ``"mean_" + name``
  (``"mean_rgb"`` ``[1024]``, ``"mean_audio"`` ``[128]``).

Record schemas: docs/youtube8m_format.md#frame-level-record (frame-level ``SequenceExample``) and
#video-level-record (video-level ``Example``); file framing: :mod:`.tfrecord`. Payloads are parsed with the
protobuf classes of :mod:`.proto`; any problem with file content raises :class:`.CorruptRecordError` carrying the
file, record index and byte offset.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from . import proto
from .errors import CorruptRecordError, RecordTypeError
from .frame_wire import FrameWireDecoder
from .tfrecord import iter_records, write_records

__all__ = [
    "FEATURE_TYPES",
    "ID_KEYS",
    "RecordSchemaError",
    "encode_frame_example",
    "encode_video_example",
    "frame_decoder",
    "record_type_mismatch",
    "read_tfrecord",
    "video_feature_key",
    "write_tfrecord",
]

#: Values accepted for ``feature_type``.
FEATURE_TYPES = ("frame", "video")
#: Context keys tried, in order, when ``id_key`` is None: 2018+ releases, then 2017.
ID_KEYS = ("id", "video_id")


class RecordSchemaError(Exception):
    """A schema problem in one parsed record (missing id or feature, wrong width or type), raised by the
    decoders of :func:`frame_decoder`; readers turn it into :class:`CorruptRecordError` with the file,
    record index and byte offset, which the decoder does not know."""


def record_type_mismatch(payload: bytes, feature_type: str) -> str | None:
    """Why ``payload`` (a record that failed the ``feature_type`` schema) is the *other* kind of
    YouTube-8M record, or None when it is not.

    A video-level ``tf.train.Example`` parses as a ``SequenceExample`` whose context holds its features
    and which has no feature lists (both put their map at field 1), and a ``SequenceExample`` parses as
    an ``Example`` with only the context; so a failed record is parsed once more as the other message
    and looked at. Called on the error path only.

    Args:
        payload: the serialized record.
        feature_type: what the caller reads, ``"frame"`` or ``"video"``.

    Returns:
        e.g. ``"is a video-level record (tf.train.Example with mean_audio, mean_rgb); this config reads
        frame-level SequenceExamples"``, or None.
    """
    from google.protobuf.message import DecodeError

    try:
        if feature_type == "frame":
            example = proto.example_class()()
            example.ParseFromString(payload)
            means = [k for k in ("mean_rgb", "mean_audio") if k in example.features.feature]
            if means:
                return (f"is a video-level record (tf.train.Example with {', '.join(means)}); this config reads "
                        "frame-level SequenceExamples (feature lists rgb, audio)")
        else:
            sequence = proto.sequence_example_class()()
            sequence.ParseFromString(payload)
            lists = [k for k in ("rgb", "audio") if k in sequence.feature_lists.feature_list]
            if lists:
                return (f"is a frame-level record (tf.train.SequenceExample with feature lists {', '.join(lists)}); "
                        "this config reads video-level Examples (mean_rgb, mean_audio)")
    except DecodeError:
        return None
    return None


def video_feature_key(name: str) -> str:
    """Return the video-level key for feature ``name``: ``"mean_" + name``.

    A name that already starts with ``"mean_"`` (as in the starter code's video-level flags,
    ``--feature_names=mean_rgb,mean_audio``) is returned unchanged.

    Args:
        name: feature name such as ``"rgb"`` or ``"mean_rgb"``.

    Returns:
        The key used both in the ``Example`` and in the record dict, e.g. ``"mean_rgb"``.

    Source: docs/youtube8m_format.md#video-level-record (``mean_rgb`` / ``mean_audio``).
    """
    return name if name.startswith("mean_") else "mean_" + name


def _check_layout(
    feature_type: str, feature_names: Sequence[str], feature_dims: Sequence[int]
) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """Validate the caller's schema arguments; raise ValueError/TypeError on bad ones."""
    if feature_type not in FEATURE_TYPES:
        raise ValueError(f"feature_type must be one of {FEATURE_TYPES}, got {feature_type!r}")
    if isinstance(feature_names, str):
        raise TypeError("feature_names must be a sequence of names, not one string")
    names = tuple(feature_names)
    dims = tuple(int(d) for d in feature_dims)
    if len(names) != len(dims):
        raise ValueError(
            f"feature_names {names} and feature_dims {dims} must have the same length"
        )
    if not names:
        raise ValueError("feature_names must not be empty")
    if len(set(names)) != len(names):
        raise ValueError(f"feature_names has duplicates: {names}")
    if any(d <= 0 for d in dims):
        raise ValueError(f"feature_dims must be positive, got {dims}")
    return names, dims


# ----------------------------------------------------------------------------------- reading


def read_tfrecord(
    path: str | os.PathLike,
    feature_type: str = "frame",
    id_key: str | None = None,
    feature_names: Sequence[str] = ("rgb", "audio"),
    feature_dims: Sequence[int] = (1024, 128),
    label_key: str = "labels",
) -> Iterator[dict[str, Any]]:
    """Iterate over the videos of one YouTube-8M TFRecord file.

    Args:
        path: an uncompressed ``.tfrecord`` file.
        feature_type: ``"frame"`` (``tf.train.SequenceExample`` records, docs/youtube8m_format.md#frame-level-record) or
            ``"video"`` (``tf.train.Example`` records, §1.4).
        id_key: context key of the video id; ``None`` tries ``"id"`` (2018+) then
            ``"video_id"`` (2017), per record.
        feature_names: frame level: names of the feature lists; video level: base names, read
            from key ``"mean_" + name`` (see :func:`video_feature_key`).
        feature_dims: width of each feature (bytes per frame, or floats per video), in the
            order of ``feature_names``.
        label_key: context key of the int64 label list. A record without it gets no labels
            (as TF's ``VarLenFeature`` does), which is what unlabelled test files need.

    Returns:
        A lazy iterator of dicts, one per record in file order:
        ``{"id": str, "labels": np.int64[L], <name>: np.uint8[T, dim] ...}`` for frame level
        (all stored frames, no truncation or padding; ``T`` may be 0), or
        ``{"id": str, "labels": np.int64[L], "mean_<name>": np.float32[dim] ...}`` for video
        level. The id is decoded as UTF-8, falling back to Latin-1. Arrays are writable and
        own no shared state with the parser.

    Raises:
        ValueError, TypeError: immediately, for bad arguments.
        CorruptRecordError: while iterating, for any problem with the file content: framing or
            CRC errors, a payload that does not parse, a missing or multi-valued id, a missing
            feature, a frame that is not exactly one bytes value of ``dim`` bytes (the message
            names the feature, frame, width found and width expected), a video-level feature of
            the wrong length, or features with different frame counts.
        OSError: the file cannot be read.

    Source: parsing rules of the starter code's ``YT8MFrameFeatureReader`` /
    ``YT8MAggregatedFeatureReader`` (``parse_single_sequence_example`` with ``FixedLen`` id,
    ``VarLen`` labels and ``FixedLenSequenceFeature`` bytes); docs/youtube8m_format.md#frame-level-record,
    #video-level-record, #tfrecord-framing.
    """
    names, dims = _check_layout(feature_type, feature_names, feature_dims)
    fast = None
    if feature_type == "frame":
        decode = frame_decoder(id_key, names, dims, label_key)
        fast = FrameWireDecoder(id_key, names, dims, label_key)
    else:
        decode = _video_decoder(id_key, names, dims, label_key)
    return _read(os.fspath(path), decode, feature_type, fast)


def _read(path: str, decode, feature_type: str, fast=None) -> Iterator[dict[str, Any]]:
    """Generator behind read_tfrecord: frame, parse, decode, attach error context. ``fast`` (frame level)
    decodes canonical records without the full parse (:mod:`.frame_wire`); it returns None for the rest."""

    cls = proto.sequence_example_class() if feature_type == "frame" else proto.example_class()
    for index, offset, payload in iter_records(path):
        record = fast(payload) if fast is not None else None
        if record is not None:
            yield record
            continue
        message = proto.parse_payload(cls, payload, path=path, index=index, offset=offset)
        try:
            record = decode(message, len(payload)) if feature_type == "frame" else decode(message)
        except RecordSchemaError as exc:
            other = record_type_mismatch(payload, feature_type)
            if other is not None:
                raise RecordTypeError(path, index, offset, other) from None
            raise CorruptRecordError(path, index, offset, str(exc)) from None
        yield record


def _some_keys(mapping: Any, limit: int = 8) -> str:
    """``['a', 'b']`` of the first ``limit`` keys of a protobuf map (a damaged record may hold millions)."""
    keys = []
    for key in mapping:
        if len(keys) == limit:
            return repr(sorted(keys))[:-1] + f", ... ({len(mapping)} in all)]"
        keys.append(key)
    return repr(sorted(keys))


def _decode_id(context: Any, id_key: str | None) -> str:
    """Return the video id from a ``Features`` map (exactly one bytes value)."""
    features = context.feature
    keys = ID_KEYS if id_key is None else (id_key,)
    for key in keys:
        if key in features:
            break
    else:
        wanted = " or ".join(repr(k) for k in keys)
        raise RecordSchemaError(f"missing id: no context feature {wanted} (found {_some_keys(features)})")
    feature = features[key]
    kind = feature.WhichOneof("kind")
    values = feature.bytes_list.value
    if kind != "bytes_list" or len(values) != 1:
        found = f"{len(values)} bytes values" if kind == "bytes_list" else f"kind {kind}"
        raise RecordSchemaError(f"id feature {key!r} must hold exactly one bytes value, found {found}")
    raw = values[0]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _decode_labels(context: Any, label_key: str) -> np.ndarray:
    """Return the labels as int64[L] in file order; missing key or empty feature -> empty."""
    features = context.feature
    if label_key not in features:
        return np.zeros(0, dtype=np.int64)
    feature = features[label_key]
    kind = feature.WhichOneof("kind")
    if kind is None:
        return np.zeros(0, dtype=np.int64)
    if kind != "int64_list":
        raise RecordSchemaError(f"labels feature {label_key!r} must be an int64_list, found {kind}")
    return np.array(feature.int64_list.value, dtype=np.int64)


def frame_decoder(id_key: str | None, names: Sequence[str], dims: Sequence[int],
                  label_key: str = "labels") -> Callable[[Any], dict[str, Any]]:
    """Build the function that turns one parsed frame-level ``tensorflow.SequenceExample`` into a record dict.

    Args:
        id_key: context key of the id, or None to try ``id`` then ``video_id``.
        names / dims: frame features to read and their widths in bytes (``rgb`` 1024, ``audio`` 128).
        label_key: context key of the labels.

    Returns:
        ``decode(message, size=None) -> {"id": str, "labels": int64[L], name: uint8[T, dim], ...}`` with all
        stored frames (schema of docs/youtube8m_format.md#frame-level-record); ``size`` is the serialized record's
        length in bytes (``message.ByteSize()`` when None), which bounds the frames a record can hold.

    Raises (from ``decode``):
        RecordSchemaError: a missing id or feature, a feature of the wrong width or kind, features
            with different frame counts, or more frames than the record's bytes can hold.
    """

    def decode(message: Any, size: int | None = None) -> dict[str, Any]:
        record: dict[str, Any] = {
            "id": _decode_id(message.context, id_key),
            "labels": _decode_labels(message.context, label_key),
        }
        lists = message.feature_lists.feature_list
        # Frames need dim bytes each in the payload: checking their count against the payload's size
        # before touching them keeps a record of a million empty frames from building a million objects.
        budget = message.ByteSize() if size is None else int(size)
        first = None
        for name, dim in zip(names, dims):
            if name not in lists:
                raise RecordSchemaError(
                    f"missing feature list {name!r} (found {_some_keys(lists)})"
                )
            frames = lists[name].feature
            need = len(frames) * dim
            if need > budget:
                raise RecordSchemaError(
                    f"feature {name!r} declares {len(frames)} frames of {dim} bytes ({need} bytes) but the "
                    f"record holds only {budget} bytes for it"
                )
            budget -= need
            frames = _decode_frames(name, dim, frames)
            if first is None:
                first = (name, frames.shape[0])
            elif frames.shape[0] != first[1]:
                raise RecordSchemaError(
                    f"feature {name!r} has {frames.shape[0]} frames but {first[0]!r} has {first[1]}"
                )
            record[name] = frames
        return record

    return decode


def _decode_frames(name: str, dim: int, frames: Any) -> np.ndarray:
    """Join a FeatureList of one-value bytes features into a uint8[T, dim] array.

    The fast path does the per-frame work in list comprehensions and C-level ``map(len, ...)``
    checks; only a failing record pays for the loop that finds and describes the bad frame.
    """
    values = [feature.bytes_list.value for feature in frames]
    if values and set(map(len, values)) != {1}:
        _raise_bad_frame(name, dim, frames)
    parts = [v[0] for v in values]
    if parts and set(map(len, parts)) != {dim}:
        _raise_bad_frame(name, dim, frames)
    # bytearray.join makes one writable buffer, so the array is writable without a second copy.
    return np.frombuffer(bytearray().join(parts), dtype=np.uint8).reshape(len(parts), dim)


def _raise_bad_frame(name: str, dim: int, frames: Any) -> None:
    """Describe the first frame of feature ``name`` that is not one bytes value of dim bytes."""
    for i, feature in enumerate(frames):
        kind = feature.WhichOneof("kind")
        if kind != "bytes_list":
            raise RecordSchemaError(
                f"feature {name!r} frame {i}: expected a bytes_list, found {kind or 'no value'}"
            )
        values = feature.bytes_list.value
        if len(values) != 1:
            raise RecordSchemaError(
                f"feature {name!r} frame {i}: expected exactly 1 bytes value, found {len(values)}"
            )
        if len(values[0]) != dim:
            raise RecordSchemaError(
                f"feature {name!r} frame {i}: found width {len(values[0])} bytes, expected {dim}"
            )
    raise AssertionError("_raise_bad_frame called on valid frames")  # pragma: no cover


def _video_decoder(id_key, names, dims, label_key):
    """Build the function that turns a parsed Example into a record dict."""
    keys = tuple(video_feature_key(n) for n in names)

    def decode(message: Any) -> dict[str, Any]:
        features = message.features
        record: dict[str, Any] = {
            "id": _decode_id(features, id_key),
            "labels": _decode_labels(features, label_key),
        }
        fmap = features.feature
        for key, dim in zip(keys, dims):
            if key not in fmap:
                raise RecordSchemaError(f"missing feature {key!r} (found {_some_keys(fmap)})")
            feature = fmap[key]
            kind = feature.WhichOneof("kind")
            if kind != "float_list":
                raise RecordSchemaError(f"feature {key!r}: expected a float_list, found {kind or 'no value'}")
            values = feature.float_list.value
            if len(values) != dim:
                raise RecordSchemaError(f"feature {key!r}: found width {len(values)}, expected {dim}")
            record[key] = np.array(values, dtype=np.float32)
        return record

    return decode


# ----------------------------------------------------------------------------------- writing


def _id_bytes(video_id: str | bytes) -> bytes:
    if isinstance(video_id, (bytes, bytearray)):
        return bytes(video_id)
    if isinstance(video_id, str):
        return video_id.encode("utf-8")
    raise TypeError(f"video_id must be str or bytes, got {type(video_id).__name__}")


def _fill_context(features: Any, video_id, labels, id_key: str, label_key: str) -> None:
    """Write the id and labels into a ``Features`` message (labels always present, maybe empty)."""
    if id_key == label_key:
        raise ValueError(f"id_key and label_key must differ, both are {id_key!r}")
    features.feature[id_key].bytes_list.value.append(_id_bytes(video_id))
    lab = np.asarray(labels)
    if lab.size and lab.dtype.kind not in "iu":
        raise TypeError(f"labels must be integers, got dtype {lab.dtype}")
    int64_list = features.feature[label_key].int64_list
    int64_list.SetInParent()
    int64_list.value.extend(lab.astype(np.int64).reshape(-1).tolist())


def encode_frame_example(
    video_id: str | bytes,
    labels: Iterable[int] | np.ndarray,
    features: Mapping[str, np.ndarray],
    id_key: str = "id",
    label_key: str = "labels",
) -> bytes:
    """Serialize one frame-level video as a ``tensorflow.SequenceExample``.

    Args:
        video_id: the id; ``str`` is stored UTF-8 encoded, ``bytes`` as is.
        labels: integer class indices, stored in the given order as an int64 list (even if
            empty, as TF-written files do).
        features: feature name -> ``np.uint8[T, D]`` array; each of the ``T`` rows becomes one
            ``Feature`` holding one bytes value of ``D`` bytes.
        id_key: context key for the id: ``"id"`` (2018+) or ``"video_id"`` (2017).
        label_key: context key for the labels.

    Returns:
        The serialized message, with ``deterministic=True`` (map keys sorted), which is the byte
        layout of the TensorFlow-written fixtures.

    Raises:
        TypeError: a feature is not uint8, labels are not integers, the id is not str/bytes.
        ValueError: a feature is not two-dimensional, or ``id_key == label_key``.

    Source: schema of docs/youtube8m_format.md#frame-level-record; layout of the starter code's frame-level files.
    """
    classes = proto.message_classes()
    message = classes["SequenceExample"]()
    _fill_context(message.context, video_id, labels, id_key, label_key)
    lists = message.feature_lists.feature_list
    for name, array in features.items():
        arr = np.asarray(array)
        if arr.dtype != np.uint8:
            raise TypeError(f"frame feature {name!r} must be uint8, got dtype {arr.dtype}")
        if arr.ndim != 2:
            raise ValueError(f"frame feature {name!r} must be [T, D], got shape {arr.shape}")
        frame_list = lists[name]
        frame_list.SetInParent()
        width = arr.shape[1]
        data = np.ascontiguousarray(arr).tobytes()
        add = frame_list.feature.add
        for start in range(0, arr.shape[0] * width, width) if width else [0] * arr.shape[0]:
            add().bytes_list.value.append(data[start:start + width])
    return message.SerializeToString(deterministic=True)


def encode_video_example(
    video_id: str | bytes,
    labels: Iterable[int] | np.ndarray,
    features: Mapping[str, np.ndarray],
    id_key: str = "id",
    label_key: str = "labels",
) -> bytes:
    """Serialize one video-level record as a ``tensorflow.Example``.

    Args:
        video_id: the id; ``str`` is stored UTF-8 encoded, ``bytes`` as is.
        labels: integer class indices, stored in the given order as an int64 list.
        features: key -> real ``[D]`` array, stored as a float_list of float32 values under the
            key as given (use ``"mean_rgb"``/``"mean_audio"`` for YouTube-8M).
        id_key: feature key for the id: ``"id"`` (2018+) or ``"video_id"`` (2017).
        label_key: feature key for the labels.

    Returns:
        The serialized message, with ``deterministic=True`` (map keys sorted).

    Raises:
        TypeError: a feature is not a floating-point array, labels are not integers, the id is
            not str/bytes.
        ValueError: a feature is not one-dimensional, or a feature key collides with the id or
            label key.

    Source: schema of docs/youtube8m_format.md#video-level-record.
    """
    classes = proto.message_classes()
    message = classes["Example"]()
    features_msg = message.features
    _fill_context(features_msg, video_id, labels, id_key, label_key)
    for key, array in features.items():
        if key in (id_key, label_key):
            raise ValueError(f"feature key {key!r} collides with the id or label key")
        arr = np.asarray(array)
        if arr.dtype.kind != "f":
            raise TypeError(f"video feature {key!r} must be floating point, got dtype {arr.dtype}")
        if arr.ndim != 1:
            raise ValueError(f"video feature {key!r} must be [D], got shape {arr.shape}")
        float_list = features_msg.feature[key].float_list
        float_list.SetInParent()
        float_list.value.extend(arr.astype(np.float32).tolist())
    return message.SerializeToString(deterministic=True)


def write_tfrecord(
    path: str | os.PathLike,
    records: Iterable[Mapping[str, Any]],
    feature_type: str = "frame",
    id_key: str = "id",
    feature_names: Sequence[str] = ("rgb", "audio"),
    label_key: str = "labels",
) -> int:
    """Write record dicts (the layout :func:`read_tfrecord` yields) to a TFRecord file.

    Args:
        path: destination ``.tfrecord``; written atomically (temporary file + ``os.replace``).
        records: dicts with ``"id"`` (str or bytes), ``"labels"`` (int[L]) and, for
            ``feature_type="frame"``, ``np.uint8[T, D]`` under each name of ``feature_names``;
            for ``"video"``, a float ``[D]`` array under ``"mean_" + name``
            (see :func:`video_feature_key`). Other keys are ignored.
        feature_type: ``"frame"`` (SequenceExample) or ``"video"`` (Example).
        id_key: key under which the id is stored: ``"id"`` (2018+) or ``"video_id"`` (2017).
        feature_names: which features to write, in the reader's naming.
        label_key: key under which the labels are stored.

    Returns:
        The number of records written.

    Raises:
        ValueError: bad ``feature_type``, or a record lacks ``id``, ``labels`` or a feature
            (then no file is written and an existing ``path`` is left as it was).
        TypeError: see :func:`encode_frame_example` / :func:`encode_video_example`.
        OSError: the file cannot be written.

    Source: docs/youtube8m_format.md#frame-level-record, #video-level-record (schema) and #tfrecord-framing (framing).
    """
    if feature_type not in FEATURE_TYPES:
        raise ValueError(f"feature_type must be one of {FEATURE_TYPES}, got {feature_type!r}")
    if isinstance(feature_names, str):
        raise TypeError("feature_names must be a sequence of names, not one string")
    if feature_type == "frame":
        keys = tuple(feature_names)
        encode = encode_frame_example
    else:
        keys = tuple(video_feature_key(n) for n in feature_names)
        encode = encode_video_example

    def payloads() -> Iterator[bytes]:
        for i, record in enumerate(records):
            missing = [k for k in ("id", "labels", *keys) if k not in record]
            if missing:
                raise ValueError(f"record {i} lacks {missing} (has {sorted(record)})")
            yield encode(
                record["id"],
                record["labels"],
                {k: record[k] for k in keys},
                id_key=id_key,
                label_key=label_key,
            )

    return write_records(path, payloads())
