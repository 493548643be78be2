"""The JSON file of ``tools/predict.py --output``, written while predicting so that nothing done is lost.

Layout (one JSON object)::

    {"model_file": ..., "input": ..., "scores": "sigmoid probabilities",
     "results": [{...}, {...}, ...],            # one per video, appended as predicted
     "skipped": [{"file", "index", "reason"}],  # inputs that could not be predicted
     "complete": true,                          # false when the run stopped early
     "timing": {...}}

The head is written when the file is opened, each result as soon as it is known (straight to the
kernel, no buffer), the tail at the end. If the run stops early (a Paddle error, Ctrl-C), the tail is
still written with ``"complete": false``. If the disk fills up (``ENOSPC``, or a quota / file-size
limit), the file is cut back to the last whole result and closed with ``"complete": false``; the file
then holds every result written before the disk filled, as valid JSON (when even the few closing bytes
do not fit, it holds them followed by nothing: a JSON text cut after the last whole result).
"""
from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

__all__ = ["OutputFileError", "ResultsFile"]


class OutputFileError(OSError):
    """``--output`` cannot be created or written. The message (``str(error)``) is one line naming the
    file, what went wrong and, after a write error, how many results the file kept (``written``)."""

    def __init__(self, message: str, written: int = 0) -> None:
        super().__init__(message)
        self.written = int(written)

    def __str__(self) -> str:
        return str(self.args[0])

    def __reduce__(self):
        """Keep the attributes across process boundaries."""
        return (type(self), (self.args[0], self.written))


def _check_parent(path: str) -> None:
    """Raise OutputFileError if a parent of ``path`` is a file (``--output notes.txt/p.json``)."""
    parent = os.path.dirname(os.path.abspath(path))
    while parent and not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if parent and not os.path.isdir(parent):
        raise OutputFileError(f"--output {path}: {parent} is a file, not a directory; nothing was predicted")


class ResultsFile:
    """Streams prediction results into one JSON file (see the module docstring for the layout).

    Args:
        path: the file; missing parent directories are created; an existing file is replaced.
        head: the first keys of the object (JSON-serialisable), written at once.

    Raises:
        OutputFileError: ``path`` is a directory, a parent of it is a file, or it cannot be created or
            written (permission, read-only file system, disk full). Raised by the constructor, i.e. before
            anything is predicted.
    """

    def __init__(self, path: str, head: Mapping[str, Any]) -> None:
        self.path = str(path)
        self.count = 0
        self._fd: int | None = None
        self._good = 0          # byte offset after the last whole result
        if os.path.isdir(self.path):
            raise OutputFileError(f"--output {self.path} is a directory; give a file name such as "
                                  f"{os.path.join(self.path, 'predictions.json')}; nothing was predicted")
        _check_parent(self.path)
        try:
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        except OSError as e:
            raise OutputFileError(f"--output {self.path}: cannot create it ({e.strerror or e}); nothing was "
                                  "predicted") from None
        text = json.dumps(dict(head), indent=2)
        try:
            self._write(text[:-2] + ',\n  "results": [')
        except OSError as e:
            self._abandon()
            raise OutputFileError(f"--output {self.path}: cannot write it ({e.strerror or e}); nothing was "
                                  "predicted") from None
        self._good = self._offset()

    # one place that writes, so that tests can inject a full disk
    def _os_write(self, fd: int, data: bytes) -> int:
        return os.write(fd, data)

    def _write(self, text: str) -> None:
        data = memoryview(text.encode("utf-8"))
        while data:
            n = self._os_write(self._fd, data)
            data = data[n:]

    def _offset(self) -> int:
        return os.lseek(self._fd, 0, os.SEEK_CUR)

    def _abandon(self) -> None:
        if self._fd is not None:
            try:
                os.close(self._fd)
            except OSError:
                pass
            self._fd = None

    def add(self, entry: Mapping[str, Any]) -> None:
        """Append one result (a JSON-serialisable dict).

        Raises:
            OutputFileError: the write failed (e.g. disk full); the file was cut back to the results before
                and closed (see :meth:`close`); its ``written`` says how many it holds.
        """
        if self._fd is None:
            raise OutputFileError(f"--output {self.path} is closed", self.count)
        try:
            self._write(("," if self.count else "") + "\n    " + json.dumps(dict(entry)))
        except OSError as e:
            self._fail(e)
        self.count += 1
        self._good = self._offset()

    def close(self, tail: Mapping[str, Any], complete: bool = True) -> None:
        """Write ``"complete"`` and the ``tail`` keys, end the object, ``fsync`` and close.

        Raises:
            OutputFileError: the tail or the ``fsync`` failed (disk full ...); the file was cut back to the
                whole results and closed as well as possible (the message says how).
        """
        if self._fd is None:
            return
        body = json.dumps({"complete": bool(complete), **dict(tail)}, indent=2)
        try:
            self._write("\n  ],\n" + body[2:] + "\n")
            os.fsync(self._fd)
        except OSError as e:
            self._fail(e)
        self._abandon()

    def _fail(self, error: OSError) -> None:
        """Cut the file back to the last whole result, close it as incomplete, raise OutputFileError."""
        reason = error.strerror or str(error)
        closed = False
        try:
            os.ftruncate(self._fd, self._good)
            os.lseek(self._fd, self._good, os.SEEK_SET)
            self._write('\n  ],\n  "complete": false,\n  "error": ' + json.dumps(reason) + "\n}\n")
            closed = True
        except OSError:
            try:
                os.ftruncate(self._fd, self._good)
            except OSError:
                pass
        self._abandon()
        kept = f"{self.count} result{'s' if self.count != 1 else ''}"
        how = ("as valid JSON marked incomplete" if closed else
               "but could not be closed (the JSON text stops after them)")
        raise OutputFileError(f"--output {self.path}: {reason} while writing results; the file keeps the first "
                              f"{kept} {how}", self.count) from None

    def __enter__(self) -> ResultsFile:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        """Close as incomplete when leaving by an exception (the tail then holds only ``complete``)."""
        if exc_type is not None and self._fd is not None:
            try:
                self.close({}, complete=False)
            except OutputFileError:
                pass
