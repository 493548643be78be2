"""Shared constants and builders of the inference tests (imported by conftest and the test modules)."""
import os

import numpy as np

#: tests/data
DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data")

TINY_CFG = {
    "model_name": "TinyAttentionLSTM",
    "MODEL": {
        "framework": "Recognizer1D",
        "backbone": {"name": "AttentionLSTM", "feature_names": ["rgb", "audio"], "feature_dims": [1024, 128],
                     "embedding_size": 8, "lstm_size": 6, "drop_rate": 0.5},
        "head": {"name": "MLPHead", "num_classes": 10, "hidden_sizes": [16], "activations": ["relu"]},
    },
    "INFERENCE": {"max_frames": 12},
}


def random_videos(lengths, seed=0, dims=(1024, 128)):
    """Record dicts with uint8 features of the given lengths."""
    rng = np.random.default_rng(seed)
    return [{"id": f"v{i}", "labels": np.array([i % 10], np.int64),
             "rgb": rng.integers(0, 256, (n, dims[0])).astype(np.uint8),
             "audio": rng.integers(0, 256, (n, dims[1])).astype(np.uint8)} for i, n in enumerate(lengths)]
