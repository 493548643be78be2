"""The one error guard of the command-line entry points (``main.py`` and the ``tools/``).

A user's mistake (a bad config, a missing or corrupt file, a checkpoint of another model, an unusable
exported model, a full disk) ends as exactly one ``error: <message>`` line on stderr and a non-zero exit
code, never a traceback; ``--verbose`` prints the traceback too. The exceptions that count as a user's
mistake are listed once, in :data:`USER_ERRORS`. The exit code is 2, or the exception class's own
``exit_code`` attribute (``TrainingDiverged``, a loss that became NaN/Inf, sets 3).
"""
from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Callable

__all__ = ["USER_ERRORS", "USER_ERROR_EXIT", "one_line", "run_guarded"]

#: What a user's mistake raises. ``ValueError`` covers ConfigError, CheckpointError and the data errors
#: (``paddlevideo.loader.yt8m.DataError``); ``KeyError`` a missing config key or name; ``OSError`` an
#: unreadable or unwritable file (it names the file and the reason); ``ImportError`` an optional package
#: that is not installed; ``RuntimeError`` Paddle Inference's report of unusable model files, ExportError,
#: and TrainingDiverged.
USER_ERRORS = (ValueError, KeyError, OSError, ImportError, RuntimeError)
#: Exit code of a user's mistake, unless the exception class sets ``exit_code``.
USER_ERROR_EXIT = 2


def one_line(e: BaseException) -> str:
    """The message of ``e`` as one line: a KeyError's key text, an OSError's ``<file>: <reason>``, else
    ``str(e)``; only its first line (Paddle's errors append a long C++ trace)."""
    if isinstance(e, KeyError) and e.args:
        text = str(e.args[0])
    elif isinstance(e, OSError) and e.strerror and e.filename is not None:
        text = f"{e.filename}: {e.strerror}"
    else:
        text = str(e)
    lines = text.strip().splitlines()
    return lines[0] if lines else type(e).__name__


def run_guarded(body: Callable[[argparse.Namespace], int], args: argparse.Namespace,
                describe_os_error: Callable[[OSError], str] | None = None) -> int:
    """Run ``body(args)`` and return its exit code; a :data:`USER_ERRORS` exception instead prints
    ``error: <message>`` (one line) on stderr and returns 2 (or the exception's ``exit_code``).

    Args:
        body: the command; returns its exit code.
        args: its parsed arguments; ``args.verbose`` (when present and true) also prints the traceback.
        describe_os_error: the message for an ``OSError`` (e.g. naming the last complete checkpoint on a
            full disk); by default :func:`one_line`.

    Returns:
        ``body``'s exit code, 2, or the exception's ``exit_code``.
    """
    try:
        return body(args)
    except USER_ERRORS as e:
        if getattr(args, "verbose", False):
            traceback.print_exc()
        if isinstance(e, OSError) and describe_os_error is not None:
            msg = one_line(ValueError(describe_os_error(e)))
        else:
            msg = one_line(e)
        print(f"error: {msg}", file=sys.stderr)
        return int(getattr(type(e), "exit_code", USER_ERROR_EXIT))
