"""A tiny name -> class registry, in the style of PaddleVideo and MMEngine.

Configs name components (``name: AttentionLSTM``); :func:`build` looks the name up in a
registry and calls the class with the remaining keys as keyword arguments.

Options are checked against the constructor's signature before the call (:func:`check_options`):
an unknown key fails with the closest valid one, and a value that does not fit the parameter's type
hint fails with the key, the value and what was expected. Type hints are validated with pydantic
(lax mode: ``"1e-3"`` for a ``float`` becomes ``0.001``, ``3.0`` for an ``int`` becomes ``3``); value
constraints come from ``typing.Annotated`` metadata such as :data:`paddlevideo.utils.types.PositiveInt`.
"""
from __future__ import annotations

import difflib
import functools
import inspect
import sys
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .config import ConfigError, describe_invalid


class Registry:
    """Maps names to classes or factory functions.

    Args:
        name: what the registry holds (``"backbone"``, ``"metric"`` ...), used in error messages.

    Example::

        BACKBONES = Registry("backbone")

        @BACKBONES.register()
        class AttentionLSTM(paddle.nn.Layer): ...
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._obj_map: dict[str, Callable[..., Any]] = {}

    def register(self, name: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator that registers a class or function under ``name`` (default: its ``__name__``).

        Raises:
            KeyError: if the name is already taken in this registry.
        """

        def deco(obj: Callable[..., Any]) -> Callable[..., Any]:
            key = name or obj.__name__
            if key in self._obj_map:
                raise KeyError(f"{key!r} is already registered in the {self.name} registry")
            self._obj_map[key] = obj
            return obj

        return deco

    def get(self, name: str) -> Callable[..., Any]:
        """Return the object registered under ``name``.

        Raises:
            KeyError: naming the registry, the unknown name, the closest match and every valid name.
        """
        if name not in self._obj_map:
            valid = sorted(self._obj_map)
            close = difflib.get_close_matches(str(name), valid, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise KeyError(f"unknown {self.name} {name!r}.{hint} Valid names: {', '.join(valid) or '(none)'}")
        return self._obj_map[name]

    def __contains__(self, name: str) -> bool:
        return name in self._obj_map

    def names(self) -> list:
        """Sorted list of registered names."""
        return sorted(self._obj_map)

    def __repr__(self) -> str:
        return f"Registry({self.name!r}, {self.names()})"


def build(cfg: Mapping[str, Any] | None, registry: Registry, key: str = "name", **extra: Any) -> Any:
    """Build an object from a config mapping: ``registry.get(cfg[key])(**rest, **extra)``.

    Args:
        cfg: mapping with a ``name`` key; the other keys are keyword arguments.
        registry: where to look the name up.
        key: the key that holds the name.
        extra: keyword arguments added by the caller (they win over the config).

    Raises:
        ValueError: if ``cfg`` is not a mapping or lacks ``key``.
        ConfigError: (a ValueError) a config key is not an argument of the class (the message lists the
            valid arguments), a required one is missing, or a value does not fit its type hint.
        KeyError: if the name is not registered (the message lists the valid names).
    """
    if cfg is None or not isinstance(cfg, Mapping):
        raise ValueError(f"a {registry.name} config must be a mapping with a {key!r} key, got {cfg!r}")
    if key not in cfg:
        raise ValueError(f"{registry.name} config {dict(cfg)!r} has no {key!r} key")
    kwargs = {k: v for k, v in cfg.items() if k != key}
    obj = registry.get(cfg[key])
    kwargs = check_options(obj, kwargs, f"{registry.name} {cfg[key]!r}", supplied=extra)
    kwargs.update(extra)
    return obj(**kwargs)


def check_arguments(obj: Callable[..., Any], kwargs: Mapping[str, Any], what: str) -> None:
    """Fail early, with the list of valid keys, when ``kwargs`` holds a key ``obj`` does not accept.

    Raises:
        ConfigError: (a ValueError) on the first unknown key.
    """
    check_options(obj, kwargs, what)


class _NotFromConfig:
    """Stands for a type a hint names but the module imports only for type checkers (``Tensor``,
    ``LRScheduler`` in Paddle's signatures): no value read from YAML is an instance of it, so such a union
    member accepts nothing from a config (objects such a parameter needs are passed by the builders)."""

    def __class_getitem__(cls, item: Any) -> type:
        return cls


class _UnresolvedNames(dict):
    """Local names for evaluating string annotations: any name the module's globals and the builtins lack
    evaluates to :class:`_NotFromConfig`."""

    def __init__(self, module_globals: Mapping[str, Any]) -> None:
        super().__init__()
        self._known = module_globals

    def __missing__(self, name: str) -> Any:
        import builtins
        import collections.abc

        if name in self._known or hasattr(builtins, name):
            raise KeyError(name)
        for source in (typing, collections.abc):     # Sequence, Mapping ... imported for type checkers only
            if hasattr(source, name):
                return getattr(source, name)
        return _NotFromConfig


def _adapter(hint: Any) -> Any:
    """A pydantic ``TypeAdapter`` for ``hint`` (classes such as ``paddle.Tensor`` in it are checked with
    ``isinstance``), or None when pydantic cannot build one."""
    from pydantic import ConfigDict, TypeAdapter

    if hint is Any or hint is inspect.Parameter.empty:
        return None
    try:
        return TypeAdapter(hint, config=ConfigDict(arbitrary_types_allowed=True))
    except Exception:  # a hint pydantic has no schema for: leave that option to the constructor
        try:
            return TypeAdapter(hint)
        except Exception:
            return None


@functools.cache
def _signature_info(obj: Callable[..., Any]) -> tuple | None:
    """``(valid names, required names, {name: TypeAdapter or None}, takes **kwargs)`` or None without a signature."""
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):  # builtins without a signature: let the call decide
        return None
    params = sig.parameters
    var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    valid = [n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and n != "self"]
    required = [n for n in valid if params[n].default is inspect.Parameter.empty]
    target = obj.__init__ if inspect.isclass(obj) else obj
    module = sys.modules.get(getattr(target, "__module__", None) or "")
    namespace = dict(vars(module)) if module is not None else {}
    localns = _UnresolvedNames(namespace)
    try:
        hints = typing.get_type_hints(target, include_extras=True, localns=localns)
    except Exception:  # some hint does not evaluate: take the others one by one
        hints = {}
        for n in valid:
            ann = params[n].annotation
            try:
                hints[n] = eval(ann, namespace, localns) if isinstance(ann, str) else ann  # noqa: S307
            except Exception:
                continue
    adapters = {n: _adapter(hints[n]) for n in valid if n in hints}
    return tuple(valid), tuple(required), adapters, var_kw


