"""Check every component section of a config before anything runs: names, options and their values.

Which section is built from which registry is declared once in :data:`SECTIONS`; the options of each
section are checked against the constructor they go to (:func:`paddlevideo.utils.registry.check_options`:
unknown keys with "did you mean", missing required keys, values against the type hints and their
``Annotated`` constraints). Errors name the full key path and the value, e.g.
``-o MODEL.backbone.embedding_size=-4: should be greater than or equal to 1``. Converted values (``"1e-3"``
for a float becomes ``0.001``) are written back into the config, so training sees what was checked.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, MutableMapping, Sequence
from typing import Any

from ..utils.config import ConfigError, describe_invalid, source_of
from ..utils.registry import Registry, check_options

__all__ = ["SECTIONS", "check_components"]

#: ``OPTIMIZER`` keys that the optimizer builder turns into objects itself (checked by ``_check_optimizer``).
OPTIMIZER_KEYS = ("learning_rate", "weight_decay", "grad_clip")


def _registries() -> dict[str, Registry]:
    """The registries by section kind, with every component registered (imports the package)."""
    from .. import modeling  # noqa: F401  (registration)
    from ..loader import builder  # noqa: F401  (registration of datasets and pipeline steps)
    from ..loader.registry import DATASETS, PIPELINES
    from ..metrics import youtube8m  # noqa: F401  (registration)
    from ..metrics.registry import METRICS
    from ..modeling.registry import BACKBONES, HEADS, LOSSES, RECOGNIZERS
    from ..solver.builder import _register_paddle_classes
    from ..solver.registry import LR_SCHEDULERS, OPTIMIZERS

    _register_paddle_classes()
    return {"framework": RECOGNIZERS, "backbone": BACKBONES, "head": HEADS, "loss": LOSSES, "dataset": DATASETS,
            "pipeline": PIPELINES, "optimizer": OPTIMIZERS, "lr": LR_SCHEDULERS, "metric": METRICS}


#: ``(config path, registry kind, key holding the name, arguments the builder supplies itself)``.
#: ``*`` stands for every item of a list. The optimizer's ``learning_rate``, ``weight_decay`` and
#: ``grad_clip`` are turned into objects by :func:`paddlevideo.solver.builder.build_optimizer` and
#: checked by :func:`_check_optimizer`.
SECTIONS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("MODEL", "framework", "framework", ()),
    ("MODEL.backbone", "backbone", "name", ()),
    ("MODEL.head", "head", "name", ("in_channels",)),
    ("MODEL.loss", "loss", "name", ()),
    ("DATASET.train", "dataset", "format", ("pipeline",)),
    ("DATASET.valid", "dataset", "format", ("pipeline",)),
    ("DATASET.test", "dataset", "format", ("pipeline",)),
    ("PIPELINE.train.*", "pipeline", "name", ("num_classes",)),
    ("PIPELINE.valid.*", "pipeline", "name", ("num_classes",)),
    ("PIPELINE.test.*", "pipeline", "name", ("num_classes",)),
    ("OPTIMIZER", "optimizer", "name", ("parameters",)),
    ("METRIC", "metric", "name", ("num_classes",)),
    ("METRIC.*", "metric", "name", ("num_classes",)),
)
#: Keys of a ``METRIC`` item that choose the best checkpoint (:mod:`paddlevideo.metrics.group`), not options.
METRIC_RULE_KEYS = ("save_best", "mode")


def _find(cfg: Any, path: str) -> list[tuple[str, MutableMapping[str, Any]]]:
    """``[(dotted path, section)]`` for the sections at ``path`` that exist (``*`` = every list item)."""
    found: list[tuple[str, Any]] = [("", cfg)]
    for part in path.split("."):
        nxt: list[tuple[str, Any]] = []
        for where, node in found:
            if part == "*":
                if isinstance(node, list):
                    nxt += [(f"{where}.{i}", v) for i, v in enumerate(node)]
            elif isinstance(node, Mapping) and node.get(part) is not None:
                nxt.append((f"{where}.{part}".lstrip("."), node[part]))
        found = nxt
    return found


def _check_section(section: Any, where: str, registry: Registry, key: str, supplied: Sequence[str],
                   skip: Iterable[str], prefix_of: Callable[[str], str]) -> None:
    """Check one component section in place (see the module docstring)."""
    prefix = prefix_of(f"{where}.{key}")
    if not isinstance(section, MutableMapping):
        raise ConfigError(f"{prefix}{where}={section!r}: should be a mapping with a {key!r} key")
    if key not in section:
        raise ConfigError(f"{prefix}{where} has no {key!r} key; valid {registry.name} names: "
                          f"{', '.join(registry.names())}")
    try:
        obj = registry.get(section[key])
    except KeyError as e:
        raise ConfigError(f"{prefix}{where}.{key}: {e.args[0]}") from None
    skip = set(skip)
    options = {k: v for k, v in section.items() if k != key and k not in skip}
    try:
        checked = check_options(obj, options, f"{registry.name} {section[key]!r}", where=where,
                                supplied=[*supplied, *skip])
    except ConfigError as e:
        raise ConfigError(prefix_of(getattr(e, "key", where)) + str(e)) from None
    for k, v in checked.items():
        if k in options and options[k] is not v:
            section[k] = _plain(v, options[k])


def _plain(new: Any, old: Any) -> Any:
    """Keep the config's own containers (``AttrDict``, lists) where validation only copied them."""
    if isinstance(old, (Mapping, list)) and new == old:
        return old
    return new


