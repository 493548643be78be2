"""Streaming dataset over YouTube-8M's 2019 segment-rated TFRecords: one example per rated 5-frame window."""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...utils.logger import get_logger
from ...utils.types import PositiveInt
from ..registry import DATASETS
from ..yt8m import CorruptRecordError, DataError, DataReadError, proto
from ..yt8m.errors import RecordTypeError
from ..yt8m.reader import RecordSchemaError, frame_decoder, record_type_mismatch
from ..yt8m.segments import MAX_FRAMES, SEGMENT_KEYS, SEGMENT_SIZE, parse_segment_ratings, segment_examples
from ..yt8m.tfrecord import FileIndex, index_tfrecord, read_payload_at
from .base import ShardedVideoDataset
from .sharding import locate
from .yt8m_tfrecord import expand_file_pattern

__all__ = ["SegmentFileIndex", "YouTube8MSegmentDataset"]


@dataclass
class SegmentFileIndex:
    """The examples of one segment-rated file: which record and start time each one is.

    Attributes:
        records: the file's record index (offsets and lengths of every record, :func:`index_tfrecord`).
        record: ``np.int64[E]``, the record of each example, ascending.
        start: ``np.int64[E]``, the start time of each example; within a record in order of first occurrence.
        problems: records left out under ``skip_corrupt`` because their segment lists or frame lists are
            broken (reported every epoch).
    """

    records: FileIndex
    record: np.ndarray
    start: np.ndarray
    problems: list[CorruptRecordError] = field(default_factory=list)

    @property
    def path(self) -> str:
        """The file."""
        return self.records.path

    def __len__(self) -> int:
        """Examples ``E`` in the file."""
        return int(self.record.shape[0])


