"""A tiny name -> class registry, in the style of PaddleVideo and MMEngine.

Configs name components (``name: AttentionLSTM``); :func:`build` looks the name up in a
registry and calls the class with the remaining keys as keyword arguments.
"""
from __future__ import annotations

import difflib
import inspect
from typing import Any, Callable, Dict, Mapping, Optional


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
        self._obj_map: Dict[str, Callable[..., Any]] = {}

    def register(self, name: Optional[str] = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
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


def build(cfg: Optional[Mapping[str, Any]], registry: Registry, key: str = "name", **extra: Any) -> Any:
    """Build an object from a config mapping: ``registry.get(cfg[key])(**rest, **extra)``.

    Args:
        cfg: mapping with a ``name`` key; the other keys are keyword arguments.
        registry: where to look the name up.
        key: the key that holds the name.
        extra: keyword arguments added by the caller (they win over the config).

    Raises:
        ValueError: if ``cfg`` is not a mapping or lacks ``key``; or if a config key is not an argument
            of the class (the message lists the valid arguments).
        KeyError: if the name is not registered (the message lists the valid names).
    """
    if cfg is None or not isinstance(cfg, Mapping):
        raise ValueError(f"a {registry.name} config must be a mapping with a {key!r} key, got {cfg!r}")
    if key not in cfg:
        raise ValueError(f"{registry.name} config {dict(cfg)!r} has no {key!r} key")
    kwargs = {k: v for k, v in cfg.items() if k != key}
    kwargs.update(extra)
    obj = registry.get(cfg[key])
    check_arguments(obj, kwargs, f"{registry.name} {cfg[key]!r}")
    return obj(**kwargs)


def check_arguments(obj: Callable[..., Any], kwargs: Mapping[str, Any], what: str) -> None:
    """Fail early, with the list of valid keys, when ``kwargs`` holds a key ``obj`` does not accept.

    Raises:
        ValueError: on the first unknown key.
    """
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):  # builtins without a signature: let the call decide
        return
    params = sig.parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    valid = [n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and n != "self"]
    for k in kwargs:
        if k not in valid:
            close = difflib.get_close_matches(k, valid, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"{what} has no option {k!r}.{hint} Valid options: {', '.join(valid)}")
