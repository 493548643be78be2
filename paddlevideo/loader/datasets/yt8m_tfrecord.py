"""Streaming dataset over YouTube-8M TFRecord shards: exactly-once sharding, corrupt-record handling."""
from __future__ import annotations

import glob
import os
from collections.abc import Iterator, Sequence
from typing import Any

from ...utils.logger import get_logger
from ..registry import DATASETS
from ..yt8m import CorruptRecordError, DataError, DataReadError, proto

# read_tfrecord walks whole files; this dataset reads record ranges found through an index, so it uses
# the reader's payload -> record step on its own.
from ..yt8m.errors import RecordTypeError
from ..yt8m.frame_wire import FrameWireDecoder
from ..yt8m.reader import RecordSchemaError, frame_decoder, record_type_mismatch
from ..yt8m.tfrecord import FileIndex, index_tfrecord, read_payload_at
from .base import ShardedVideoDataset
from .sharding import locate


def expand_file_pattern(file_pattern: str | Sequence[str]) -> list[str]:
    """Sorted list of files matching a glob (or a list of globs / paths); ``~`` is expanded.

    Raises:
        FileNotFoundError: if nothing matches, naming the pattern.
    """
    patterns = [file_pattern] if isinstance(file_pattern, str) else list(file_pattern)
    files: list[str] = []
    for p in patterns:
        files.extend(sorted(glob.glob(os.path.expanduser(p))))
    if not files:
        raise FileNotFoundError(f"no file matches {file_pattern!r} (working directory {os.getcwd()})")
    return files


