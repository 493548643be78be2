"""The exceptions the YouTube-8M readers raise for bad file content (TFRecord and pkl)."""
from __future__ import annotations

import os

import pickle

__all__ = ["BadPklError", "CorruptRecordError", "UnsafePickleError"]


class CorruptRecordError(ValueError):
    """A record in a TFRecord file is damaged or does not follow the YouTube-8M schema.

    Raised for every problem with the *content* of a file: a length or data CRC-32C that does
    not match (TFRecord framing, YT8M.md §1.6), a file that ends inside a record, a payload that
    is not a valid ``tf.train.SequenceExample`` / ``tf.train.Example`` protobuf, a missing id or
    feature, or a feature whose width is not the configured one (schema in YT8M.md §1.2, §1.4).
    Problems with the caller's *arguments* raise ``ValueError`` / ``TypeError`` instead.

    It subclasses ``ValueError`` so that callers that already catch ``ValueError`` keep working.

    Attributes:
        path: the file, as given by the caller (``str``).
        index: 0-based index of the record in the file (``int``).
        offset: byte offset of the start of that record's 12-byte header in the file (``int``).
        reason: what is wrong, in words (``str``).

    The message reads ``"<path>: record <index> at byte <offset>: <reason>"``.
    """

    def __init__(self, path: str | os.PathLike, index: int, offset: int, reason: str) -> None:
        """Build the error.

        Args:
            path: the file that holds the record; ``os.PathLike`` values are turned into ``str``.
            index: 0-based record index in the file.
            offset: byte offset of the record's header from the start of the file.
            reason: human-readable description of the problem.
        """
        self.path = os.fspath(path)
        self.index = int(index)
        self.offset = int(offset)
        self.reason = str(reason)
        super().__init__(f"{self.path}: record {self.index} at byte {self.offset}: {self.reason}")

    def __reduce__(self):
        """Keep the attributes when the error crosses a process boundary (DataLoader workers)."""
        return (type(self), (self.path, self.index, self.offset, self.reason))


class BadPklError(ValueError):
    """A PaddleVideo pkl file cannot be read or does not follow the pkl layout of YT8M.md §2.

    Raised for a file that is not a pickle (or is cut short), a top-level object that is neither
    a dict nor a list of dicts, and for one video's dict with a missing key, an id that is not
    bytes/str, labels that are not integers, a feature that is not ``uint8[n, dim]`` of the
    configured width, features with different frame counts, or an ``nframes`` that is negative
    or larger than the frames stored.

    It subclasses ``ValueError``, like :class:`CorruptRecordError`.

    Attributes:
        path: the file, as given by the caller (``str``).
        index: 0-based position of the video's dict in the file (``int``), or ``None`` when the
            problem concerns the whole file.
        reason: what is wrong, in words (``str``).

    The message reads ``"<path>: video <index>: <reason>"`` (``"<path>: <reason>"`` without index).
    """

    def __init__(self, path: str | os.PathLike, index: int | None, reason: str) -> None:
        """Build the error.

        Args:
            path: the pkl file; ``os.PathLike`` values are turned into ``str``.
            index: 0-based index of the video's dict in the file, or ``None`` for the whole file.
            reason: human-readable description of the problem.
        """
        self.path = os.fspath(path)
        self.index = None if index is None else int(index)
        self.reason = str(reason)
        where = self.path if self.index is None else f"{self.path}: video {self.index}"
        super().__init__(f"{where}: {self.reason}")

    def __reduce__(self):
        """Keep the attributes when the error crosses a process boundary (workers, pools)."""
        return (type(self), (self.path, self.index, self.reason))


class UnsafePickleError(pickle.UnpicklingError, ValueError):
    """A pickle file asks for a global (class or function) outside the pkl allow-list.

    The restricted unpickler (:func:`paddlevideo.loader.yt8m.pkl.load_pickle`) raises this from
    ``find_class``, i.e. *before* the global is imported or called: a pickle whose payload would
    run a command (``os.system``, ``subprocess.Popen``, ``builtins.eval`` ...) is refused without
    running anything. It subclasses ``pickle.UnpicklingError`` (what a restricted unpickler is
    documented to raise, Python ``pickle`` docs, "Restricting Globals") and ``ValueError``.

    Attributes:
        path: the file, as given by the caller (``str``).
        global_name: the refused global as ``"module.name"`` (``str``), e.g. ``"posix.system"``.

    The message names the file and the global and says that nothing was executed.
    """

    def __init__(self, path: str | os.PathLike, global_name: str) -> None:
        """Build the error.

        Args:
            path: the pickle file; ``os.PathLike`` values are turned into ``str``.
            global_name: the refused ``"module.name"``.
        """
        self.path = os.fspath(path)
        self.global_name = str(global_name)
        super().__init__(
            f"{self.path}: refused to unpickle global {self.global_name!r}: pkl files may only "
            "hold numpy arrays, dtypes and scalars, _codecs.encode and plain containers "
            "(the file may be malicious; nothing in it was executed)"
        )

    def __reduce__(self):
        """Keep the attributes when the error crosses a process boundary (workers, pools)."""
        return (type(self), (self.path, self.global_name))
