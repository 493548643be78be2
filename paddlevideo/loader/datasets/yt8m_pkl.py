"""Streaming dataset over PaddleVideo's YouTube-8M pkl files, named by a list file."""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from ..registry import DATASETS
from ..yt8m import BadPklError, DataError, DataReadError, load_pickle, read_pkl
from ..yt8m.list_file import read_list_file
from ..yt8m.pkl import decode_pkl_video, load_pkl_videos
from ..yt8m.tfrecord import regular_file_size
from .base import ShardedVideoDataset
from .sharding import locate

__all__ = ["YouTube8MPklDataset", "read_list_file"]

# A pickle that starts with PROTO <n> EMPTY_DICT holds one dict, i.e. one video (split files).
_ONE_DICT_PREFIX = b"}"


@DATASETS.register()
class YouTube8MPklDataset(ShardedVideoDataset):
    """YouTube-8M frame-level videos in PaddleVideo's pkl format, streamed through a pipeline.

    Reads the files named by a PaddleVideo list file (split files holding one dict, or whole-file
    pkls holding a list of dicts) with :func:`paddlevideo.loader.yt8m.read_pkl`, which yields the
    same record dicts as the TFRecord reader; pipeline and collate are shared with
    :class:`YouTube8MTFRecordDataset`, and so is the split of an epoch across ranks, training steps
    and loader workers (:mod:`.sharding`): every video is read by exactly one reader per epoch and
    every rank gets the same number of batches (:meth:`num_steps`). Counting the videos opens only
    the first bytes of a split file (a pickled dict is one video) and loads whole-file lists once.
    In training the file order is shuffled per epoch (seeded by ``(seed, epoch)``) and videos pass
    through a bounded shuffle buffer (seeded by ``(seed, epoch, rank, worker)``).

    Args:
        file_path: list file of pkl paths (see :func:`read_list_file`).
        data_prefix: directory the listed paths are relative to; None: the list file's directory.
        pipeline: pipeline step configs applied to every record (set from ``PIPELINE.<mode>``).
        feature_names / feature_dims: features to read (``rgb`` and/or ``audio``) and widths.
        shuffle: shuffle files per epoch and records in a buffer (training).
        shuffle_buffer: records held in the shuffle buffer.
        seed: base seed of the shuffling.
        bucket_window: length bucketing (:mod:`.bucketing`) over windows of this many batches of
            :meth:`set_batch_size` records; 0 = off.
        skip_corrupt: skip and count malformed videos (:class:`BadPklError`) instead of raising; a file
            that is not a pickle at all is skipped whole. Unsafe pickles and unreadable files still raise.

    Yields pipeline outputs (record dicts); :meth:`collate` turns a list of them into a batch
    ``{"rgb": uint8[B, Tmax, 1024], "audio": uint8[B, Tmax, 128], "lengths": int64[B],
    "labels": float32[B, C]}``.

    Raises:
        FileNotFoundError: the list file or a listed file is missing (at construction).
        ValueError: the list is empty.
        UnsafePickleError / BadPklError: a pkl references a forbidden global or is malformed, or a
            pipeline step rejects a video (naming file and video).
        DataReadError: a listed file cannot be read (a directory, a FIFO, a dangling symlink ...).
        Inside a DataLoader these are recorded instead (:mod:`.base`).

    Source: PaddleVideo ``FeatureDataset`` (list file + ``data_prefix``),
    docs/youtube8m_format.md#list-files-and-the-data-prefix.
    """

    def __init__(self, file_path: str, data_prefix: str | None = None,
                 pipeline: Sequence[Any] | None = None,
                 feature_names: Sequence[str] = ("rgb", "audio"), feature_dims: Sequence[int] = (1024, 128),
                 shuffle: bool = False, shuffle_buffer: int = 1024, seed: int = 0,
                 bucket_window: int = 0, skip_corrupt: bool = False) -> None:
        super().__init__(pipeline, feature_names, feature_dims, shuffle, shuffle_buffer, seed, bucket_window,
                         skip_corrupt)
        self.file_path = file_path
        self.files = read_list_file(file_path, data_prefix)
        read_pkl(self.files[0], self.feature_names, self.feature_dims)  # checks the arguments only
        self._counts: list[int] | None = None
        self._count_problems: list[DataError] = []

    def source_name(self) -> str:
        """The list file."""
        return str(self.file_path)

    def counts(self) -> list[int]:
        """Videos in each listed file, in list order (counted once, then cached).

        Raises:
            UnsafePickleError, BadPklError: a whole-file pkl that is unsafe or not a list of dicts
                (a BadPklError counts 0 videos under ``skip_corrupt``, reported every epoch).
            DataReadError: a listed file cannot be read.
        """
        if self._counts is None:
            counts, problems = [], []
            for p in self.files:
                try:
                    counts.append(_count_videos(p))
                except BadPklError as e:
                    if not self.skip_corrupt:
                        raise
                    counts.append(0)
                    problems.append(e)
            self._counts, self._count_problems = counts, problems
        return self._counts

    def persistent_skips(self) -> list[DataError]:
        """Files skipped whole when counting (not a pickle, not a list of dicts), reported every epoch."""
        self.counts()
        return list(self._count_problems)

    def epoch_sources(self) -> tuple[list[str], list[int]]:
        """The pkl paths in this epoch's order (shuffled by ``(seed, epoch)`` in training) and the
        videos in each."""
        counts = self.counts()
        order = self.epoch_order(len(self.files))
        return [self.files[i] for i in order], [counts[i] for i in order]

    def read_ranges(self, files: list[str], counts: list[int],
                    ranges: Sequence[tuple[int, int]]) -> Iterator[dict[str, Any]]:
        """Pipelined videos of the global ranges ``[start, stop)`` (see
        :class:`.base.ShardedVideoDataset`); each file is loaded once while its videos are read."""
        cached: tuple[int | None, Sequence[Any] | None] = (None, None)  # the last file loaded
        for start, stop in ranges:
            for position, first, last in locate(start, stop, counts):
                path, index = files[position], first
                try:
                    if cached[0] != position:
                        try:
                            loaded: Sequence[Any] | None = load_pkl_videos(path)
                        except BadPklError as e:
                            self._on_corrupt(e)  # raises, or skips the whole file (reported once)
                            loaded = None
                        cached = (position, loaded)
                    videos = cached[1]
                    if videos is None:
                        continue
                    if len(videos) != counts[position]:
                        raise DataReadError(path, f"the file now holds {len(videos)} videos, not the "
                                            f"{counts[position]} counted (was it changed while reading?)")
                    for index in range(first, last):
                        try:
                            yield self._decode(path, index, videos[index])
                        except BadPklError as e:
                            self._on_corrupt(e)
                except DataError:
                    raise
                except Exception as e:  # I/O errors, and anything unexpected: name the file and video
                    raise DataReadError.from_exception(e, path, index) from None

    def _decode(self, path: str, index: int, video: Any) -> dict[str, Any]:
        """The pipelined record of one video dict; BadPklError when the video or a pipeline step rejects it."""
        record = decode_pkl_video(path, index, video, self.feature_names, self.feature_dims)
        try:
            return self.pipeline(record)
        except (ValueError, KeyError) as e:
            reason = e.args[0] if isinstance(e, KeyError) and e.args else e
            raise BadPklError(path, index, f"id {record.get('id')!r}: {reason}") from None


def _count_videos(path: str) -> int:
    """Videos in one pkl file: 1 for a pickled dict (seen from its first bytes), else the list length.

    Raises:
        DataReadError: the file cannot be read; UnsafePickleError / BadPklError: see :func:`load_pickle`.
    """
    regular_file_size(path)
    try:
        with open(path, "rb") as f:
            head = f.read(3)
    except OSError as e:
        raise DataReadError.from_exception(e, path) from None
    if head[:1] == b"\x80" and head[2:3] == _ONE_DICT_PREFIX:
        return 1
    obj = load_pickle(path)
    if isinstance(obj, dict):
        return 1
    if isinstance(obj, (list, tuple)):
        return len(obj)
    raise BadPklError(path, None, f"expected a dict or a list of dicts, found {type(obj).__name__}")
