"""The segment ratings of YouTube-8M's 2019 segment-rated records (``3/frame/validate``, ``3/frame/test``).

A segment-rated record is a frame-level ``tf.train.SequenceExample`` (docs/youtube8m_format.md#frame-level-record)
whose context holds, besides ``id`` and the video-level ``labels``, four parallel lists with one position per
rated (segment, class) pair:

* ``segment_labels`` int64 [m]: the rated class (an index into the 3,862-class vocabulary);
* ``segment_start_times`` int64 [m]: the segment's first frame, which is also its start second;
* ``segment_end_times`` [m]: the segment's end; its dtype is not established (int64 and float are accepted),
  only its length is checked and no reader uses it;
* ``segment_scores`` float [m]: the human rating, 1.0 positive, 0.0 negative.

Sources: google/youtube-8m ``readers.py`` (``YT8MFrameFeatureReader(segment_labels=True)``) and
``segment_eval_inference.py`` (``VarLenFeature`` int64 / float32 for these keys); the dataset page
research.google.com/youtube8m (2019 segment-rated set). The rules are written out in ``docs/segments.md``.

Nothing here imports paddle.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import proto
from .errors import CorruptRecordError, DataError
from .quantization import dequantize_numpy
from .reader import ID_KEYS, RecordSchemaError, _decode_id, encode_frame_example
from .tfrecord import iter_records

__all__ = [
    "END_KEY",
    "LABEL_KEY",
    "SCORE_KEY",
    "MAX_FRAMES",
    "SEGMENT_KEYS",
    "SEGMENT_SIZE",
    "START_KEY",
    "SegmentLabelError",
    "SegmentRatings",
    "count_rated_records",
    "encode_segment_example",
    "iter_segment_ratings",
    "segment_examples",
    "segment_matrix",
    "parse_segment_ratings",
]

#: Context key of the rated class of each pair (int64).
LABEL_KEY = "segment_labels"
#: Context key of the start frame (= second) of each pair's segment (int64).
START_KEY = "segment_start_times"
#: Context key of the end of each pair's segment (optional, int64 or float, not used).
END_KEY = "segment_end_times"
#: Context key of the human rating of each pair (float; 1.0 positive, 0.0 negative).
SCORE_KEY = "segment_scores"
#: The three keys the starter reader parses; a record has all of them or none.
SEGMENT_KEYS = (LABEL_KEY, START_KEY, SCORE_KEY)
#: Frames per rated segment (the starter reader's ``segment_size``; 5 seconds at 1 frame per second).
SEGMENT_SIZE = 5
#: Rows of the starter reader's padded frame matrix (``max_frames``).
MAX_FRAMES = 300


class SegmentLabelError(CorruptRecordError):
    """The ``segment_*`` context lists of one record break the schema of docs/segments.md.

    Raised for: one of ``segment_labels`` / ``segment_start_times`` / ``segment_scores`` missing while another
    is non-empty, a list of the wrong kind (e.g. ``segment_start_times`` as floats), lists of different lengths
    (``segment_end_times`` included when present), a negative start time, the same (start time, class) pair
    rated twice, a class outside ``[0, num_classes)``, a score that is NaN or infinite, or a missing id.

    It subclasses :class:`CorruptRecordError` (so a dataset's ``skip_corrupt`` skips the record) and, through
    it, :class:`DataError` / ``ValueError``.

    Attributes:
        path: the file (``str``).
        index: 0-based index of the record in the file (``int``).
        key: the context key at fault (``str``, e.g. ``"segment_start_times"``).
        reason: what is wrong, in words (``str``).
        offset: byte offset of the record's header (``int``), or ``None`` when the caller does not know it.

    The message reads ``"<path>: record <index>[ at byte <offset>]: <key>: <reason>"``.
    """

    def __init__(self, path: str | os.PathLike, index: int, key: str, reason: str,
                 offset: int | None = None) -> None:
        """Build the error (arguments as the attributes; ``os.PathLike`` paths become ``str``)."""
        self.path = os.fspath(path)
        self.index = int(index)
        self.key = str(key)
        self.reason = str(reason)
        self.offset = None if offset is None else int(offset)
        where = f"{self.path}: record {self.index}"
        if self.offset is not None:
            where += f" at byte {self.offset}"
        DataError.__init__(self, f"{where}: {self.key}: {self.reason}")

    def __reduce__(self):
        """Keep the attributes when the error crosses a process boundary (DataLoader workers)."""
        return (type(self), (self.path, self.index, self.key, self.reason, self.offset))


@dataclass(frozen=True)
class SegmentRatings:
    """The rated (segment, class) pairs of one video, in file order.

    Attributes:
        video_id: the video id (``str``; context ``id``, or ``video_id`` in the 2017 layout).
        start_times: ``np.int64[m]``, the start frame (= second) of each pair's segment, all >= 0.
        classes: ``np.int64[m]``, the rated class of each pair.
        scores: ``np.float32[m]``, the rating of each pair (1.0 positive, 0.0 negative; > 0 counts as
            positive in the challenge metric).
        end_times: the stored ``segment_end_times`` as ``np.int64[m]`` or ``np.float32[m]``, or ``None`` when the
            record has no such key. Informational only: segments are ``segment_size`` frames long.

    ``m`` is 0 for a record without ``segment_*`` keys or with empty lists. No (start, class) pair repeats.
    """

    video_id: str
    start_times: np.ndarray
    classes: np.ndarray
    scores: np.ndarray
    end_times: np.ndarray | None = None

    def __len__(self) -> int:
        """Number of rated pairs ``m``."""
        return int(self.classes.shape[0])

    def unique_starts(self) -> tuple[np.ndarray, np.ndarray]:
        """The distinct start times in order of first occurrence, as TF's ``tf.unique`` returns them.

        Returns:
            ``(starts int64[S], segment_of_pair int64[m])``: ``starts[segment_of_pair[j]] == start_times[j]``.
        """
        starts, first, inverse = np.unique(self.start_times, return_index=True, return_inverse=True)
        order = np.argsort(first, kind="stable")          # sorted-unique position -> first-occurrence rank
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        return starts[order].astype(np.int64), rank[inverse.reshape(-1)].astype(np.int64)


def _context_of(context_or_example: Any) -> Any:
    """The ``Features`` map of a ``SequenceExample`` (its ``context``) or the ``Features`` itself."""
    return context_or_example.context if hasattr(context_or_example, "context") else context_or_example


def _values(features: Any, key: str, kinds: tuple[str, ...], err) -> tuple[np.ndarray, str] | None:
    """The values of context feature ``key`` (None when absent), checked to be one of ``kinds``."""
    if key not in features:
        return None
    feature = features[key]
    kind = feature.WhichOneof("kind")
    if kind is None:  # a Feature with no list at all: TF's VarLenFeature reads it as empty
        return np.zeros(0, np.int64 if kinds[0] == "int64_list" else np.float32), kinds[0]
    if kind not in kinds:
        raise err(key, f"must be {' or '.join(kinds)}, found {kind}")
    if kind == "int64_list":
        return np.array(feature.int64_list.value, dtype=np.int64), kind
    if kind == "float_list":
        return np.array(feature.float_list.value, dtype=np.float32), kind
    raise err(key, f"must be {' or '.join(kinds)}, found {kind}")  # pragma: no cover - kinds are int64/float


def parse_segment_ratings(context_or_example: Any, *, path: str | os.PathLike, record: int,
                          num_classes: int | None = None, offset: int | None = None,
                          id_key: str | None = None) -> SegmentRatings:
    """Read and check the ``segment_*`` context lists of one parsed record.

    Args:
        context_or_example: a parsed ``tensorflow.SequenceExample`` (:func:`proto.sequence_example_class`) or its
            ``context`` (a ``tensorflow.Features``).
        path: the file the record came from, for error messages.
        record: the record's 0-based index in that file, for error messages.
        num_classes: when given, every rated class must lie in ``[0, num_classes)`` (3,862 for the 2018/2019
            vocabulary); None checks only that classes are >= 0.
        offset: the record's byte offset, for error messages (optional).
        id_key: context key of the id; None tries ``id`` then ``video_id``.

    Returns:
        :class:`SegmentRatings` with the pairs in file order; empty when the record has none of
        ``segment_labels``, ``segment_start_times``, ``segment_scores``, or only empty ones (the starter reader's
        ``VarLenFeature`` reads a missing key as empty too, and then yields no example).

    Raises:
        SegmentLabelError: naming the file, record and key, for a missing id, one of the three keys non-empty
            while another is missing, a list of the wrong kind (``segment_labels`` and ``segment_start_times`` must be
            int64, ``segment_scores`` float, ``segment_end_times`` int64 or float), lists of different lengths,
            a negative start time, a duplicate (start time, class) pair, a class outside the vocabulary, or a
            score that is not finite.

    Source: google/youtube-8m ``readers.py`` (segment mode) and ``segment_eval_inference.py``; docs/segments.md.
    """
    path = os.fspath(path)

    def err(key: str, reason: str) -> SegmentLabelError:
        return SegmentLabelError(path, record, key, reason, offset)

    features = _context_of(context_or_example).feature
    try:
        video_id = _decode_id(_context_of(context_or_example), id_key)
    except RecordSchemaError as e:
        raise err(id_key or ID_KEYS[0], str(e)) from None
    found = {k: _values(features, k, kinds, err) for k, kinds in
             ((LABEL_KEY, ("int64_list",)), (START_KEY, ("int64_list",)), (SCORE_KEY, ("float_list",)),
              (END_KEY, ("int64_list", "float_list")))}
    present = [k for k in SEGMENT_KEYS if found[k] is not None]
    if all(found[k][0].size == 0 for k in present):  # none, or only empty lists: no rating (VarLen reads [])
        empty = np.zeros(0, np.int64)
        ends = None if found[END_KEY] is None else found[END_KEY][0]
        if ends is not None and ends.size:
            raise err(END_KEY, f"has {ends.size} values but {', '.join(SEGMENT_KEYS)} are missing")
        return SegmentRatings(video_id, empty, empty.copy(), np.zeros(0, np.float32), ends)
    if len(present) < len(SEGMENT_KEYS):
        missing = [k for k in SEGMENT_KEYS if k not in present]
        raise err(missing[0], f"is missing while {', '.join(present)} {'is' if len(present) == 1 else 'are'} present "
                              "(a segment-rated record has all of segment_labels, segment_start_times, segment_scores)")
    classes, starts, scores = (found[k][0] for k in SEGMENT_KEYS)
    ends = None if found[END_KEY] is None else found[END_KEY][0]
    m = classes.size
    for key, values in ((START_KEY, starts), (SCORE_KEY, scores), (END_KEY, ends)):
        if values is not None and values.size != m:
            raise err(key, f"has {values.size} values but {LABEL_KEY} has {m}; the segment lists must be parallel "
                           "(one position per rated segment and class)")
    negative = np.flatnonzero(starts < 0)
    if negative.size:
        j = int(negative[0])
        raise err(START_KEY, f"start time {int(starts[j])} at position {j} is negative")
    limit = f"[0, {int(num_classes)})" if num_classes is not None else "[0, ...)"
    top = np.iinfo(np.int64).max if num_classes is None else int(num_classes)
    bad = np.flatnonzero((classes < 0) | (classes >= top))
    if bad.size:
        j = int(bad[0])
        raise err(LABEL_KEY, f"class {int(classes[j])} at position {j} is outside {limit}"
                             + (f" (num_classes={int(num_classes)})" if num_classes is not None else ""))
    nonfinite = np.flatnonzero(~np.isfinite(scores))
    if nonfinite.size:
        j = int(nonfinite[0])
        raise err(SCORE_KEY, f"score {float(scores[j])} at position {j} is not finite")
    if m > 1:
        pairs = np.stack([starts, classes], axis=1)
        _, first, counts = np.unique(pairs, axis=0, return_index=True, return_counts=True)
        if (counts > 1).any():
            j = int(first[np.flatnonzero(counts > 1)].min())
            later = [i for i in range(j + 1, m) if starts[i] == starts[j] and classes[i] == classes[j]]
            raise err(LABEL_KEY, f"(start time {int(starts[j])}, class {int(classes[j])}) is rated twice, at "
                                 f"positions {j} and {later[0]}")
    return SegmentRatings(video_id, starts, classes, scores, ends)


def iter_segment_ratings(path: str | os.PathLike, *, num_classes: int | None = None,
                         id_key: str | None = None) -> Iterator[SegmentRatings]:
    """The :class:`SegmentRatings` of every record of a TFRecord file, in file order.

    Args:
        path: an uncompressed ``.tfrecord`` file of frame-level ``SequenceExample`` records.
        num_classes: as :func:`parse_segment_ratings`.
        id_key: as :func:`parse_segment_ratings`.

    Yields:
        One :class:`SegmentRatings` per record (empty for a record without ``segment_*`` keys).

    Raises:
        CorruptRecordError: bad framing or CRC, or a payload that is not a ``SequenceExample``
            (:func:`paddlevideo.loader.yt8m.tfrecord.iter_records`); the error names file, record and offset.
        SegmentLabelError: see :func:`parse_segment_ratings` (with the record's byte offset).
        OSError: the file cannot be read.

    Source: docs/segments.md; framing docs/youtube8m_format.md#tfrecord-framing.
    """

    path = os.fspath(path)
    cls = proto.sequence_example_class()
    for index, offset, payload in iter_records(path):
        message = proto.parse_payload(cls, payload, path=path, index=index, offset=offset)
        yield parse_segment_ratings(message, path=path, record=index, num_classes=num_classes, offset=offset,
                                    id_key=id_key)


def encode_segment_example(video_id: str | bytes, labels: Iterable[int] | np.ndarray,
                           features: Mapping[str, np.ndarray], start_times: Iterable[int] | np.ndarray,
                           classes: Iterable[int] | np.ndarray, scores: Iterable[float] | np.ndarray,
                           end_times: Iterable[int] | np.ndarray | None = None, id_key: str = "id") -> bytes:
    """Serialize one segment-rated video as a ``tensorflow.SequenceExample`` (the layout of ``3/frame``).

    Args:
        video_id / labels / features / id_key: as :func:`paddlevideo.loader.yt8m.reader.encode_frame_example`
            (``features``: name -> ``np.uint8[T, D]``).
        start_times: int [m], stored as ``segment_start_times`` (int64_list).
        classes: int [m], stored as ``segment_labels`` (int64_list).
        scores: real [m], stored as ``segment_scores`` (float_list, float32).
        end_times: int [m] stored as ``segment_end_times`` (int64_list), or None to leave the key out.

    The lists are written as given, unchecked (tests write broken records with this). Empty lists are
    written as present-but-empty keys.

    Returns:
        The serialized record, ``deterministic=True`` (map keys sorted).

    Raises:
        TypeError / ValueError: see ``encode_frame_example``.

    Source: context keys of google/youtube-8m ``readers.py`` (segment mode); docs/segments.md.
    """
    message = proto.sequence_example_class()()
    message.ParseFromString(encode_frame_example(video_id, labels, features, id_key=id_key))
    context = message.context.feature
    for key, values, kind in ((START_KEY, start_times, "int64"), (LABEL_KEY, classes, "int64"),
                              (SCORE_KEY, scores, "float"), (END_KEY, end_times, "int64")):
        if values is None:
            continue
        if kind == "int64":
            target = context[key].int64_list
            target.SetInParent()
            target.value.extend(np.asarray(values, dtype=np.int64).reshape(-1).tolist())
        else:
            target = context[key].float_list
            target.SetInParent()
            target.value.extend(np.asarray(values, dtype=np.float32).reshape(-1).tolist())
    return message.SerializeToString(deterministic=True)


def segment_examples(record: Mapping[str, Any], ratings: SegmentRatings, *, num_classes: int,
                     feature_names: Iterable[str] = ("rgb", "audio"), segment_size: int = SEGMENT_SIZE,
                     max_frames: int = MAX_FRAMES) -> tuple[list[dict[str, Any]], list[int]]:
    """The training examples of one video: one per distinct rated start time, in order of first occurrence.

    The rule of the starter reader in segment mode (google/youtube-8m ``readers.py``,
    ``YT8MFrameFeatureReader(segment_labels=True)``; the same in TF Model Garden ``yt8m_input.py``
    ``_process_segment_and_label``): the video is cut to its first ``max_frames`` frames, and the example of start
    ``s`` holds frames ``s .. s + segment_size - 1`` of it. Here the frames stay quantized (the model dequantizes)
    and a window that runs past the video's end holds only its real frames, so ``len(example[name])`` is the
    number of real frames (the starter pads with rows of 0.0 instead and reports ``num_frames = 5``;
    :func:`segment_matrix` rebuilds its float matrix from an example).

    A start at or past the video's last kept frame (``s >= min(T, max_frames)``) has no real frame: the starter
    gathers rows of zeros for it (below 300) or fails (at 300 or beyond). Real files hold such starts; they are
    skipped and returned so the caller can count them.

    Args:
        record: a frame-level record dict (``{"id": str, name: uint8[T, D], ...}``, as
            :func:`paddlevideo.loader.yt8m.reader.frame_decoder` gives).
        ratings: the record's :class:`SegmentRatings` (:func:`parse_segment_ratings`, with the same ``num_classes``
            so every class is below it).
        num_classes: length C of the label vectors (3,862 for the real data).
        feature_names: frame features to cut (rgb, audio).
        segment_size: frames per segment (5).
        max_frames: frames of the video that are kept (300).

    Returns:
        ``(examples, skipped_starts)``. Each example is ``{"id": str, "segment_start": np.int64,
        name: uint8[n, D] (n = 1..segment_size real frames), "labels": float32[C] (the score of each class rated
        at this start, else 0), "label_weights": float32[C] (1.0 at each class rated at this start, else 0)}``;
        ``skipped_starts`` lists the start times left out, in order of first occurrence.

    Raises:
        ValueError: a class of ``ratings`` outside ``[0, num_classes)`` (parse with ``num_classes`` to get a
            :class:`SegmentLabelError` naming the file and record instead).

    Source: docs/segments.md ("Reader rule").
    """
    names = list(feature_names)
    total = min(len(record[names[0]]), int(max_frames))
    starts, segment_of_pair = ratings.unique_starts()
    if ratings.classes.size and (ratings.classes.min() < 0 or ratings.classes.max() >= num_classes):
        raise ValueError(f"video {ratings.video_id!r}: a rated class is outside [0, {num_classes})")
    examples: list[dict[str, Any]] = []
    skipped: list[int] = []
    for j, start in enumerate(starts.tolist()):
        if start >= total:
            skipped.append(int(start))
            continue
        stop = min(start + int(segment_size), total)
        pairs = segment_of_pair == j
        labels = np.zeros(num_classes, np.float32)
        weights = np.zeros(num_classes, np.float32)
        labels[ratings.classes[pairs]] = ratings.scores[pairs]
        weights[ratings.classes[pairs]] = 1.0
        example: dict[str, Any] = {"id": ratings.video_id, "segment_start": np.int64(start)}
        for name in names:
            example[name] = np.ascontiguousarray(record[name][start:stop])
        example["labels"] = labels
        example["label_weights"] = weights
        examples.append(example)
    return examples, skipped


def segment_matrix(example: Mapping[str, Any], feature_names: Iterable[str] = ("rgb", "audio"),
                   segment_size: int = SEGMENT_SIZE) -> np.ndarray:
    """The starter reader's ``video_matrix`` row of one example of :func:`segment_examples`.

    Args:
        example: an example dict with ``uint8[n, D]`` frames under each name, ``n <= segment_size``.
        feature_names: features to join, in order (rgb then audio gives 1024 + 128 = 1152 columns).
        segment_size: rows of the result.

    Returns:
        float32 ``[segment_size, sum D]``: the dequantized features (float32 arithmetic, bit-exact to
        TensorFlow's), joined along the feature axis, then padded at the end with rows of 0.0.

    Source: google/youtube-8m ``readers.py`` (dequantize, ``resize_axis`` pads after dequantization);
    docs/segments.md.
    """
    parts = [dequantize_numpy(np.asarray(example[name], dtype=np.uint8)) for name in feature_names]
    joined = np.concatenate(parts, axis=1)
    out = np.zeros((int(segment_size), joined.shape[1]), np.float32)
    out[: joined.shape[0]] = joined
    return out


def count_rated_records(path: str | os.PathLike) -> int:
    """How many records of a TFRecord file carry segment ratings (a non-empty ``segment_labels``,
    ``segment_start_times`` or ``segment_scores``); the lists are not checked.

    Only the context is parsed: a ``SequenceExample`` read as an ``Example`` (both keep their context / features
    map at field 1), so the frames are skipped, not decoded.

    Raises:
        CorruptRecordError: bad framing or CRC, or a payload that is not a protobuf.
        OSError: the file cannot be read.
    """

    path = os.fspath(path)
    cls = proto.example_class()
    count = 0
    for index, offset, payload in iter_records(path):
        message = proto.parse_payload(cls, payload, path=path, index=index, offset=offset)
        features = message.features.feature
        for key in SEGMENT_KEYS:
            if key in features:
                f = features[key]
                if len(f.int64_list.value) or len(f.float_list.value):
                    count += 1
                    break
    return count
