"""Command-line plumbing shared by ``tools/export_model.py`` and ``tools/predict.py``.

User mistakes (a missing file, a bad config, weights of another model, an unsupported device option)
end as one ``error: ...`` line on stderr and exit code 2; ``--verbose`` adds the traceback.
"""
from __future__ import annotations

import argparse
from collections.abc import Callable

from ..utils.cli import run_guarded

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


def run_tool(body: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run ``body(args)`` under the entry points' one error guard (:func:`paddlevideo.utils.cli.run_guarded`):
    a user's mistake becomes ``error: <message>`` on stderr and exit code 2 (``--verbose`` adds the traceback).
    """
    return run_guarded(body, args)
