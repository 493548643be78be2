"""The metric contract: what every evaluation metric offers, so that the task code names no metric key.

A metric is a streaming object fed one batch at a time and read once at the end of a split, in the spirit
of MMEngine's ``BaseMetric`` (``process`` per batch, ``compute_metrics`` once, results gathered across
ranks; ``mmengine/evaluator/metric.py``). Here the streaming API is:

* :meth:`BaseMetric.reset` forgets everything fed;
* :meth:`BaseMetric.update` takes one batch: ``probs`` float32 [B, C] (sigmoid scores) and ``labels``
  float32 [B, C] (multi-hot), plus extra batch entries as keyword arguments (a metric ignores those it
  does not use);
* :meth:`BaseMetric.state` returns a picklable summary of what was fed (plain numbers and numpy arrays,
  at most O(videos * k) in size), :meth:`BaseMetric.merge` adds another metric's state: the pair is how
  the parts seen by several processes are joined (:meth:`BaseMetric.sync_across_ranks`);
* :meth:`BaseMetric.accumulate` returns ``{key: float}`` for every key in :attr:`BaseMetric.KEYS`
  (plus, optionally, ``num_videos``).

Each metric class declares the keys it returns (:attr:`~BaseMetric.KEYS`, key -> display name),
how to print them (:attr:`~BaseMetric.FORMATS`) and which key decides the best checkpoint by default
(:attr:`~BaseMetric.DEFAULT_BEST`, :attr:`~BaseMetric.DEFAULT_MODE`). The training log line, the
best-checkpoint choice, the metrics JSON files, VisualDL and ``tools/plot_log.py`` all work from these
declarations; ``docs/contributing.md`` ("Adding a metric") shows a complete example.
"""
from __future__ import annotations

import abc
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..utils.config import ConfigError

__all__ = ["BaseMetric", "BestRule", "RESERVED_KEYS", "MODES"]

#: Entries of an evaluation result that are not metric keys: the evaluation adds them itself.
RESERVED_KEYS = ("num_videos", "loss", "epoch", "weights")
#: How the best checkpoint compares values of its key.
MODES = ("max", "min")
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class BestRule:
    """Which result key decides the best checkpoint, and whether larger (``max``) or smaller (``min``) is
    better (MMEngine's ``CheckpointHook(save_best=..., rule='greater'|'less')``).

    Attributes:
        key: a key a metric declares (``"gap"``).
        mode: ``"max"`` or ``"min"``.
        display: the key's display name (``"GAP"``), for log lines.
    """

    key: str
    mode: str = "max"
    display: str = ""

    def better(self, value: float, best: float | None) -> bool:
        """Whether ``value`` beats ``best`` (None: nothing recorded yet, so any finite value does).
        A tie is not better: the earlier epoch stays the best."""
        if best is None:
            return bool(np.isfinite(value))
        return value > best if self.mode == "max" else value < best

    def describe(self) -> str:
        """``"GAP (max)"``, as ``train.log`` states it."""
        return f"{self.display or self.key} ({self.mode})"


def _error(message: str, key: str) -> ConfigError:
    """A :class:`ConfigError` that remembers the config key it is about (``error.key``)."""
    err = ConfigError(message)
    err.key = key
    return err


