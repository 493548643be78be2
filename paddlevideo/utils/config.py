"""YAML configs in PaddleVideo's layout, with ``_base_`` inheritance and ``-o KEY.SUB=VALUE`` overrides.

A config is a nested mapping read with ``yaml.safe_load``. A file may name a ``_base_`` config (a path
relative to itself, or a list of them); its keys are merged on top of the base, mapping into mapping.
Override values are parsed with ``yaml.safe_load`` too (``-o epochs=3``, ``-o MODEL.head.num_classes=100``,
``-o DATASET.train.file_pattern=/data/train*.tfrecord``), never with ``eval``.
"""
from __future__ import annotations

import copy
import difflib
import os
from typing import Any, Dict, Iterable, List, Mapping, Optional

import yaml

__all__ = ["AttrDict", "load_config", "apply_overrides", "validate_config", "TOP_LEVEL_KEYS", "ConfigError"]

#: Top-level keys a config may have; anything else is a typo and fails at start-up.
TOP_LEVEL_KEYS = {
    "model_name": "name used in checkpoint and export file names",
    "MODEL": "framework / backbone / head / loss",
    "DATASET": "batch_size, num_workers and train / valid / test dataset configs",
    "PIPELINE": "train / valid / test lists of pipeline steps",
    "OPTIMIZER": "optimizer with learning_rate (a number or a schedule) and weight_decay",
    "METRIC": "the evaluation metric",
    "INFERENCE": "export and predict settings",
    "epochs": "number of training epochs",
    "log_interval": "log every N training steps",
    "save_interval": "save a checkpoint every N epochs",
    "output_dir": "where logs, metrics and checkpoints go",
    "seed": "random seed",
    "resume_epoch": "resume training from the checkpoint of this epoch",
    "use_visualdl": "also write VisualDL scalars to <output_dir>/vdl (needs pip install visualdl)",
}


#: Keys of the sections whose own keys are fixed (component options are checked when built).
SECTION_KEYS = {
    "MODEL": ("framework", "backbone", "head", "loss"),
    "DATASET": ("batch_size", "valid_batch_size", "num_workers", "train", "valid", "test"),
    "PIPELINE": ("train", "valid", "test"),
}


class ConfigError(ValueError):
    """A config file or override is invalid; the message names the file or key and what is valid."""


class AttrDict(dict):
    """A dict whose keys can also be read as attributes (``cfg.MODEL.backbone``).

    Raises:
        AttributeError: on reading a missing key as an attribute.
    """

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None

    def __setattr__(self, key: str, value: Any) -> None:
        self[key] = value

    def __deepcopy__(self, memo: dict) -> "AttrDict":
        return AttrDict({k: copy.deepcopy(v, memo) for k, v in self.items()})


def to_attrdict(obj: Any) -> Any:
    """Recursively turn mappings into :class:`AttrDict` (lists are walked too)."""
    if isinstance(obj, Mapping):
        return AttrDict({k: to_attrdict(v) for k, v in obj.items()})
    if isinstance(obj, list):
        return [to_attrdict(v) for v in obj]
    return obj


def to_plain(obj: Any) -> Any:
    """Recursively turn :class:`AttrDict` back into plain dicts (for YAML/JSON dumps)."""
    if isinstance(obj, Mapping):
        return {k: to_plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [to_plain(v) for v in obj]
    return obj


def _merge(base: Dict[str, Any], top: Mapping[str, Any]) -> Dict[str, Any]:
    out = dict(base)
    for k, v in top.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping) and not v.get("_delete_", False):
            out[k] = _merge(dict(out[k]), v)
        else:
            if isinstance(v, Mapping):
                v = {kk: vv for kk, vv in v.items() if kk != "_delete_"}
            out[k] = v
    return out


