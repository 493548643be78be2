"""The exceptions the YouTube-8M readers raise for bad file content (TFRecord and pkl)."""
from __future__ import annotations

import os
import pickle

__all__ = ["BadPklError", "CorruptRecordError", "DataError", "DataReadError", "RecordTypeError",
           "UnsafePickleError", "describe_error", "error_from_description"]


class DataError(ValueError):
    """Base of every error about the *data files* a reader was given (content, type or access).

    Each subclass carries ``path`` (``str``, the file) and, where it applies, ``index`` (0-based
    record or video) and ``offset`` (byte offset of the record), and pickles with them (its
    ``__reduce__``), so it survives the trip from a loader worker process. Command-line entry
    points turn it into one ``error:`` line. It subclasses ``ValueError`` so that callers that
    catch ``ValueError`` keep working.
    """


class CorruptRecordError(DataError):
    """A record in a TFRecord file is damaged or does not follow the YouTube-8M schema.

    Raised for every problem with the *content* of a file: a length or data CRC-32C that does
    not match (TFRecord framing, docs/youtube8m_format.md#tfrecord-framing), a file that ends inside a record, a
    payload that is not a valid ``tf.train.SequenceExample`` / ``tf.train.Example`` protobuf, a missing id or
    feature, or a feature whose width is not the configured one (schema in
    docs/youtube8m_format.md#frame-level-record, #video-level-record).
    Problems with the caller's *arguments* raise ``ValueError`` / ``TypeError`` instead.

    It subclasses :class:`DataError` (a ``ValueError``), so callers that catch ``ValueError`` keep working.

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


class BadPklError(DataError):
    """A PaddleVideo pkl file cannot be read or does not follow the pkl layout of
    docs/youtube8m_format.md#paddlevideo-pkl-files.

    Raised for a file that is not a pickle (or is cut short), a top-level object that is neither
    a dict nor a list of dicts, and for one video's dict with a missing key, an id that is not
    bytes/str, labels that are not integers, a feature that is not ``uint8[n, dim]`` of the
    configured width, features with different frame counts, or an ``nframes`` that is negative
    or larger than the frames stored.

    It subclasses :class:`DataError` (a ``ValueError``), like :class:`CorruptRecordError`.

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