@DATASETS.register()
class YouTube8MSegmentDataset(ShardedVideoDataset):
    """YouTube-8M 2019 segment-rated frame-level TFRecords (``3/frame/validate``), one example per rated
    segment, for fine-tuning on segments with weighted BCE.

    Every distinct start time ``s`` rated in a video (context ``segment_start_times``, in order of first
    occurrence) gives one example: frames ``s .. s + segment_size - 1`` of the video's first ``max_frames``
    frames, ``labels`` float32 [C] holding the rating (``segment_scores``) of each class rated at ``s`` and 0
    elsewhere, and ``label_weights`` float32 [C] holding 1 at the rated classes, as the starter reader
    (docs/segments.md). A window past the video's end holds only its real frames (``lengths`` < 5; the model
    masks the rest). A start at or past the last kept frame has no frame at all: it is skipped, and the count
    is logged once when the files are indexed (:attr:`skipped_starts`).

    The files are indexed once (every record is parsed, its ``segment_*`` lists checked and its frames counted),
    so the examples are split across ranks, steps and loader workers exactly as records are in
    :class:`~paddlevideo.loader.datasets.yt8m_tfrecord.YouTube8MTFRecordDataset` (:mod:`.sharding`), and
    :meth:`num_steps` is exact. Records without ``segment_*`` keys give no example and are not decoded further.

    Batch keys: ``rgb`` uint8 [B, t, 1024], ``audio`` uint8 [B, t, 128] (t <= segment_size), ``lengths``
    int64 [B], ``labels`` float32 [B, C], ``label_weights`` float32 [B, C] (the losses' ``weights``),
    ``segment_start`` int64 [B] and ``id`` (a list of B ``str`` video ids; evaluation hands metrics a numpy
    str array). A metric gets ``update(probs, labels, label_weights=..., segment_start=..., id=..., lengths=...)``.

    Args:
        file_pattern: glob (or list of globs) of segment-rated ``.tfrecord`` files.
        pipeline: pipeline step configs applied to every example (its frame features are the window's
            frames; ``MultiHotLabels`` does not apply, the labels are already vectors).
        num_classes: C, the length of ``labels`` / ``label_weights``; rated classes must be below it. Filled in
            from ``MODEL.head.num_classes`` when the config does not set it.
        segment_size: frames per segment (5, as the starter's ``segment_size``).
        max_frames: frames of each video that are used (300, as the starter).
        feature_names / feature_dims: frame features and their widths in bytes.
        id_key: context key of the video id; None tries ``id`` then ``video_id``.
        shuffle / shuffle_buffer / seed: as :class:`~paddlevideo.loader.datasets.base.ShardedVideoDataset`.
        skip_corrupt: skip (and report) records whose content is broken, including their segment lists
            (:class:`~paddlevideo.loader.yt8m.segments.SegmentLabelError`), instead of raising.

    Raises:
        FileNotFoundError: the pattern matches no file.
        ValueError: ``num_classes``, ``segment_size`` or ``max_frames`` below 1, or a pipeline step that converts
            class-index labels (``uses_labels``, e.g. ``MultiHotLabels``): segment labels are rating vectors.
        CorruptRecordError / SegmentLabelError / RecordTypeError / DataReadError: while indexing or reading,
            naming the file, record, byte offset and (for segment lists) the key.
    """

    extra_keys = ("label_weights", "segment_start")

    def __init__(self, file_pattern: str | Sequence[str], pipeline: Sequence[Any] | None = None,
                 num_classes: PositiveInt = 3862, segment_size: PositiveInt = SEGMENT_SIZE,
                 max_frames: PositiveInt = MAX_FRAMES,
                 feature_names: Sequence[str] = ("rgb", "audio"), feature_dims: Sequence[int] = (1024, 128),
                 id_key: str | None = None, shuffle: bool = False, shuffle_buffer: PositiveInt = 1024,
                 seed: int = 0, skip_corrupt: bool = False) -> None:
        super().__init__(pipeline, feature_names, feature_dims, shuffle, shuffle_buffer, seed, 0, skip_corrupt)
        label_steps = [type(step).__name__ for step in self.pipeline.steps if getattr(step, "uses_labels", False)]
        if label_steps:
            raise ValueError(f"pipeline step {', '.join(label_steps)} turns class-index labels into a multi-hot "
                             "vector, but a segment example's labels are already one rating per class; remove it "
                             "from the segment dataset's PIPELINE")
        for name, value in (("num_classes", num_classes), ("segment_size", segment_size), ("max_frames", max_frames)):
            if int(value) < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        self.file_pattern = file_pattern
        self.files = expand_file_pattern(file_pattern)
        self.num_classes = int(num_classes)
        self.segment_size = int(segment_size)
        self.max_frames = int(max_frames)
        self.id_key = id_key
        #: Rated start times left out because they lie at or past the last kept frame of their video:
        #: ``(path, record, video id, start, frames)`` for each, filled when the files are indexed.
        self.skipped_starts: list[tuple[str, int, str, int, int]] = []
        self._index: list[SegmentFileIndex] | None = None

    def source_name(self) -> str:
        """The file pattern."""
        return str(self.file_pattern)

    # ------------------------------------------------------------------ index

    def index(self) -> list[SegmentFileIndex]:
        """The examples of every file (built once; every record is parsed, frames are counted, not decoded).

        Raises:
            CorruptRecordError: framing errors, payloads that are not SequenceExamples, missing feature lists,
                and broken segment lists (:class:`SegmentLabelError`), unless ``skip_corrupt``.
            DataReadError: not one example in all the files (frame-level files without ``segment_*`` keys, say),
                naming the file pattern and why.
            RecordTypeError: a video-level file.
        """
        if self._index is None:
            self.skipped_starts = []
            index = [self._index_file(p) for p in self.files]
            rated = sum(len(fi) for fi in index) + len(self.skipped_starts)
            if self.skipped_starts:
                path, record, vid, start, frames = self.skipped_starts[0]
                get_logger().info(
                    f"{self.source_name()}: skipped {len(self.skipped_starts)} of {rated} rated start times at or past "
                    f"the last kept frame of their video (first: {path} record {record}, video {vid!r}, start {start}, "
                    f"{frames} frames)")
            if not sum(len(fi) for fi in index):
                records = sum(len(fi.records) for fi in index)
                broken = sum(len(fi.problems) for fi in index)
                if broken:
                    reason = (f"no rated segment left in {len(index)} file(s): {broken} of {records} records were "
                              "skipped as corrupt (skip_corrupt)")
                elif rated:
                    reason = (f"no rated segment with frames in {len(index)} file(s): all {rated} rated start times "
                              "lie at or past the last kept frame of their video")
                else:
                    reason = (f"no rated segment in {len(index)} file(s) ({records} records, none with "
                              f"{', '.join(SEGMENT_KEYS)}); the segment dataset reads segment-rated files such as "
                              "YouTube-8M's 3/frame/validate")
                raise DataReadError(self.source_name(), reason)
            self._index = index
        return self._index

    def _index_file(self, path: str) -> SegmentFileIndex:

        fi = index_tfrecord(path)
        problems: list[CorruptRecordError] = []
        if fi.problem is not None:
            if not self.skip_corrupt:
                raise fi.problem
            get_logger().warning(f"skipping the rest of {fi.path}: {fi.problem}")
        records: list[int] = []
        starts: list[int] = []
        cls = proto.sequence_example_class()
        index, offset = 0, None
        try:
            with open(fi.path, "rb") as f:
                for index in range(len(fi)):
                    offset = int(fi.offsets[index])
                    try:
                        payload = read_payload_at(f, fi.path, index, offset, int(fi.lengths[index]))
                        message = proto.parse_payload(cls, payload, path=fi.path, index=index, offset=offset)
                        frames = self._count_frames(message, payload, fi.path, index, offset)
                        ratings = parse_segment_ratings(message, path=fi.path, record=index,
                                                        num_classes=self.num_classes, offset=offset, id_key=self.id_key)
                    except CorruptRecordError as e:
                        if not self.skip_corrupt:
                            raise
                        problems.append(e)
                        continue
                    total = min(frames, self.max_frames)
                    for s in ratings.unique_starts()[0].tolist():
                        if s >= total:
                            self.skipped_starts.append((fi.path, index, ratings.video_id, int(s), frames))
                        else:
                            records.append(index)
                            starts.append(int(s))
        except DataError:
            raise
        except Exception as e:  # I/O errors and anything unexpected: name the file and record
            raise DataReadError.from_exception(e, fi.path, index, offset) from None
        return SegmentFileIndex(fi, np.asarray(records, np.int64), np.asarray(starts, np.int64), problems)

    def _count_frames(self, message: Any, payload: bytes, path: str, index: int, offset: int) -> int:
        """Frames of the record's first feature list; every feature list must exist with that many frames."""
        lists = message.feature_lists.feature_list
        counts = []
        for name in self.feature_names:
            if name not in lists:
                other = record_type_mismatch(payload, "frame")
                if other is not None:
                    raise RecordTypeError(path, index, offset, other)
                raise CorruptRecordError(path, index, offset, f"missing feature list {name!r} "
                                         f"(found {sorted(lists)[:8]})")
            counts.append(len(lists[name].feature))
        if len(set(counts)) > 1:
            raise CorruptRecordError(path, index, offset, f"feature {self.feature_names[1]!r} has {counts[1]} frames "
                                     f"but {self.feature_names[0]!r} has {counts[0]}")
        return counts[0]

    def num_records(self) -> int:
        """Examples (rated windows with at least one frame) in all files."""
        return sum(len(fi) for fi in self.index())

    def epoch_sources(self) -> tuple[list[SegmentFileIndex], list[int]]:
        """The files' example indexes in this epoch's order and the examples in each."""
        index = self.index()
        files = [index[i] for i in self.epoch_order(len(index))]
        return files, [len(fi) for fi in files]

    def persistent_skips(self) -> list[CorruptRecordError]:
        """Framing problems and broken records found while indexing, skipped under ``skip_corrupt``."""
        out: list[CorruptRecordError] = []
        for fi in self.index():
            if fi.records.problem is not None:
                out.append(fi.records.problem)
            out.extend(fi.problems)
        return out

    # ------------------------------------------------------------------ reading

    def read_ranges(self, files: list[SegmentFileIndex], counts: list[int],
                    ranges: Sequence[tuple[int, int]]) -> Iterator[dict[str, Any]]:
        """The examples of the global ranges ``[start, stop)``: each record is read once per range and its
        examples cut from it (:func:`~paddlevideo.loader.yt8m.segments.segment_examples`), through the pipeline."""
        decode = frame_decoder(self.id_key, tuple(self.feature_names), tuple(self.feature_dims), "labels")
        message_class = proto.sequence_example_class()
        for start, stop in ranges:
            for position, first, last in locate(start, stop, counts):
                sfi = files[position]
                fi = sfi.records
                index, offset = None, None
                try:
                    with open(fi.path, "rb") as f:
                        e = first
                        while e < last:
                            index = int(sfi.record[e])
                            offset = int(fi.offsets[index])
                            end = e
                            while end < last and sfi.record[end] == index:
                                end += 1
                            try:
                                examples = self._examples(f, fi, index, offset, decode, message_class)
                                for s in sfi.start[e:end].tolist():
                                    if s not in examples:
                                        raise DataReadError(fi.path, f"start time {s} was indexed but the record no "
                                                            "longer rates it; did the file change?", index, offset)
                                    yield self._pipelined(examples[s], fi.path, index, offset)
                            except CorruptRecordError as err:
                                self._on_corrupt(err)
                            e = end
                except DataError:
                    raise
                except Exception as err:
                    raise DataReadError.from_exception(err, fi.path, index, offset) from None

    def _examples(self, f, fi: FileIndex, index: int, offset: int, decode, message_class) -> dict[int, dict]:
        """The examples of one record, by start time."""

        payload = read_payload_at(f, fi.path, index, offset, int(fi.lengths[index]))
        message = proto.parse_payload(message_class, payload, path=fi.path, index=index, offset=offset)
        try:
            record = decode(message, len(payload))
        except RecordSchemaError as e:
            raise CorruptRecordError(fi.path, index, offset, str(e)) from None
        ratings = parse_segment_ratings(message, path=fi.path, record=index, num_classes=self.num_classes,
                                        offset=offset, id_key=self.id_key)
        examples, _ = segment_examples(record, ratings, num_classes=self.num_classes,
                                       feature_names=self.feature_names, segment_size=self.segment_size,
                                       max_frames=self.max_frames)
        return {int(x["segment_start"]): x for x in examples}

    def _pipelined(self, example: dict[str, Any], path: str, index: int, offset: int) -> dict[str, Any]:
        try:
            return self.pipeline(example)
        except (ValueError, KeyError) as e:
            reason = e.args[0] if isinstance(e, KeyError) and e.args else e
            raise CorruptRecordError(path, index, offset, f"video {example['id']!r} start "
                                     f"{int(example['segment_start'])}: {reason}") from None

    def collate(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        """The frame collate with :attr:`extra_keys`, plus ``id``: the B video ids as a list of ``str`` (a list,
        because Paddle's DataLoader carries lists of strings but not numpy string arrays)."""
        batch: dict[str, Any] = super().collate(records)
        batch["id"] = [str(r["id"]) for r in records]
        return batch