def check_options(obj: Callable[..., Any], kwargs: Mapping[str, Any], what: str, where: str | None = None,
                  supplied: Iterable[str] = ()) -> dict[str, Any]:
    """Check config options against ``obj``'s signature and type hints; return them converted.

    Args:
        obj: the class or factory the options are for.
        kwargs: the options from the config (without the ``name`` key).
        what: how to name the component in messages (``"backbone 'AttentionLSTM'"``).
        where: the config path of the options (``"MODEL.backbone"``); messages then name the full key
            (``MODEL.backbone.embedding_size=-4: should be greater than or equal to 1``).
        supplied: arguments the caller passes itself (they are neither required from nor checked in
            ``kwargs``).

    Returns:
        A new dict of the options, each value as pydantic validated it (``"1e-3"`` -> ``0.001`` for a
        ``float``); options whose parameter has no usable hint are passed through unchanged.

    Raises:
        ConfigError: (a ValueError) an unknown option (with the closest valid one and all valid ones), a
            missing required option, or a value that does not fit the hint (key, value, what was expected);
            its ``key`` attribute is the dotted key the message is about.
    """
    from pydantic import ValidationError

    info = _signature_info(obj)
    if info is None:
        return dict(kwargs)
    valid, required, adapters, var_kw = info
    prefix = f"{where}: " if where else ""
    if not var_kw:
        for k in kwargs:
            if k not in valid:
                close = difflib.get_close_matches(str(k), list(valid), n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise _error(f"{prefix}{what} has no option {k!r}.{hint} Valid options: {', '.join(valid)}",
                             f"{where}.{k}" if where else k)
    supplied = set(supplied)
    for k in required:
        if k not in kwargs and k not in supplied:
            raise _error(f"{prefix}{what} needs the option {k!r} (required options: "
                         f"{', '.join(r for r in required if r not in supplied)})", where or k)
    out: dict[str, Any] = {}
    for k, v in kwargs.items():
        adapter = adapters.get(k)
        if adapter is None or k in supplied:
            out[k] = v
            continue
        try:
            out[k] = adapter.validate_python(v)
        except ValidationError as e:
            key = f"{where}.{k}" if where else f"{what}: {k}"
            raise _error(describe_invalid(key, v, e), key) from None
    return out


def _error(message: str, key: str) -> ConfigError:
    """A :class:`ConfigError` that remembers the config key it is about (``error.key``)."""
    err = ConfigError(message)
    err.key = key
    return err