def _check_lr(value: Any, where: str, registries: dict[str, Registry], prefix_of: Callable[[str], str],
              parent: MutableMapping[str, Any], name: str) -> None:
    """A learning rate: a number > 0 (numeric strings taken as numbers) or a schedule section."""
    if isinstance(value, Mapping):
        _check_section(value, where, registries["lr"], "name", (), ("iter_step", "learning_rate"), prefix_of)
        _check_plain(value, "iter_step", bool, where, prefix_of(f"{where}.iter_step"))
        if "learning_rate" in value:
            _check_lr(value["learning_rate"], f"{where}.learning_rate", registries, prefix_of, value,
                      "learning_rate")
        return
    parent[name] = _validate(value, "PositiveFloat", where, prefix_of(where))


def _validate(value: Any, kind: str, where: str, prefix: str) -> Any:
    """``value`` checked against one of the types of :mod:`paddlevideo.utils.types` (or ``bool``)."""
    from pydantic import TypeAdapter, ValidationError

    from ..utils import types

    hint = bool if kind == "bool" else getattr(types, kind)
    try:
        return TypeAdapter(hint).validate_python(value)
    except ValidationError as e:
        raise ConfigError(prefix + describe_invalid(where, value, e)) from None


def _check_plain(section: MutableMapping[str, Any], key: str, kind: Any, where: str, prefix: str) -> None:
    if key in section:
        section[key] = _validate(section[key], "bool" if kind is bool else kind, f"{where}.{key}", prefix)


def _check_optimizer(opt: MutableMapping[str, Any], registries: dict[str, Registry],
                     prefix_of: Callable[[str], str]) -> None:
    """``OPTIMIZER.learning_rate``, ``weight_decay`` (a number >= 0 or ``{name: L1|L2, value}``) and
    ``grad_clip`` (``{clip_norm: > 0}``), as :func:`paddlevideo.solver.builder.build_optimizer` reads them."""
    if "learning_rate" in opt:
        where = "OPTIMIZER.learning_rate"
        _check_lr(opt["learning_rate"], where, registries, prefix_of, opt, "learning_rate")
    wd = opt.get("weight_decay")
    if wd is not None:
        where = "OPTIMIZER.weight_decay"
        if isinstance(wd, MutableMapping):
            if wd.get("name", "L2") not in ("L1", "L2"):
                raise ConfigError(f"{prefix_of(where + '.name')}{where}.name={wd.get('name')!r}: should be L1 or L2")
            if "value" not in wd:
                raise ConfigError(f"{prefix_of(where)}{where} needs a 'value' (the decay coefficient)")
            _check_plain(wd, "value", "NonNegativeFloat", where, prefix_of(where + ".value"))
        else:
            opt["weight_decay"] = _validate(wd, "NonNegativeFloat", where, prefix_of(where))
    clip = opt.get("grad_clip")
    if clip:
        where = "OPTIMIZER.grad_clip"
        if not isinstance(clip, MutableMapping) or "clip_norm" not in clip:
            raise ConfigError(f"{prefix_of(where)}{where}={clip!r}: should be a mapping {{clip_norm: NUMBER}}")
        _check_plain(clip, "clip_norm", "PositiveFloat", where, prefix_of(where + ".clip_norm"))


def check_components(cfg: MutableMapping[str, Any], source: str = "config",
                     overridden: Iterable[str] = ()) -> None:
    """Check every component section of ``cfg`` that is present (:data:`SECTIONS`), in place.

    Args:
        cfg: a config from :func:`paddlevideo.utils.config.load_config`.
        source: the config file, named in messages about values that did not come from ``-o``.
        overridden: the keys set by ``-o`` (:func:`paddlevideo.utils.config.overridden_keys`).

    Raises:
        ConfigError: an unknown component name or option (with the closest valid one), a missing
            required option, or a value that does not fit (full key path, value, what was expected).
    """
    overridden = list(overridden)
    registries = _registries()

    def prefix_of(key: str) -> str:
        return source_of(key, source, overridden)

    for path, kind, key, supplied in SECTIONS:
        if path == "METRIC" and isinstance(cfg.get("METRIC"), list):
            continue                  # a list of metrics is checked item by item ("METRIC.*")
        for where, section in _find(cfg, path):
            skip = OPTIMIZER_KEYS if kind == "optimizer" else METRIC_RULE_KEYS if kind == "metric" else ()
            _check_section(section, where, registries[kind], key, supplied, skip, prefix_of)
            if kind == "optimizer":
                _check_optimizer(section, registries, prefix_of)
    _check_metric_rule(cfg, prefix_of)


def _check_metric_rule(cfg: Mapping[str, Any], prefix_of: Callable[[str], str]) -> None:
    """``METRIC`` as a whole: distinct keys across a list, one ``save_best`` that the metric declares and a
    ``mode`` of max/min (:func:`paddlevideo.metrics.group.plan_metrics`)."""
    from ..metrics.group import plan_metrics

    try:
        plan_metrics(cfg.get("METRIC"))
    except ConfigError as e:
        raise ConfigError(prefix_of(getattr(e, "key", "METRIC")) + str(e)) from None
