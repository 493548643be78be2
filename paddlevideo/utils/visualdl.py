"""Optional VisualDL scalar logging (training loss and learning rate, every validation metric).

VisualDL is PaddlePaddle's TensorBoard-like dashboard (``pip install visualdl``, then
``visualdl --logdir OUTPUT_DIR/vdl``). It is **not** a dependency of this package: when it is not
installed, :class:`ScalarWriter` logs one warning and every call becomes a no-op, so training never
fails because of it. Only rank 0 writes (the other ranks hold a disabled writer), as for the text log.

Enabled with ``main.py --use_visualdl`` or the config key ``use_visualdl: true``. Event files go to
``<output_dir>/vdl/`` (VisualDL's ``vdlrecords.<timestamp>.log`` format, written by
``visualdl.LogWriter.add_scalar(tag, value, step)``).

Tags written by the training loop:

* ``train/loss`` and ``train/lr`` at every ``log_interval`` step (x axis: global step);
* ``valid/<key>`` for every key the configured metrics declare (``METRIC``; for ``YouTube8MMetric``
  ``hit_at_one``, ``perr``, ``gap``, ``map``) and for ``loss`` and ``num_videos``, after every epoch
  (x axis: epoch): :meth:`ScalarWriter.add_scalars` writes every numeric entry of the evaluation result.
"""
from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

from .logger import get_logger

__all__ = ["ScalarWriter", "visualdl_available", "VDL_SUBDIR"]

#: Sub-directory of ``output_dir`` holding the VisualDL event files.
VDL_SUBDIR = "vdl"


def visualdl_available() -> bool:
    """Whether the ``visualdl`` package can be imported."""
    try:
        import visualdl  # noqa: F401
    except Exception:  # ImportError, or a broken install raising something else at import
        return False
    return True


class ScalarWriter:
    """Write scalars to VisualDL when enabled and installed; otherwise do nothing.

    Args:
        logdir: directory for the event files (created on first use), e.g. ``output/Model/vdl``.
        enabled: whether the user asked for VisualDL (``--use_visualdl`` / ``use_visualdl: true``).
        rank: process rank; only rank 0 writes.

    Attributes:
        active: True when scalars are really written (enabled, rank 0 and VisualDL importable).

    Never raises because VisualDL is missing: a warning naming the install command is logged once
    instead. Use as a context manager or call :meth:`close` to flush the files.
    """

    def __init__(self, logdir: str, enabled: bool = True, rank: int = 0) -> None:
        self.logdir = logdir
        self._writer: Any | None = None
        if not enabled or rank != 0:
            return
        try:
            from visualdl import LogWriter
        except Exception as e:  # not installed, or broken against this numpy/protobuf
            get_logger().warning(f"VisualDL logging was requested but visualdl cannot be imported ({e}); "
                                 "training continues without it. Install it with: pip install visualdl")
            return
        os.makedirs(logdir, exist_ok=True)
        self._writer = LogWriter(logdir=logdir)
        get_logger().info(f"VisualDL: writing scalars to {logdir} (view with: visualdl --logdir {logdir})")

    @property
    def active(self) -> bool:
        """True when scalars are written."""
        return self._writer is not None

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        """Write one scalar ``value`` under ``tag`` at integer ``step``; non-finite values are skipped."""
        if self._writer is None:
            return
        value = float(value)
        if math.isfinite(value):
            self._writer.add_scalar(tag=tag, value=value, step=int(step))

    def add_scalars(self, prefix: str, values: Mapping[str, Any], step: int) -> None:
        """Write every numeric entry of ``values`` as ``<prefix>/<key>`` at ``step`` (others are skipped)."""
        for key, value in values.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                self.add_scalar(f"{prefix}/{key}", value, step)

    def close(self) -> None:
        """Flush and close the event file (safe to call more than once)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def __enter__(self) -> ScalarWriter:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
