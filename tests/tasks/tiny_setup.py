"""Helpers shared by the training tests: a tiny generated TFRecord set, a tiny AttentionLSTM config and a
way to run ``main.py`` in a subprocess (quiet, one OpenMP thread)."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BASE_CONFIG = os.path.join(ROOT, "configs", "recognition", "attention_lstm", "attention_lstm_youtube8m.yaml")
NUM_CLASSES = 10


def make_records(n: int, seed: int, prefix: str = "v", max_frames: int = 12) -> list[dict]:
    """``n`` random record dicts with 1..max_frames frames and 1..3 labels below NUM_CLASSES."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        t = int(rng.integers(1, max_frames + 1))
        out.append({"id": f"{prefix}{i:04d}", "labels": rng.choice(NUM_CLASSES, int(rng.integers(1, 4)), replace=False),
                    "rgb": rng.integers(0, 256, (t, 1024), dtype=np.uint8),
                    "audio": rng.integers(0, 256, (t, 128), dtype=np.uint8)})
    return out


def make_tiny_data(data_dir: str, train_videos: int = 37, valid_videos: int = 13, train_shards: int = 3,
                   valid_shards: int = 2) -> dict[str, list[str]]:
    """Write train*/validate* shards into ``data_dir``; returns the ids per split."""
    from paddlevideo.loader.yt8m import write_tfrecord

    os.makedirs(data_dir, exist_ok=True)
    ids: dict[str, list[str]] = {}
    for split, n, shards, seed in (("train", train_videos, train_shards, 1),
                                   ("validate", valid_videos, valid_shards, 2)):
        records = make_records(n, seed, prefix=split[0])
        ids[split] = [r["id"] for r in records]
        for s in range(shards):
            write_tfrecord(os.path.join(data_dir, f"{split}{s:04d}.tfrecord"), records[s::shards])
    return ids


def write_tiny_config(path: str, data_dir: str, out_dir: str, **top: object) -> str:
    """A config inheriting the full AttentionLSTM config at tiny sizes (embedding 8, LSTM 8, 10 classes)."""
    cfg = {
        "_base_": BASE_CONFIG,
        "model_name": "Tiny",
        "MODEL": {"backbone": {"embedding_size": 8, "lstm_size": 8, "drop_rate": 0.2},
                  "head": {"num_classes": NUM_CLASSES, "hidden_sizes": [16], "activations": ["relu"]},
                  "loss": {"reduction": "batch_mean"}},
        "DATASET": {"batch_size": 4, "valid_batch_size": 5, "num_workers": 0,
                    "train": {"file_pattern": os.path.join(data_dir, "train*.tfrecord"), "shuffle_buffer": 8},
                    "valid": {"file_pattern": os.path.join(data_dir, "validate*.tfrecord")},
                    "test": {"file_pattern": os.path.join(data_dir, "validate*.tfrecord")}},
        "OPTIMIZER": {"_delete_": True, "name": "Adam",
                      "learning_rate": {"name": "PiecewiseDecay", "boundaries": [2], "values": [0.01, 0.001]},
                      "grad_clip": {"clip_norm": 1.0}},
        "epochs": 3, "log_interval": 5, "output_dir": out_dir,
    }
    cfg.update(top)
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(cfg, f)
    return path


def quiet_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for subprocesses: quiet Paddle, one OpenMP thread, the repository importable."""
    env = dict(os.environ)
    for k in [k for k in env if k.startswith("PADDLE_")]:
        env.pop(k)
    env.update({"GLOG_minloglevel": "2", "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore",
                "PYTHONPATH": ROOT + os.pathsep + env.get("PYTHONPATH", "")})
    env.update(extra or {})
    return env


def run_main(args: list[str], extra_env: dict[str, str] | None = None, timeout: float = 300
             ) -> subprocess.CompletedProcess:
    """``python main.py ARGS`` in a subprocess; returns the completed process (text output)."""
    return subprocess.run([sys.executable, os.path.join(ROOT, "main.py"), *args], cwd=ROOT, env=quiet_env(extra_env),
                          capture_output=True, text=True, timeout=timeout)


def load_params(path: str) -> dict[str, np.ndarray]:
    """A ``.pdparams`` file as numpy arrays."""
    import paddle

    return {k: np.asarray(v) for k, v in paddle.load(path, return_numpy=True).items()}