class BaseMetric(abc.ABC):
    """Abstract base of the evaluation metrics that configs name under ``METRIC``.

    Subclasses set the class attributes below and implement :meth:`reset`, :meth:`update`,
    :meth:`state`, :meth:`merge` and :meth:`accumulate`; they are registered with
    ``@METRICS.register()`` (:mod:`paddlevideo.metrics.registry`) and built with ``num_classes`` plus their
    config options.

    Class attributes:
        KEYS: ``{key: display name}`` of the values :meth:`accumulate` returns, in log order. Keys are
            identifiers (``[A-Za-z_][A-Za-z0-9_]*``) other than :data:`RESERVED_KEYS`; display names have
            no whitespace (the log line is ``NAME VALUE`` pairs).
        FORMATS: ``{key: format spec}`` for the log line (default ``.4f``); the formatted text must read
            back with ``float()``.
        DEFAULT_BEST: the key that decides the best checkpoint unless ``METRIC.save_best`` names another
            (default: the first of ``KEYS``).
        DEFAULT_MODE: ``max`` or ``min`` for ``DEFAULT_BEST`` (default ``max``).

    Raises:
        TypeError: at class creation, a declaration that breaks the rules above.
    """

    KEYS: ClassVar[Mapping[str, str]] = {}
    FORMATS: ClassVar[Mapping[str, str]] = {}
    DEFAULT_BEST: ClassVar[str | None] = None
    DEFAULT_MODE: ClassVar[str] = "max"

    def __init_subclass__(cls, dynamic_keys: bool = False, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if dynamic_keys or getattr(cls, "__abstractmethods__", None):
            return        # keys set per instance (a group of metrics), or an intermediate abstract class
        name = cls.__name__
        if not cls.KEYS:
            raise TypeError(f"metric {name} declares no KEYS ({{key: display name}})")
        for key, display in cls.KEYS.items():
            if not _KEY.match(str(key)) or key in RESERVED_KEYS:
                raise TypeError(f"metric {name}: key {key!r} must be an identifier other than "
                                f"{', '.join(RESERVED_KEYS)}")
            if not display or any(c.isspace() for c in str(display)):
                raise TypeError(f"metric {name}: display name {display!r} of {key!r} must be non-empty "
                                "without whitespace")
        for key, spec in cls.FORMATS.items():
            try:
                float(format(0.5, spec))
            except (ValueError, TypeError):
                raise TypeError(f"metric {name}: FORMATS[{key!r}]={spec!r} does not print a number "
                                "float() reads back") from None
        if cls.DEFAULT_BEST is not None and cls.DEFAULT_BEST not in cls.KEYS:
            raise TypeError(f"metric {name}: DEFAULT_BEST {cls.DEFAULT_BEST!r} is not one of its KEYS")
        if cls.DEFAULT_MODE not in MODES:
            raise TypeError(f"metric {name}: DEFAULT_MODE must be max or min, got {cls.DEFAULT_MODE!r}")

    @classmethod
    def best_rule(cls, save_best: str | None = None, mode: str | None = None,
                  where: str = "METRIC") -> BestRule:
        """The rule for the best checkpoint from ``METRIC.save_best`` / ``METRIC.mode`` (either may be None:
        the class's default key; ``max``, or the class's ``DEFAULT_MODE`` when the key is the default one).
        ``where`` is the config path named in errors (``METRIC``, ``METRIC.1``).

        Raises:
            ConfigError: ``save_best`` is not one of :attr:`KEYS` (the message lists them) or ``mode`` is
                neither ``max`` nor ``min``.
        """
        default = cls.DEFAULT_BEST or next(iter(cls.KEYS))
        key = default if save_best is None else save_best
        if key not in cls.KEYS:
            raise _error(f"{where}.save_best={key!r}: not a key of metric {cls.__name__!r}; valid keys: "
                              f"{', '.join(cls.KEYS)}", f"{where}.save_best")
        if mode is None:
            mode = cls.DEFAULT_MODE if key == default else "max"
        if mode not in MODES:
            raise _error(f"{where}.mode={mode!r}: should be max or min", f"{where}.mode")
        return BestRule(key=key, mode=mode, display=cls.KEYS[key])

    def format_value(self, key: str, value: float) -> str:
        """``value`` of ``key`` as the log line prints it (``FORMATS[key]``, default ``.4f``)."""
        return format(float(value), self.FORMATS.get(key, ".4f"))

    @abc.abstractmethod
    def reset(self) -> None:
        """Forget everything fed so far."""

    @abc.abstractmethod
    def update(self, probs: np.ndarray, labels: np.ndarray, **extra: Any) -> None:
        """Add one batch: ``probs`` float32 [B, C] in [0, 1], ``labels`` float32 [B, C] multi-hot, and any
        other entries of the batch (numpy arrays) by name; ignore the ones the metric does not use.

        Raises:
            ValueError: shapes that do not fit the metric.
        """

    @abc.abstractmethod
    def state(self) -> dict[str, Any]:
        """A picklable summary of everything fed (numbers, strings, numpy arrays), O(videos * k) or less."""

    @abc.abstractmethod
    def merge(self, state: Mapping[str, Any]) -> None:
        """Add the videos of another instance's :meth:`state` (e.g. gathered from another process).

        Raises:
            ValueError: the state comes from a metric built with other options.
        """

    @abc.abstractmethod
    def accumulate(self) -> dict[str, float]:
        """``{key: value}`` for every key of :attr:`KEYS` over everything fed since :meth:`reset` (may add
        ``num_videos``); must not depend on the batching or the order of the videos."""

    def report(self, output_dir: str, prefix: str = "test",
               label_names: Mapping[int, str] | None = None) -> dict[str, str]:
        """Write optional files beyond the numbers (e.g. a per-class table, a plot) for a filled metric.

        The default writes nothing. Metrics that keep per-class state override it (``main.py --test``
        calls it on rank 0 after the evaluation).

        Returns:
            ``{description: path}`` of the files written (empty by default).
        """
        return {}

    def sync_across_ranks(self) -> None:
        """Replace this rank's state by the union of every rank's state (no-op in a one-process run).

        Every rank sends :meth:`state` with ``all_gather_object``; the metric is reset and all states are
        merged back in rank order, so every rank then holds the whole split. The dataset gives each video
        to exactly one rank, so nothing is counted twice, and the result equals a one-process evaluation
        (:meth:`accumulate` does not depend on the order of the videos).
        """
        from ..utils.dist import all_gather_objects

        states = all_gather_objects(self.state())
        if len(states) == 1:
            return
        self.reset()
        for state in states:
            self.merge(state)
