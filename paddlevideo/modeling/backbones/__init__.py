"""Frame-level backbones: :class:`FrameBackbone` (the contract) and the registered models built on it."""
from . import attention_cluster, attention_lstm, dbof, hierarchical_attention, netvlad, nextvlad  # noqa: F401  (registration)
from .base import FrameBackbone, frame_input_spec

__all__ = ["FrameBackbone", "frame_input_spec"]