@DATASETS.register()
class YouTube8MTFRecordDataset(ShardedVideoDataset):
    """YouTube-8M frame-level TFRecords, streamed record by record through a pipeline.

    Records are split across ranks, training steps and loader workers as described in
    :mod:`.sharding`: each record is read by exactly one reader per epoch and every rank gets the same
    number of batches (:meth:`num_steps`), give or take one short last step. In training the file order
    is shuffled per epoch (seeded by ``(seed, epoch)``) and records pass through a bounded shuffle buffer
    (seeded by ``(seed, epoch, rank, worker)``), so an epoch's order is reproducible.

    Corrupt data (a CRC mismatch, a truncated file, a payload that is not a ``SequenceExample``, a missing
    ``id`` / feature, a feature of the wrong width, a label outside ``[0, num_classes)``, fewer than
    ``min_frames`` frames) raises :class:`CorruptRecordError` naming the file, record index, byte offset
    and the problem. With ``skip_corrupt`` the record is skipped instead and reported by
    :meth:`pop_skipped`. A payload CRC error only loses that record (its length had a valid CRC); a
    truncated file or a length-CRC error loses the rest of that file, since nothing after it can be framed.

    Args:
        file_pattern: glob (or list of globs) of ``.tfrecord`` shards.
        pipeline: list of pipeline step configs, applied to every record (set from ``PIPELINE.<mode>``).
        feature_names / feature_dims: frame features to read and their widths (bytes per frame).
        id_key: context key of the video id; None auto-detects ``id`` (2018) or ``video_id`` (2017).
        shuffle: shuffle files per epoch and records in a buffer (training).
        shuffle_buffer: records held in the shuffle buffer.
        seed: base seed of the shuffling (combined with the epoch).
        skip_corrupt: skip and count corrupt records instead of raising.
        min_frames: videos with fewer frames are corrupt (a zero-frame video has nothing to pool).
        bucket_window: length bucketing (:mod:`.bucketing`): batches of similar length, sorted within windows
            of ``bucket_window`` batches of :meth:`set_batch_size` records; 0 = off.

    Yields pipeline outputs (record dicts); :meth:`collate` turns a list of them into a batch.

    Raises:
        FileNotFoundError: if the pattern matches no file.
        CorruptRecordError: on a corrupt record unless ``skip_corrupt``.
    """

    def __init__(self, file_pattern: str | Sequence[str], pipeline: Sequence[Any] | None = None,
                 feature_names: Sequence[str] = ("rgb", "audio"), feature_dims: Sequence[int] = (1024, 128),
                 id_key: str | None = None, shuffle: bool = False, shuffle_buffer: int = 1024,
                 seed: int = 0, skip_corrupt: bool = False, min_frames: int = 1, bucket_window: int = 0) -> None:
        super().__init__(pipeline, feature_names, feature_dims, shuffle, shuffle_buffer, seed, bucket_window,
                         skip_corrupt)
        self.file_pattern = file_pattern
        self.files = expand_file_pattern(file_pattern)
        self.id_key = id_key
        self.min_frames = int(min_frames)
        self._index: list[FileIndex] | None = None

    def source_name(self) -> str:
        """The file pattern."""
        return str(self.file_pattern)

    # ------------------------------------------------------------------ set-up

    def index(self) -> list[FileIndex]:
        """The record index of every file (built once, reading only record headers).

        Raises:
            CorruptRecordError: a truncated file or a bad length CRC, unless ``skip_corrupt`` (then it is
                logged and reported by :meth:`pop_skipped` on rank 0 every epoch).
        """
        if self._index is None:
            index = [index_tfrecord(p) for p in self.files]
            for fi in index:
                if fi.problem is not None:
                    if not self.skip_corrupt:
                        raise fi.problem
                    get_logger().warning(f"skipping the rest of {fi.path}: {fi.problem}")
            self._index = index
        return self._index

    def num_records(self) -> int:
        """Records that can be framed in all files (corrupt payloads included)."""
        return sum(len(fi) for fi in self.index())

    def epoch_sources(self) -> tuple[list[FileIndex], list[int]]:
        """The file indexes in this epoch's order (shuffled by ``(seed, epoch)`` in training) and the
        records in each."""
        index = self.index()
        files = [index[i] for i in self.epoch_order(len(index))]
        return files, [len(fi) for fi in files]

    # ------------------------------------------------------------------ reading

    def read_ranges(self, files: list[FileIndex], counts: list[int],
                    ranges: Sequence[tuple[int, int]]) -> Iterator[dict[str, Any]]:
        """Decoded, checked and pipelined records of the global ranges ``[start, stop)`` (see
        :class:`.base.ShardedVideoDataset`); corrupt ones raise or are skipped (:meth:`_on_corrupt`)."""
        decode = frame_decoder(self.id_key, tuple(self.feature_names), tuple(self.feature_dims), "labels")
        fast = FrameWireDecoder(self.id_key, tuple(self.feature_names), tuple(self.feature_dims), "labels")
        message_class = proto.sequence_example_class()
        for start, stop in ranges:
            for position, first, last in locate(start, stop, counts):
                fi = files[position]
                index, offset = first, None
                try:
                    with open(fi.path, "rb") as f:
                        for index in range(first, last):
                            offset = int(fi.offsets[index])
                            try:
                                record = self._decode(f, fi, index, offset, decode, message_class, fast)
                            except CorruptRecordError as e:
                                self._on_corrupt(e)
                                continue
                            yield record
                except DataError:
                    raise
                except Exception as e:  # I/O errors, and anything unexpected: name the file and record
                    raise DataReadError.from_exception(e, fi.path, index, offset) from None

    def _decode(self, f, fi: FileIndex, index: int, offset: int, decode, message_class,
                fast: FrameWireDecoder | None = None) -> dict[str, Any]:

        length = int(fi.lengths[index])
        payload = read_payload_at(f, fi.path, index, offset, length)
        # the fast path takes canonical records; anything else (and every error) goes through the full parse
        record = fast(payload) if fast is not None else None
        if record is None:
            message = proto.parse_payload(message_class, payload, path=fi.path, index=index, offset=offset)
            try:
                record = decode(message, length)
            except RecordSchemaError as e:
                other = record_type_mismatch(payload, "frame")
                if other is not None:
                    raise RecordTypeError(fi.path, index, offset, other) from None
                raise CorruptRecordError(fi.path, index, offset, str(e)) from None
        frames = len(record[self.feature_names[0]])
        if frames < self.min_frames:
            raise CorruptRecordError(fi.path, index, offset, f"video {record['id']!r} has {frames} frames "
                                     f"(min_frames {self.min_frames})")
        try:
            return self.pipeline(record)
        except (ValueError, KeyError) as e:
            reason = e.args[0] if isinstance(e, KeyError) and e.args else e
            raise CorruptRecordError(fi.path, index, offset, f"video {record['id']!r}: {reason}") from None

    def persistent_skips(self) -> list[CorruptRecordError]:
        """The framing problems (truncated tail, bad length CRC) of the indexed files, skipped under
        ``skip_corrupt`` and reported every epoch."""
        return [fi.problem for fi in self.index() if fi.problem is not None]
