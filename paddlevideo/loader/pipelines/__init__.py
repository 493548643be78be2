"""Pipeline steps (registered) and the batch collate."""
from .collate import collate_frames
from .frames import Compose, MultiHotLabels, SampleFrames, TruncateFrames, frame_feature_keys, inference_steps

__all__ = ["Compose", "MultiHotLabels", "SampleFrames", "TruncateFrames", "collate_frames", "frame_feature_keys",
           "inference_steps"]
