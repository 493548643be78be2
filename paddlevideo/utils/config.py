"""YAML configs in PaddleVideo's layout, with ``_base_`` inheritance and ``-o KEY.SUB=VALUE`` overrides.

A config is a nested mapping read with ``yaml.safe_load``. A file may name a ``_base_`` config (a path
relative to itself, or a list of them); its keys are merged on top of the base, mapping into mapping.
Override values are parsed with ``yaml.safe_load`` too (``-o epochs=3``, ``-o MODEL.head.num_classes=100``,
``-o DATASET.train.file_pattern=/data/train*.tfrecord``), never with ``eval``.

YAML is read with :class:`BoundedSafeLoader`: a document whose aliases would expand to more than
:data:`MAX_YAML_NODES` nodes (the "billion laughs" bomb), that nests deeper than :data:`MAX_YAML_DEPTH`, or
whose alias refers to a node containing itself, fails at once with one line, before anything walks it.

The top-level scalars and the ``DATASET`` sizes have a typed schema (:func:`check_values`, pydantic): a
value of the wrong type or range fails with the key, the value and what was expected. Numbers written as
strings are taken as the number they spell (``-o epochs='3'``; ``1e-3``, which YAML 1.1 reads as a
string, is 0.001 where a float is expected). Component options (backbone, head, loss, dataset, pipeline
steps, optimizer, schedule, metric) are checked against the type hints of their constructors
(:func:`paddlevideo.utils.registry.check_options`).
"""
from __future__ import annotations

import copy
import difflib
import functools
import os
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

__all__ = ["AttrDict", "load_config", "apply_overrides", "validate_config", "check_values", "TOP_LEVEL_KEYS",
           "ConfigError", "BoundedSafeLoader", "YAMLRefused", "safe_load", "describe_invalid", "overridden_keys"]

#: Most nodes a YAML document may expand to, counting every alias as a full copy of what it refers to.
MAX_YAML_NODES = 100_000
#: Deepest nesting of mappings and lists a YAML document may have.
MAX_YAML_DEPTH = 64

