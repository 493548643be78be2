"""Models: importing this package registers every backbone, head, loss and framework, and the renamer
of foreign checkpoint layouts that :func:`paddlevideo.utils.checkpoint.load_weights` uses."""
from ..utils.checkpoint import register_state_converter
from . import backbones, framework, heads, losses  # noqa: F401  (registration)
from .builder import build_model
from .compat import convert_foreign_state
from .registry import BACKBONES, HEADS, LOSSES, RECOGNIZERS

register_state_converter(convert_foreign_state)

__all__ = ["build_model", "BACKBONES", "HEADS", "LOSSES", "RECOGNIZERS"]
