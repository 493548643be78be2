"""Command-line plumbing shared by ``tools/export_model.py`` and ``tools/predict.py``.

User mistakes (a missing file, a bad config, weights of another model, an unsupported device option)
end as one ``error: ...`` line on stderr and exit code 2; ``--verbose`` adds the traceback.
"""
from __future__ import annotations

import argparse
import sys
import traceback
from typing import Callable

__all__ = ["run_tool", "str2bool"]

_TRUE = {"true", "t", "yes", "y", "1", "on"}
_FALSE = {"false", "f", "no", "n", "0", "off"}


def str2bool(value: str) -> bool:
    """Parse PaddleVideo-style boolean flag values (``--use_gpu=False``, ``--use_gpu true``, ``1``/``0``).

    Raises:
        argparse.ArgumentTypeError: for anything else (argparse prints it and exits with code 2).
    """
    v = str(value).strip().lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise argparse.ArgumentTypeError(f"expected a boolean (True/False, 1/0, yes/no), got {value!r}")


def _user_errors() -> tuple:
    from ..loader.yt8m import CorruptRecordError
    from ..utils.checkpoint import CheckpointError
    from ..utils.config import ConfigError
    from .export import ExportError

    return (ConfigError, CheckpointError, CorruptRecordError, ExportError, OSError, ImportError, KeyError,
            ValueError, RuntimeError)


def _message(e: BaseException) -> str:
    """One line for ``e``: a KeyError's key text, an OSError's ``<file>: <reason>``, else ``str(e)``."""
    if isinstance(e, KeyError) and e.args:
        text = str(e.args[0])
    elif isinstance(e, OSError) and e.strerror and e.filename is not None:
        text = f"{e.filename}: {e.strerror}"
    else:
        text = str(e)
    lines = text.strip().splitlines()
    return lines[0] if lines else type(e).__name__


def run_tool(body: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run ``body(args)``; turn user errors into ``error: <message>`` on stderr and return 2.

    ``RuntimeError`` is included because Paddle Inference reports unusable model files with it; ``OSError``
    (unreadable or unwritable files, a symlink loop, a full disk) because it names the file and the reason.
    """
    try:
        return body(args)
    except _user_errors() as e:
        if getattr(args, "verbose", False):
            traceback.print_exc()
        print(f"error: {_message(e)}", file=sys.stderr)
        return 2
