"""The ``METRIC`` section: one metric or a list of them, evaluated together, and the best-checkpoint rule.

``METRIC`` is a mapping (``{name: YouTube8MMetric, top_k: 20, save_best: gap, mode: max}``) or a list of
such mappings. Every metric of the list sees the same batches; their declared keys
(:attr:`~paddlevideo.metrics.base.BaseMetric.KEYS`) must not collide. Exactly one metric decides the best
checkpoint: the one whose item has ``save_best`` (at most one may), else the first, by its default key.
``save_best`` and ``mode`` are read here and not passed to the metric's constructor.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..utils.registry import build
from .base import BaseMetric, BestRule, _error
from .registry import METRICS

__all__ = ["MetricGroup", "plan_metrics", "DEFAULT_METRIC", "RULE_KEYS"]

#: The metric used when a config has no ``METRIC`` section.
DEFAULT_METRIC: dict[str, Any] = {"name": "YouTube8MMetric"}
#: Keys of a ``METRIC`` item that configure the best checkpoint, not the metric.
RULE_KEYS = ("save_best", "mode")


def _items(section: Any) -> list[tuple[str, Mapping[str, Any]]]:
    """``[(config path, item)]`` of a ``METRIC`` value (a mapping, a list of mappings, or None)."""
    if section is None:
        return [("METRIC", DEFAULT_METRIC)]
    if isinstance(section, Mapping):
        return [("METRIC", section)]
    if isinstance(section, (list, tuple)) and section:
        return [(f"METRIC.{i}", item) for i, item in enumerate(section)]
    raise _error(f"METRIC={section!r}: should be a mapping with a 'name' key or a non-empty list of them", "METRIC")


def plan_metrics(section: Any) -> tuple[list[tuple[str, str, type, dict[str, Any]]], BestRule]:
    """Read a ``METRIC`` value without building anything.

    Args:
        section: the config's ``METRIC`` (a mapping, a list of mappings, or None for the default).

    Returns:
        ``([(config path, registered name, metric class, constructor options)], best rule)``; the options
        lack ``name``,
        ``save_best`` and ``mode``.

    Raises:
        ConfigError: an item that is not a mapping with a registered ``name``, two items with
            ``save_best``, a ``save_best`` that is not a key of its metric (the message lists the valid
            keys), a ``mode`` other than max/min, or two metrics declaring one key. The error's ``key``
            attribute is the config path it is about.
    """
    plan: list[tuple[str, str, type, dict[str, Any]]] = []
    rule: BestRule | None = None
    owner: dict[str, str] = {}
    chosen = [where for where, item in _items(section) if isinstance(item, Mapping) and "save_best" in item]
    if len(chosen) > 1:
        raise _error(f"{chosen[1]}.save_best: only one metric decides the best checkpoint, but {chosen[0]} "
                     "has save_best too", f"{chosen[1]}.save_best")
    for where, item in _items(section):
        if not isinstance(item, Mapping) or "name" not in item:
            raise _error(f"{where}={item!r}: should be a mapping with a 'name' key; valid metric names: "
                         f"{', '.join(METRICS.names())}", where)
        try:
            cls = METRICS.get(item["name"])
        except KeyError as e:
            raise _error(f"{where}.name: {e.args[0]}", f"{where}.name") from None
        if not (isinstance(cls, type) and issubclass(cls, BaseMetric)):
            raise _error(f"{where}.name: metric {item['name']!r} does not derive from BaseMetric "
                         "(paddlevideo.metrics.base)", f"{where}.name")
        for key in cls.KEYS:
            if key in owner:
                raise _error(f"{where}: metric {item['name']!r} declares the key {key!r}, which {owner[key]} "
                             "declares too; keys of the metrics in one METRIC list must differ", where)
            owner[key] = f"{where} ({item['name']})"
        if (chosen and chosen[0] == where) or (not chosen and rule is None):
            rule = cls.best_rule(item.get("save_best"), item.get("mode"), where=where)
        elif "mode" in item:
            raise _error(f"{where}.mode: only the metric that decides the best checkpoint takes a mode "
                         f"({chosen[0] if chosen else 'the first'})", f"{where}.mode")
        options = {k: v for k, v in item.items() if k != "name" and k not in RULE_KEYS}
        plan.append((where, str(item["name"]), cls, options))
    assert rule is not None
    return plan, rule


class MetricGroup(BaseMetric, dynamic_keys=True):
    """Several metrics evaluated together, behind the :class:`BaseMetric` interface.

    Args:
        metrics: the built metrics (declared keys must not collide).
        rule: which key decides the best checkpoint (:func:`plan_metrics`).

    Attributes:
        KEYS: ``{key: display name}`` of all members, in config order (an instance attribute here: the
            group's keys are those of its members).
        rule: the :class:`BestRule`.

    Raises:
        ValueError: two members declare one key, or ``rule.key`` is none of them.
    """

    def __init__(self, metrics: Sequence[BaseMetric], rule: BestRule) -> None:
        self.metrics = list(metrics)
        self.rule = rule
        self.KEYS: dict[str, str] = {}
        self._fmt: dict[str, BaseMetric] = {}
        for m in self.metrics:
            for k, display in m.KEYS.items():
                if k in self.KEYS:
                    raise ValueError(f"metric key {k!r} is declared by two metrics of one group")
                self.KEYS[k] = display
                self._fmt[k] = m
        if rule.key not in self.KEYS:
            raise ValueError(f"best-checkpoint key {rule.key!r} is none of {', '.join(self.KEYS)}")

    @classmethod
    def from_config(cls, section: Any, num_classes: int) -> MetricGroup:
        """Build the group of a ``METRIC`` value (:func:`plan_metrics`), each metric with ``num_classes``.

        Raises:
            ConfigError: see :func:`plan_metrics`, and options a metric's constructor rejects.
        """
        plan, rule = plan_metrics(section)
        metrics = [build({"name": name, **options}, METRICS, num_classes=num_classes)
                   for _, name, _, options in plan]
        return cls(metrics, rule)

    def format_value(self, key: str, value: float) -> str:
        """``value`` of ``key`` as the member declaring ``key`` prints it."""
        return self._fmt[key].format_value(key, value)

    def format_line(self, result: Mapping[str, float]) -> str:
        """``Hit@1 0.9100  PERR 0.8500  GAP 0.9000  mAP 0.8000`` for the declared keys of ``result``."""
        return "  ".join(f"{d} {self.format_value(k, result[k])}" for k, d in self.KEYS.items() if k in result)

    def describe(self) -> str:
        """``hit_at_one (Hit@1), perr (PERR), ...; best checkpoint by GAP (max)``, logged once per run."""
        names = ", ".join(f"{k} ({d})" for k, d in self.KEYS.items())
        return f"{names}; best checkpoint by {self.rule.describe()}"

    def reset(self) -> None:
        """Reset every member."""
        for m in self.metrics:
            m.reset()

    def update(self, probs: np.ndarray, labels: np.ndarray, **extra: Any) -> None:
        """Feed the same batch to every member."""
        for m in self.metrics:
            m.update(probs, labels, **extra)

    def state(self) -> dict[str, Any]:
        """``{"members": [state of each member]}`` (picklable)."""
        return {"members": [m.state() for m in self.metrics]}

    def merge(self, state: Mapping[str, Any]) -> None:
        """Merge each member's part of a group state.

        Raises:
            ValueError: the state has another number of members.
        """
        parts = state["members"]
        if len(parts) != len(self.metrics):
            raise ValueError(f"cannot merge a state of {len(parts)} metrics into a group of {len(self.metrics)}")
        for m, part in zip(self.metrics, parts):
            m.merge(part)

    def accumulate(self) -> dict[str, float]:
        """The declared keys of every member (and ``num_videos`` when a member gives it)."""
        out: dict[str, float] = {}
        for m in self.metrics:
            result = m.accumulate()
            missing = [k for k in m.KEYS if k not in result]
            if missing:
                raise ValueError(f"metric {type(m).__name__} did not return its declared key(s) "
                                 f"{', '.join(missing)}")
            out.update({k: float(result[k]) for k in m.KEYS})
            if "num_videos" in result and "num_videos" not in out:
                out["num_videos"] = result["num_videos"]
        return out

    def report(self, output_dir: str, prefix: str = "test",
               label_names: Mapping[int, str] | None = None) -> dict[str, str]:
        """The files of every member's :meth:`~BaseMetric.report`."""
        files: dict[str, str] = {}
        for m in self.metrics:
            files.update(m.report(output_dir, prefix, label_names))
        return files