class UnsafePickleError(pickle.UnpicklingError, DataError):
    """A pickle file asks for a global (class or function) outside the pkl allow-list.

    The restricted unpickler (:func:`paddlevideo.loader.yt8m.pkl.load_pickle`) raises this from
    ``find_class``, i.e. *before* the global is imported or called: a pickle whose payload would
    run a command (``os.system``, ``subprocess.Popen``, ``builtins.eval`` ...) is refused without
    running anything. It subclasses ``pickle.UnpicklingError`` (what a restricted unpickler is
    documented to raise, Python ``pickle`` docs, "Restricting Globals") and :class:`DataError`.

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


def _where(path: str, index: int | None, offset: int | None) -> str:
    """``"<path>: record <index> at byte <offset>"`` with the parts that are known."""
    where = path
    if index is not None:
        where += f": record {index}"
        if offset is not None:
            where += f" at byte {offset}"
    return where


class DataReadError(DataError):
    """A data file cannot be read at all, or reading it failed in a way that is not a content check.

    Raised for a file that is missing (also a dangling symlink), is a directory, a FIFO or another
    non-regular file, cannot be opened (permissions, a symlink loop), fails while being read (an I/O
    error), and for any unexpected error while one of its records is read (the reason then names the
    exception). The datasets' ``skip_corrupt`` does not skip these.

    Attributes:
        path: the file (``str``).
        index: 0-based record index in the file, or ``None`` when the problem concerns the file.
        offset: byte offset of that record (``int``), or ``None`` when unknown.
        reason: what is wrong, in words (``str``).

    The message reads ``"<path>: record <index> at byte <offset>: <reason>"``, leaving out what is
    not known.
    """

    def __init__(self, path: str | os.PathLike, reason: str, index: int | None = None,
                 offset: int | None = None) -> None:
        """Build the error.

        Args:
            path: the file; ``os.PathLike`` values are turned into ``str``.
            reason: human-readable description of the problem.
            index: 0-based record index, or ``None``.
            offset: byte offset of the record, or ``None``.
        """
        self.path = os.fspath(path)
        self.reason = str(reason)
        self.index = None if index is None else int(index)
        self.offset = None if offset is None else int(offset)
        super().__init__(f"{_where(self.path, self.index, self.offset)}: {self.reason}")

    def __reduce__(self):
        """Keep the attributes when the error crosses a process boundary (DataLoader workers)."""
        return (type(self), (self.path, self.reason, self.index, self.offset))

    @classmethod
    def from_exception(cls, exc: BaseException, path: str | os.PathLike, index: int | None = None,
                       offset: int | None = None) -> DataReadError:
        """Describe ``exc`` (raised while reading ``path``) as a DataReadError.

        An ``OSError`` becomes its ``strerror`` (``"Is a directory"``, ``"Too many levels of symbolic
        links"`` ...); any other exception ``"<ExceptionType>: <message>"``.
        """
        if isinstance(exc, OSError) and exc.strerror:
            reason = f"cannot read the file: {exc.strerror}"
            if exc.filename is not None and os.fspath(exc.filename) != os.fspath(path):
                reason += f" ({os.fspath(exc.filename)})"
        elif isinstance(exc, MemoryError):
            reason = "out of memory while reading this record"
        else:
            reason = f"unexpected error while reading: {type(exc).__name__}: {exc}"
        return cls(path, reason, index, offset)


class RecordTypeError(DataError):
    """A TFRecord holds a different kind of record than the config reads: a video-level
    ``tf.train.Example`` (``mean_rgb``, ``mean_audio``) where frame-level ``tf.train.SequenceExample``
    records are expected, or the other way round (schemas: ``docs/data.md``). Not a corrupt record,
    so ``skip_corrupt`` does not skip it: the whole file is of the other kind.

    Attributes:
        path: the file (``str``).
        index: 0-based index of the record (``int``).
        offset: byte offset of that record's header (``int``).
        reason: what the record is and what the config reads (``str``).

    The message reads ``"<path>: record <index> at byte <offset>: <reason>"``.
    """

    def __init__(self, path: str | os.PathLike, index: int, offset: int, reason: str) -> None:
        """Build the error (arguments as the attributes; ``os.PathLike`` paths become ``str``)."""
        self.path = os.fspath(path)
        self.index = int(index)
        self.offset = int(offset)
        self.reason = str(reason)
        super().__init__(f"{_where(self.path, self.index, self.offset)}: {self.reason}")

    def __reduce__(self):
        """Keep the attributes when the error crosses a process boundary (DataLoader workers)."""
        return (type(self), (self.path, self.index, self.offset, self.reason))


def describe_error(exc: DataError) -> dict:
    """A JSON-serialisable description of a data error, rebuilt by :func:`error_from_description`.

    Returns:
        ``{"type": class name, "args": constructor arguments, "message": str(exc)}``, plus ``"path"``,
        ``"index"``, ``"offset"``, ``"reason"`` where the error has them (``None`` otherwise).
    """
    _, args = exc.__reduce__()[:2]
    return {"type": type(exc).__name__, "args": list(args), "message": str(exc),
            "path": getattr(exc, "path", None), "index": getattr(exc, "index", None),
            "offset": getattr(exc, "offset", None), "reason": getattr(exc, "reason", str(exc))}


def _data_error_classes() -> dict:
    """Every :class:`DataError` subclass by class name, the package's and those a contributor defines."""
    found, todo = {}, [DataError]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            found.setdefault(sub.__name__, sub)
            todo.append(sub)
    return found


def error_from_description(d: dict) -> DataError:
    """The error a :func:`describe_error` dict describes.

    The class is looked up by name among the subclasses of :class:`DataError` only (never imported from
    the description), and rebuilt from its constructor arguments. When that fails, a :class:`DataReadError`
    carries the same path, record, offset and reason, so the message reads the same.
    """
    cls = _data_error_classes().get(d.get("type"))
    if cls is not None:
        try:
            return cls(*d["args"])
        except (TypeError, ValueError):
            pass
    return DataReadError(d.get("path") or "?", d.get("reason") or d.get("message") or "unknown error",
                         d.get("index"), d.get("offset"))
