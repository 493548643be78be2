"""The one exception the YouTube-8M TFRecord readers raise for bad file content."""
from __future__ import annotations

import os

__all__ = ["CorruptRecordError"]


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
