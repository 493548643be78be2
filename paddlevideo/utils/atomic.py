"""Atomic file writes: the new file appears whole under its name, or not at all.

Used for everything the package writes that a crash must not leave half-written: TFRecord shards, pkl
files, checkpoints. Imports no PaddlePaddle.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

__all__ = ["atomic_write"]


def atomic_write(path: str | os.PathLike, write: Callable[[str], T]) -> T:
    """Call ``write(tmp)`` on a new temporary file next to ``path``, ``fsync`` it, rename it over ``path``
    with ``os.replace`` (atomic on POSIX) and ``fsync`` the directory.

    A crash or a SIGKILL at any moment leaves either the old ``path`` or the new one, never a truncated
    file; an exception in ``write`` removes the temporary file and leaves ``path`` untouched. The
    temporary file is created with ``O_EXCL`` (never someone else's file) and mode ``0o666`` filtered by
    the umask, so the result has the permissions a plain ``open(path, "w")`` would give it.

    Args:
        path: the destination; missing parent directories are created.
        write: writes the whole content to the file it is given (a path, so that writers which open the
            file themselves, such as ``paddle.save``, work too).

    Returns:
        What ``write`` returns.

    Raises:
        OSError: the directory or file cannot be written (an ``OSError`` of ``write`` that names no file is
            raised again naming ``path``); whatever else ``write`` raises.
    """
    path = os.fspath(path)
    directory, base = os.path.split(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, f".{base}.tmp-{os.getpid()}-{os.urandom(4).hex()}")
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666))
    try:
        result = write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(e, OSError) and e.filename is None and e.errno is not None:
            # writers such as paddle.save raise without a file name: name the destination
            raise OSError(e.errno, e.strerror or os.strerror(e.errno), path) from e
        raise
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:  # platforms without directory handles
        return result
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return result
