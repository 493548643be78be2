"""The package's one logger. Nothing is configured at import time: entry points call :func:`setup_logger`."""
from __future__ import annotations

import logging
import os
import sys

LOGGER_NAME = "paddlevideo"


def get_logger() -> logging.Logger:
    """Return the ``paddlevideo`` logger (configured or not)."""
    return logging.getLogger(LOGGER_NAME)


class _FileHandler(logging.FileHandler):
    """A log file whose write errors (a full disk) propagate to the caller instead of printing
    logging's own ``--- Logging error ---`` traceback and going on without the file."""

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 (logging's name)
        raise  # the OSError that emit() is handling


def setup_logger(output_dir: str | None = None, rank: int = 0, level: int = logging.INFO,
                 filename: str = "train.log") -> logging.Logger:
    """Configure the package logger: console on every rank at ``level`` (WARNING on ranks > 0), and, on
    rank 0 only, a file ``<output_dir>/<filename>`` (appended to). An error writing the file (a full disk)
    is raised from the logging call, as an ``OSError`` naming the file.

    Calling it again replaces the handlers it installed before.
    """
    logger = get_logger()
    logger.setLevel(level)
    logger.propagate = False
    for h in list(logger.handlers):
        logger.removeHandler(h)
        h.close()
    fmt = logging.Formatter("[%(asctime)s] %(levelname)s %(message)s", datefmt="%Y-%m-%d %H:%M:%S")
    console = logging.StreamHandler(sys.stdout)
    console.setFormatter(fmt)
    console.setLevel(level if rank == 0 else logging.WARNING)
    logger.addHandler(console)
    if output_dir and rank == 0:
        os.makedirs(output_dir, exist_ok=True)
        fh = _FileHandler(os.path.join(output_dir, filename), encoding="utf-8")
        fh.setFormatter(fmt)
        logger.addHandler(fh)
    return logger