#: Top-level keys a config may have; anything else is a typo and fails at start-up.
TOP_LEVEL_KEYS = {
    "model_name": "name used in checkpoint and export file names",
    "MODEL": "framework / backbone / head / loss",
    "DATASET": "batch_size, num_workers and train / valid / test dataset configs",
    "PIPELINE": "train / valid / test lists of pipeline steps",
    "OPTIMIZER": "optimizer with learning_rate (a number or a schedule) and weight_decay",
    "METRIC": "the evaluation metric, or a list of them, with save_best / mode for the best checkpoint",
    "INFERENCE": "export and predict settings",
    "epochs": "number of training epochs",
    "max_train_seconds": "stop training after this many seconds of training steps (the epoch ends early)",
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


class YAMLRefused(yaml.YAMLError):
    """A well-formed YAML document refused for its size, depth or a recursive alias."""


class BoundedSafeLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses documents that are cheap to write and costly to use.

    Before constructing Python objects it walks the node graph once (iteratively, each node once) and
    computes how many nodes the document holds with every alias expanded and how deep it nests.

    Raises:
        YAMLRefused: (a ``yaml.YAMLError``, from ``get_single_data``) the expansion exceeds :data:`MAX_YAML_NODES`, the
            nesting exceeds :data:`MAX_YAML_DEPTH`, or an alias refers to a node that contains it.
    """

    def get_single_data(self) -> Any:
        try:
            node = self.get_single_node()
        except RecursionError:
            raise YAMLRefused(f"nested deeper than {MAX_YAML_DEPTH} levels") from None
        if node is None:
            return None
        check_node_graph(node)
        return self.construct_document(node)


def check_node_graph(root: yaml.Node, max_nodes: int = MAX_YAML_NODES, max_depth: int = MAX_YAML_DEPTH) -> int:
    """Expanded size of a composed YAML node graph, where an alias counts as a full copy of its target.

    Args:
        root: the document node from ``yaml.compose``.

    Returns:
        The number of nodes with every alias expanded (at most ``max_nodes``).

    Raises:
        YAMLRefused: more than ``max_nodes`` nodes, deeper than ``max_depth``, or a node that contains
            itself (a recursive alias); the message names the line of the offending node.
    """
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        if done:
            on_path.discard(key)
            size[key] = 1 + sum(size[id(c)] for c in children)
            depth[key] = 1 + max((depth[id(c)] for c in children), default=0)
            where = f" (line {node.start_mark.line + 1})" if node.start_mark else ""
            if size[key] > max_nodes:
                raise YAMLRefused(f"its aliases expand to more than {max_nodes} nodes{where}; "
                                     "a config this large is refused (a YAML alias bomb?)")
            if depth[key] > max_depth:
                raise YAMLRefused(f"nested deeper than {max_depth} levels{where}")
            continue
        if key in size:
            continue
        if key in on_path:
            where = f" at line {node.start_mark.line + 1}" if node.start_mark else ""
            raise YAMLRefused(f"an alias{where} refers to a node that contains it (a recursive structure)")
        on_path.add(key)
        stack.append((node, True))
        for c in children:
            if id(c) in on_path:
                line = c.start_mark.line + 1 if c.start_mark else "?"
                raise YAMLRefused(f"an alias refers to the node of line {line} from inside it "
                                     "(a recursive structure)")
            if id(c) not in size:
                stack.append((c, False))
    return size[id(root)]


def safe_load(stream: Any) -> Any:
    """``yaml.safe_load`` with :class:`BoundedSafeLoader` (same result for every ordinary document).

    Raises:
        yaml.YAMLError: invalid YAML, or a document refused by :class:`BoundedSafeLoader`.
    """
    loader = BoundedSafeLoader(stream)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def describe_invalid(key: str, value: Any, error: Any) -> str:
    """One line for a pydantic ``ValidationError`` of one config value: ``KEY=VALUE: should be ...``.

    Args:
        key: the full dotted key (``MODEL.backbone.embedding_size``).
        value: the value as the config holds it (shown with ``repr``, so ``'3'`` differs from ``3``).
        error: the ``pydantic.ValidationError`` (or its ``errors()`` list); the messages of all its errors
            (one per member of a union) are joined with "or", each prefixed by the list item it is about.
    """
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    parts: list[str] = []
    errors = error if isinstance(error, list) else error.errors(include_url=False)
    # union members no config value can match (types a signature names for type checkers only) say nothing
    useful = [e for e in errors if "_NotFromConfig" not in str((e.get("ctx") or {}).get("class", ""))]
    for err in useful or errors:
        msg = str(err.get("msg", "invalid"))
        if msg.startswith("Input should be "):
            msg = "should be " + msg[len("Input should be "):]
        elif msg.startswith("Input "):
            msg = "input " + msg[len("Input "):]
        elif msg.startswith("String should "):
            msg = msg[len("String "):]
        loc = [str(p) for p in err.get("loc", ()) if isinstance(p, int)]
        item = f"item {'.'.join(loc)} " if loc else ""
        part = item + msg
        if part not in parts:
            parts.append(part)
    return f"{key}={text}: " + " or ".join(parts)


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

    def __deepcopy__(self, memo: dict) -> AttrDict:
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


def _merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in top.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping) and not v.get("_delete_", False):
            out[k] = _merge(dict(out[k]), v)
        else:
            if isinstance(v, Mapping):
                v = {kk: vv for kk, vv in v.items() if kk != "_delete_"}
            out[k] = v
    return out


def _read_yaml(path: str, seen: Iterable[str] = ()) -> dict[str, Any]:
    path = os.path.abspath(path)
    if path in seen:
        raise ConfigError(f"{path}: _base_ inheritance loops back to this file")
    if not os.path.isfile(path):
        raise ConfigError(f"config file not found: {path}")
    try:
        with open(path, encoding="utf-8") as f:
            data = safe_load(f) or {}
    except YAMLRefused as e:
        raise ConfigError(f"{path}: refused: {e}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {' '.join(str(e).split())}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot be read: {e}") from None
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: a config must be a mapping at the top level, got {type(data).__name__}")
    bases = data.pop("_base_", None)
    if bases is None:
        return dict(data)
    merged: dict[str, Any] = {}
    for b in [bases] if isinstance(bases, str) else list(bases):
        merged = _merge(merged, _read_yaml(os.path.join(os.path.dirname(path), b), (*seen, path)))
    return _merge(merged, data)


def apply_overrides(cfg: dict[str, Any], overrides: list[str] | None) -> dict[str, Any]:
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
            value = safe_load(raw) if raw != "" else ""
        except YAMLRefused as e:
            raise ConfigError(f"override {item!r}: refused: {e}") from None
        except yaml.YAMLError as e:
            raise ConfigError(f"override {item!r}: value is not valid YAML: {' '.join(str(e).split())}") from None
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


def overridden_keys(overrides: list[str] | None) -> set[str]:
    """The dotted keys that ``-o KEY=VALUE`` overrides set (``{"epochs", "MODEL.head.num_classes"}``)."""
    return {item.split("=", 1)[0].strip() for item in overrides or [] if "=" in item}


def source_of(key: str, source: str, overridden: Iterable[str] = ()) -> str:
    """The start of an error line about ``key``: ``"-o "`` when ``key`` or a key above it was set by
    ``-o``, else ``"<source>: "`` (the config file)."""
    for o in overridden:
        if key == o or key.startswith(o + "."):
            return "-o "
    return f"{source}: "


@functools.cache
def _schema() -> Any:
    """The pydantic model of the top-level scalars and the ``DATASET`` sizes (built on first use)."""
    from typing import Annotated

    from pydantic import BaseModel, ConfigDict, Field

    from .types import NonNegativeInt, PositiveInt

    class _Section(BaseModel):
        model_config = ConfigDict(extra="allow")

    class Dataset(_Section):
        batch_size: PositiveInt = 16
        valid_batch_size: PositiveInt | None = None
        num_workers: NonNegativeInt = 0
        train: dict[str, Any] | None = None
        valid: dict[str, Any] | None = None
        test: dict[str, Any] | None = None

    class Pipeline(_Section):
        train: list[dict[str, Any]] | None = None
        valid: list[dict[str, Any]] | None = None
        test: list[dict[str, Any]] | None = None

    class Config(_Section):
        model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True)
        model_name: Annotated[str, Field(min_length=1, pattern=r"^[^/\\]+$")]
        MODEL: dict[str, Any]
        DATASET: Dataset | None = None
        PIPELINE: Pipeline | None = None
        OPTIMIZER: dict[str, Any] | None = None
        METRIC: dict[str, Any] | list[dict[str, Any]] | None = None
        INFERENCE: dict[str, Any] | None = None
        epochs: PositiveInt = 1
        max_train_seconds: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
        log_interval: PositiveInt = 10
        save_interval: PositiveInt = 1
        output_dir: Annotated[str, Field(min_length=1)] | None = None
        seed: Annotated[int, Field(ge=0, lt=2 ** 32)] = 1234
        resume_epoch: PositiveInt | None = None
        use_visualdl: bool = False

    return Config


def check_values(cfg: dict[str, Any], source: str = "config", overridden: Iterable[str] = ()) -> None:
    """Check the types and ranges of the top-level values and the ``DATASET`` sizes, in place.

    ``epochs``, ``log_interval``, ``save_interval``, ``DATASET.batch_size`` / ``valid_batch_size`` are
    integers >= 1, ``max_train_seconds`` a finite number > 0 or null, ``DATASET.num_workers`` >= 0,
    ``seed`` in [0, 2**32), ``resume_epoch`` >= 1 or null,
    ``output_dir`` / ``model_name`` non-empty strings (a number is taken as its text), ``use_visualdl`` a
    boolean, and the sections mappings (``PIPELINE.<mode>`` a list of mappings). A value given as a
    numeric string (``'3'``) is replaced by its number.

    Raises:
        ConfigError: naming where the value came from (the file or ``-o``), the key, the value and
            what was expected; the first invalid value only.
    """
    from pydantic import ValidationError

    try:
        checked = _schema().model_validate(cfg)
    except ValidationError as e:
        err = e.errors(include_url=False)[0]
        path: list[str] = []
        node: Any = cfg
        for p in err["loc"]:
            if isinstance(node, Mapping) and p in node:
                path.append(str(p))
                node = node[p]
            elif isinstance(node, list) and isinstance(p, int) and 0 <= p < len(node):
                path.append(str(p))
                node = node[p]
            else:
                break
        key = ".".join(path) or str(err["loc"][0])
        if err.get("type") == "missing":
            raise ConfigError(f"{source}: missing required key {key!r}") from None
        same = [x for x in e.errors(include_url=False) if x["loc"][:len(path)] == err["loc"][:len(path)]]
        raise ConfigError(f"{source_of(key, source, overridden)}{describe_invalid(key, node, same)}") from None
    for k in ("epochs", "log_interval", "save_interval", "output_dir", "seed", "resume_epoch", "use_visualdl",
              "model_name", "max_train_seconds"):
        if k in cfg:
            cfg[k] = getattr(checked, k)
    if isinstance(cfg.get("DATASET"), dict) and checked.DATASET is not None:
        for k in ("batch_size", "valid_batch_size", "num_workers"):
            if k in cfg["DATASET"]:
                cfg["DATASET"][k] = getattr(checked.DATASET, k)


def load_config(path: str, overrides: list[str] | None = None) -> AttrDict:
    """Read a YAML config (with ``_base_`` inheritance), apply overrides and validate the top level.

    Args:
        path: the YAML file.
        overrides: ``["KEY.SUB=VALUE", ...]`` as given to ``-o``.

    Returns:
        The config as a nested :class:`AttrDict`.

    Raises:
        ConfigError: missing file, invalid or oversized YAML, a bad override, an unknown top-level key,
            or a top-level / ``DATASET`` value of the wrong type or range (:func:`check_values`).
    """
    cfg = _read_yaml(path)
    apply_overrides(cfg, overrides)
    validate_config(cfg, source=path)
    check_values(cfg, source=path, overridden=overridden_keys(overrides))
    return to_attrdict(cfg)