def _read_yaml(path: str, seen: Iterable[str] = ()) -> Dict[str, Any]:
    path = os.path.abspath(path)
    if path in seen:
        raise ConfigError(f"{path}: _base_ inheritance loops back to this file")
    if not os.path.isfile(path):
        raise ConfigError(f"config file not found: {path}")
    try:
        with open(path, "r", encoding="utf-8") as f:
            data = yaml.safe_load(f) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: a config must be a mapping at the top level, got {type(data).__name__}")
    bases = data.pop("_base_", None)
    if bases is None:
        return dict(data)
    merged: Dict[str, Any] = {}
    for b in [bases] if isinstance(bases, str) else list(bases):
        merged = _merge(merged, _read_yaml(os.path.join(os.path.dirname(path), b), (*seen, path)))
    return _merge(merged, data)


def apply_overrides(cfg: Dict[str, Any], overrides: Optional[List[str]]) -> Dict[str, Any]:
    """Apply ``KEY.SUB=VALUE`` overrides in place; values are parsed with ``yaml.safe_load``.

    A list element is addressed by its index (``PIPELINE.train.0.max_frames=100``).

    Raises:
        ConfigError: if an override has no ``=``, or walks through a key that is not a mapping or list.
    """
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like KEY.SUB=VALUE")
        key, raw = item.split("=", 1)
        try:
            value = yaml.safe_load(raw) if raw != "" else ""
        except yaml.YAMLError as e:
            raise ConfigError(f"override {item!r}: value is not valid YAML: {e}") from None
        parts = key.strip().split(".")
        node: Any = cfg
        for i, p in enumerate(parts[:-1]):
            node = _child(node, p, ".".join(parts[: i + 1]), create=True)
        last = parts[-1]
        if isinstance(node, list):
            node[_index(node, last, key)] = value
        elif isinstance(node, dict):
            node[last] = value
        else:
            raise ConfigError(f"override {item!r}: {'.'.join(parts[:-1])} is a {type(node).__name__}, not a mapping")
    return cfg


def _index(node: list, p: str, where: str) -> int:
    try:
        i = int(p)
        node[i]
        return i
    except (ValueError, IndexError):
        raise ConfigError(f"{where}: {p!r} is not an index of a list of length {len(node)}") from None


def _child(node: Any, p: str, where: str, create: bool) -> Any:
    if isinstance(node, list):
        return node[_index(node, p, where)]
    if not isinstance(node, dict):
        raise ConfigError(f"{where}: cannot set a key inside a {type(node).__name__}")
    if p not in node or node[p] is None:
        if not create:
            raise ConfigError(f"{where}: no such key")
        node[p] = {}
    return node[p]


def validate_config(cfg: Mapping[str, Any], source: str = "config") -> None:
    """Check the top-level keys and the presence of the sections every run needs.

    Component sections (backbone, head, datasets, pipeline steps ...) are checked when they are
    built: an unknown ``name`` or option fails there with the list of valid ones.

    Raises:
        ConfigError: naming the unknown key, the closest valid one and every valid key.
    """
    for k in cfg:
        if k not in TOP_LEVEL_KEYS:
            close = difflib.get_close_matches(k, list(TOP_LEVEL_KEYS), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"{source}: unknown top-level key {k!r}.{hint} Valid keys: {', '.join(TOP_LEVEL_KEYS)}")
    for k in ("model_name", "MODEL"):
        if k not in cfg:
            raise ConfigError(f"{source}: missing required key {k!r}")
    for section, valid in SECTION_KEYS.items():
        body = cfg.get(section)
        if body is None:
            continue
        if not isinstance(body, Mapping):
            raise ConfigError(f"{source}: {section} must be a mapping, got {type(body).__name__}")
        for k in body:
            if k not in valid:
                close = difflib.get_close_matches(str(k), valid, n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise ConfigError(f"{source}: unknown key {section}.{k}.{hint} Valid keys: {', '.join(valid)}")


def load_config(path: str, overrides: Optional[List[str]] = None) -> AttrDict:
    """Read a YAML config (with ``_base_`` inheritance), apply overrides and validate the top level.

    Args:
        path: the YAML file.
        overrides: ``["KEY.SUB=VALUE", ...]`` as given to ``-o``.

    Returns:
        The config as a nested :class:`AttrDict`.

    Raises:
        ConfigError: missing file, invalid YAML, a bad override or an unknown top-level key.
    """
    cfg = _read_yaml(path)
    apply_overrides(cfg, overrides)
    validate_config(cfg, source=path)
    return to_attrdict(cfg)
