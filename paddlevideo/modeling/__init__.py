"""Models: importing this package registers every backbone, head, loss and framework."""
from . import backbones, framework, heads, losses  # noqa: F401  (registration)
from .builder import build_model
from .registry import BACKBONES, HEADS, LOSSES, RECOGNIZERS

__all__ = ["build_model", "BACKBONES", "HEADS", "LOSSES", "RECOGNIZERS"]
