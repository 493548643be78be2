"""The training run's folder (``output_dir``): one run at a time, and a new run never mixes with an old one.

* :class:`RunLock`: ``<output_dir>/.run.lock``, held with ``fcntl.flock`` for as long as the training process
  lives and naming its pid, host and start time. A second run into the same folder is refused while the
  first is alive. The kernel drops the lock when its process dies, however it dies (also SIGKILL), so a
  lock file left by a dead process is simply taken over; a normal or error exit removes the file.
* :func:`prepare_run_dir`: a new training run into a folder that already holds another run's log,
  checkpoints or metrics is refused, with the three ways on: ``--resume`` (continue that run),
  ``-o output_dir=...`` (a new run elsewhere) or ``--overwrite`` (a new run here; the earlier run's files
  are **moved** to ``<output_dir>.replaced-<YYYYmmdd-HHMMSS>/``, nothing is deleted).

Under ``paddle.distributed.launch`` only rank 0 calls these (rank 0 alone writes the folder). POSIX only
(``fcntl``); imports no PaddlePaddle.
"""
from __future__ import annotations

import glob
import os
import socket
import sys
import time

from .config import ConfigError

__all__ = ["LOCK_NAME", "RunDirError", "RunLock", "check_output_dir", "run_files", "prepare_run_dir"]

LOCK_NAME = ".run.lock"

#: Files (glob patterns relative to ``output_dir``) that make a folder hold a training run.
RUN_PATTERNS = ("train.log", "*.pdparams", "*.pdopt", "*.pdstate", "metrics_epoch_*.json", "metrics_best.json",
                "skipped_*_epoch_*.json", "vdl")


class RunDirError(ConfigError):
    """The output folder cannot be used for this run; the message says why and what to do instead."""


def check_output_dir(output_dir: str) -> None:
    """Refuse an ``output_dir`` that exists but is not a folder (a file, or a link to one).

    Raises:
        RunDirError: naming the path.
    """
    if os.path.lexists(output_dir) and not os.path.isdir(output_dir):
        kind = "a broken link" if os.path.islink(output_dir) and not os.path.exists(output_dir) else "a file"
        raise RunDirError(f"output_dir {output_dir!r} is {kind}, not a folder; choose another with "
                          f"-o output_dir=PATH")


class RunLock:
    """An exclusive lock on a run folder: ``with RunLock(output_dir): ...`` or ``acquire()`` / ``release()``.

    Args:
        output_dir: the folder (created when missing).

    Raises:
        RunDirError: (from :meth:`acquire`) another live process holds the lock; the message names its pid,
            host and start time as written in the lock file.
        OSError: the folder or the lock file cannot be created.
    """

    def __init__(self, output_dir: str) -> None:
        self.output_dir = output_dir
        self.path = os.path.join(output_dir, LOCK_NAME)
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        """Take the lock (without waiting), write this process's pid into the file and return ``self``."""
        import fcntl

        os.makedirs(self.output_dir, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = _read(fd).strip() or "a process that has not written its pid yet"
                os.close(fd)
                raise RunDirError(f"output_dir {self.output_dir!r} is in use by another training run ({holder}); "
                                  f"wait for it to end, or train into another folder with -o output_dir=PATH"
                                  ) from None
            # The holder we waited for may have removed the file between our open and our lock: then we hold
            # a lock on a file no one else can find, so start again with the file now at the path.
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}, started "
                     f"{time.strftime('%Y-%m-%d %H:%M:%S')}: {' '.join(sys.argv)}\n".encode("utf-8", "replace"))
        self._fd = fd
        return self

    def release(self) -> None:
        """Remove the lock file and drop the lock (a no-op when not held)."""
        if self._fd is None:
            return
        try:
            os.unlink(self.path)
        except OSError:
            pass
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read(fd: int) -> str:
    os.lseek(fd, 0, os.SEEK_SET)
    return os.read(fd, 4096).decode("utf-8", "replace")


def run_files(output_dir: str) -> list[str]:
    """The entries of ``output_dir`` that belong to a training run (:data:`RUN_PATTERNS`), ``train.log``
    first, then by name."""
    found = set()
    for pattern in RUN_PATTERNS:
        found.update(os.path.basename(p) for p in glob.glob(os.path.join(glob.escape(output_dir), pattern)))
    return sorted(found, key=lambda n: (n != "train.log", n))


def prepare_run_dir(output_dir: str, resume: bool = False, overwrite: bool = False) -> str | None:
    """Make ``output_dir`` ready for a training run; call while holding its :class:`RunLock`.

    Args:
        output_dir: the run folder.
        resume: the run continues the run in the folder (``--resume`` or ``resume_epoch``).
        overwrite: ``--overwrite``: replace the earlier run by moving all of the folder's entries (except
            the lock) to a new sibling folder ``<output_dir>.replaced-<YYYYmmdd-HHMMSS>``.

    A folder whose only run file is ``train.log`` (an earlier start that stopped before its first
    checkpoint, e.g. at a data error) is reused: that log is renamed ``train.log.<YYYYmmdd-HHMMSS>`` first.

    Returns:
        The folder the earlier run was moved to, or None.

    Raises:
        RunDirError: the folder holds another run and neither ``resume`` nor ``overwrite`` is set (the
            message names the files found and the three ways on), or both are set.
        OSError: the earlier run cannot be moved.
    """
    if resume and overwrite:
        raise RunDirError("--resume continues the run in output_dir and --overwrite replaces it: choose one")
    if resume:
        return None
    found = run_files(output_dir)
    if found == ["train.log"] and not overwrite:
        # An earlier start that stopped before writing anything but its log (a config or data error, a
        # kill in the first epoch): nothing to protect but the log, which is kept under a new name so
        # that the new run's log does not mix with it.
        kept = f"train.log.{time.strftime('%Y%m%d-%H%M%S')}"
        n = 1
        while os.path.lexists(os.path.join(output_dir, kept)):
            n += 1
            kept = f"train.log.{time.strftime('%Y%m%d-%H%M%S')}-{n}"
        os.replace(os.path.join(output_dir, "train.log"), os.path.join(output_dir, kept))
        return None
    if not found:
        return None
    base = os.path.normpath(output_dir)
    if not overwrite:
        shown = ", ".join(found[:4]) + (f" and {len(found) - 4} more" if len(found) > 4 else "")
        raise RunDirError(f"output_dir {output_dir!r} already holds a training run ({shown}); continue it with "
                          f"--resume, start a new run elsewhere with -o output_dir={base}_2, or replace it with "
                          f"--overwrite (which moves the earlier run to {base}.replaced-<time>/)")
    target = f"{base}.replaced-{time.strftime('%Y%m%d-%H%M%S')}"
    n = 1
    while os.path.lexists(target):
        n += 1
        target = f"{base}.replaced-{time.strftime('%Y%m%d-%H%M%S')}-{n}"
    os.makedirs(target)
    for name in sorted(os.listdir(output_dir)):
        if name != LOCK_NAME:
            os.replace(os.path.join(output_dir, name), os.path.join(target, name))
    return target
