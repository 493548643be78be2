"""Silence Paddle's import and run-time noise (glog INFO/WARNING lines, known harmless warnings).

Call :func:`quiet_paddle` from an entry point **before** ``import paddle``; it changes the process
environment, so nothing in the package calls it on import.

Under ``python -m paddle.distributed.launch`` each training process also prints Paddle's "Modified FLAGS
detected" banner from ``paddle.distributed.init_parallel_env`` (Paddle 3.3 lists every flag that differs
from its default, e.g. ``FLAGS_enable_pir_in_executor`` which Paddle sets itself); :func:`banner_filter`
drops those lines, and only those, when the process is quiet. The launcher's own ``LAUNCH INFO`` lines come
from the launcher process, before any code of this package runs: ``--log_level WARNING`` on the launcher
hides them (README, "Training").
"""
from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import warnings
from collections.abc import Iterator

_HARMLESS = ("No ccache found", "Tensor do not have 'place'", "amp_guard can only be enabled")
_BANNER = re.compile(r"^(=+ Modified FLAGS detected =+|FLAGS\(name='[^']*', current_value=.*\)|=+)$")
_quiet = False


def is_quiet() -> bool:
    """Whether :func:`quiet_paddle` silenced this process (False with ``--verbose`` or when never called)."""
    return _quiet


@contextlib.contextmanager
def banner_filter() -> Iterator[None]:
    """Hold back ``sys.stderr`` inside the block and write it back without Paddle's "Modified FLAGS
    detected" banner lines; everything else (warnings, errors) is written back unchanged, also when the
    block raises. A no-op unless the process is quiet."""
    if not _quiet:
        yield
        return
    held = io.StringIO()
    try:
        with contextlib.redirect_stderr(held):
            yield
    finally:
        kept = [line for line in held.getvalue().splitlines(keepends=True) if not _BANNER.match(line.rstrip("\n"))]
        if kept:
            sys.stderr.write("".join(kept))


def quiet_paddle(verbose: bool = False) -> None:
    """Hide glog below ERROR, the known harmless Python warnings and the FLAGS banner of
    :func:`banner_filter`, unless ``verbose``."""
    global _quiet
    if verbose:
        return
    _quiet = True
    os.environ.setdefault("GLOG_minloglevel", "2")
    for message in _HARMLESS:
        warnings.filterwarnings("ignore", message=message)
