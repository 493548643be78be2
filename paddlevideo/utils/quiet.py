"""Silence Paddle's import and run-time noise (glog INFO/WARNING lines, known harmless warnings).

Call :func:`quiet_paddle` from an entry point **before** ``import paddle``; it changes the process
environment, so nothing in the package calls it on import.
"""
from __future__ import annotations

import os
import warnings

_HARMLESS = ("No ccache found", "Tensor do not have 'place'", "amp_guard can only be enabled")


def quiet_paddle(verbose: bool = False) -> None:
    """Hide glog below ERROR and the known harmless Python warnings, unless ``verbose``."""
    if verbose:
        return
    os.environ.setdefault("GLOG_minloglevel", "2")
    for message in _HARMLESS:
        warnings.filterwarnings("ignore", message=message)
