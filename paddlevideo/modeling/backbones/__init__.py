"""Frame-level backbones: :class:`FrameBackbone` (the contract) and the registered models built on it."""
from . import (  # noqa: F401  (registration)
    attention_cluster,
    attention_lstm,
    dbof,
    hierarchical_attention,
    learnable_pooling,
    netvlad,
    nextvlad,
)
from .base import FrameBackbone, frame_input_spec

__all__ = ["FrameBackbone", "frame_input_spec"]
