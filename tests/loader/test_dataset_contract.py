"""The dataset contract end to end: a data format defined outside the package goes through every normal code path.

The format is the worked example of ``docs/contributing.md`` ("Adding a dataset"): its ``python`` block is
executed here (so the page cannot drift from what works) and registers ``NpzVideoDataset``; its ``yaml``
block is the ``DATASET.train`` section used below. No module of the package is changed for it. The test

* checks the built dataset against :class:`~paddlevideo.loader.datasets.protocol.VideoDataset` and reads one
  epoch as 2 ranks x 2 loader workers (every video of the files exactly once);
* batches through :func:`~paddlevideo.loader.builder.build_dataloader` and compares the stacked
  ``label_weights`` with the files' values, and the model's loss of a batch with a weighted BCE in numpy;
* trains 2 epochs with validation through ``main.main`` in this process with every weight 0 (loss exactly 0,
  parameters unchanged), and on bad ``.npz`` files (truncated, a pickled object, a wrong width): one
  ``error:`` line naming the file, exit 2, and nothing in a pickle runs.

The registration is removed again at the end of the module: ``tests/utils/test_config.py`` checks the names.
"""
from __future__ import annotations

import os
import re
import sys
import types

import numpy as np
import paddle
import pytest
import yaml

from paddlevideo.loader.registry import DATASETS
from tests.contributing_doc import DOC, doc_blocks
from tests.tasks.tiny_setup import NUM_CLASSES, ROOT, load_params, write_tiny_config

TOY = "NpzVideoDataset"
PIPELINE = [{"name": "TruncateFrames", "max_frames": 6}, {"name": "MultiHotLabels", "num_classes": NUM_CLASSES}]


@pytest.fixture(scope="module")
def toy():
    """Execute the doc's python block as a module (registers the format); yield its ``DATASET.train`` section."""
    blocks = doc_blocks("Adding a dataset")
    module = types.ModuleType("contributing_dataset_example")
    sys.modules[module.__name__] = module
    try:
        exec(compile(blocks["python"], f"{DOC} (Adding a dataset)", "exec", dont_inherit=True),  # noqa: S102
             module.__dict__)
        assert DATASETS.get(TOY) is module.__dict__[TOY]
        yield yaml.safe_load(blocks["yaml"])["DATASET"]["train"]
    finally:
        DATASETS._obj_map.pop(TOY, None)
        sys.modules.pop(module.__name__, None)


def write_videos(directory: str, n: int, seed: int, weights: str = "random") -> dict[str, dict]:
    """``n`` videos as ``<directory>/<id>.npz`` (1..6 frames, 1..3 labels); ``weights``: ``random`` (every
    other video has none, i.e. all ones), or ``zero``. Returns ``{id: arrays written}``."""
    os.makedirs(directory, exist_ok=True)
    rng = np.random.default_rng(seed)
    videos = {}
    for i in range(n):
        t = int(rng.integers(1, 7))
        v = {"id": np.array(f"{os.path.basename(directory)}{i:03d}"),
             "labels": rng.choice(NUM_CLASSES, int(rng.integers(1, 4)), replace=False),
             "rgb": rng.integers(0, 256, (t, 1024), dtype=np.uint8),
             "audio": rng.integers(0, 256, (t, 128), dtype=np.uint8)}
        if weights == "zero":
            v["label_weights"] = np.zeros(NUM_CLASSES, np.float32)
        elif i % 2 == 0:
            v["label_weights"] = rng.random(NUM_CLASSES).astype(np.float32)
        np.savez(os.path.join(directory, f"{v['id']}.npz"), **v)
        videos[str(v["id"])] = v
    return videos


def expected_weights(video: dict) -> np.ndarray:
    return video.get("label_weights", np.ones(NUM_CLASSES, np.float32))


def build(section: dict, pattern: str, mode: str = "train", **over):
    from paddlevideo.loader.builder import build_dataset

    cfg = {"DATASET": {mode: {**section, "file_pattern": pattern, **over}}, "PIPELINE": {mode: PIPELINE}}
    return build_dataset(cfg, mode)


def test_the_doc_dataset_satisfies_the_contract_and_reads_every_video_once(toy, tmp_path):
    from paddlevideo.loader.datasets.protocol import VideoDataset, check_dataset

    videos = write_videos(str(tmp_path / "v"), 11, seed=1)
    ds = build(toy, str(tmp_path / "v" / "*.npz"))
    assert isinstance(ds, VideoDataset) and check_dataset(ds) is ds and ds.extra_keys == ("label_weights",)
    assert ds.shuffle and ds.shuffle_buffer == toy["shuffle_buffer"]            # the doc's options arrive
    ds.set_batch_size(2)
    assert ds.num_steps(2) == 3                                                 # ceil(11 / (2 * 2))
    orders = []
    for epoch in (1, 2):
        ds.set_epoch(epoch)
        seen = [r["id"] for rank in range(2) for worker in range(2) for r in ds.iter_shard(rank, 2, worker, 2)]
        assert sorted(seen) == sorted(videos)                                  # every video exactly once
        orders.append(seen)
    assert orders[0] != orders[1]                                               # shuffled per epoch


def test_batches_carry_the_files_label_weights_and_the_loss_uses_them(toy, tmp_path):
    from paddlevideo.loader.builder import build_dataloader
    from paddlevideo.modeling.builder import build_model

    videos = write_videos(str(tmp_path / "v"), 7, seed=2)
    ds = build(toy, str(tmp_path / "v" / "*.npz"), mode="valid", shuffle=False)
    ds.set_batch_size(3)
    batches = [b for b in build_dataloader(ds, batch_size=3, num_workers=0)]
    assert [len(b["lengths"]) for b in batches] == [3, 3, 1]
    ids = sorted(videos)                                                        # files in sorted order
    weights = np.concatenate([np.asarray(b["label_weights"]) for b in batches])
    assert weights.dtype == np.float32 and weights.shape == (7, NUM_CLASSES)
    np.testing.assert_array_equal(weights, np.stack([expected_weights(videos[i]) for i in ids]))
    assert (weights != 1).any() and (weights == 1).all(axis=1).any()           # given and defaulted weights

    paddle.seed(0)
    net = build_model({"framework": "Recognizer1D",
                       "backbone": {"name": "AttentionLSTM", "feature_names": ["rgb", "audio"],
                                    "feature_dims": [1024, 128], "embedding_size": 8, "lstm_size": 8},
                       "head": {"name": "MLPHead", "num_classes": NUM_CLASSES, "hidden_sizes": [16],
                                "activations": ["relu"]},
                       "loss": {"name": "SigmoidBCELoss", "reduction": "batch_mean"}})
    net.eval()
    batch = batches[0]
    with paddle.no_grad():
        out = net(batch, "valid")
    p = out["probs"].numpy().astype(np.float64)
    y = np.asarray(batch["labels"], np.float64)
    w = np.asarray(batch["label_weights"], np.float64)
    bce = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    expected = (w * bce).sum(axis=1).mean()
    assert abs(expected - (bce.sum(axis=1).mean())) > 1e-2                    # the weights change the loss
    assert float(out["loss"]) == pytest.approx(expected, rel=1e-5)


def _config(tmp_path, toy, train_dir: str, valid_dir: str) -> tuple[str, str]:
    out = str(tmp_path / "run")
    datasets = {"batch_size": 4, "valid_batch_size": 5, "num_workers": 0,
                "train": {**toy, "file_pattern": os.path.join(train_dir, "*.npz"), "shuffle_buffer": 4}}
    for split in ("valid", "test"):
        datasets[split] = {**toy, "file_pattern": os.path.join(valid_dir, "*.npz"), "shuffle": False}
    cfg = write_tiny_config(str(tmp_path / "npz.yaml"), "unused", out, DATASET={"_delete_": True, **datasets},
                            PIPELINE={"_delete_": True, **{s: PIPELINE for s in ("train", "valid", "test")}},
                            epochs=2, seed=4, log_interval=1)
    return cfg, out


def test_training_with_all_weights_zero_has_loss_zero_and_learns_nothing(toy, tmp_path):
    sys.path.insert(0, ROOT)
    import main as main_module

    write_videos(str(tmp_path / "train"), 9, seed=3, weights="zero")
    write_videos(str(tmp_path / "valid"), 5, seed=4)
    cfg, out = _config(tmp_path, toy, str(tmp_path / "train"), str(tmp_path / "valid"))
    assert main_module.main(["-c", cfg, "--validate", "--device", "cpu"]) == 0
    with open(os.path.join(out, "train.log"), encoding="utf-8") as f:
        log = f.read()
    losses = re.findall(r"epoch \d/2 step \d+(?:/\d+)?  loss (\S+)", log)
    assert len(losses) == 6 and all(float(v) == 0.0 for v in losses), losses      # 2 epochs x ceil(9 / 4)
    valid = re.findall(r"\[valid\] epoch \d: (.*)", log)
    assert len(valid) == 2 and valid[0] == valid[1] and "loss 0.0000)" not in valid[0], valid
    first, second = (load_params(os.path.join(out, f"Tiny_epoch_{e:05d}.pdparams")) for e in (1, 2))
    assert sorted(first) == sorted(second) and len(first) > 4
    for k in first:                       # zero loss, zero gradients: Adam leaves every parameter as it was
        np.testing.assert_array_equal(first[k], second[k], err_msg=k)


class _MakesDirWhenUnpickled:
    """Unpickling this runs ``os.mkdir(path)``: a stand-in for a malicious payload in an object array."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (os.mkdir, (self.path,))


def _break(path: str, how: str, marker: str) -> None:
    if how == "truncated":
        with open(path, "rb") as f:
            data = f.read()
        with open(path, "wb") as f:
            f.write(data[: len(data) // 2])
    elif how == "pickled object":
        arrays = dict(np.load(path))
        arrays["id"] = np.array([_MakesDirWhenUnpickled(marker)], dtype=object)
        np.savez(path, **arrays)
    else:
        arrays = dict(np.load(path))
        arrays["rgb"] = arrays["rgb"][:, :1000]
        np.savez(path, **arrays)


@pytest.mark.parametrize("how, reason", [
    ("truncated", "not a readable .npz file: File is not a zip file"),
    ("pickled object", "not a readable .npz file: Object arrays cannot be loaded when allow_pickle=False"),
    ("narrow rgb", "'rgb' is uint8 [T_], expected uint8 [T, 1024]"),
])
def test_a_bad_npz_is_one_error_line_naming_the_file(toy, tmp_path, capsys, how, reason):
    sys.path.insert(0, ROOT)
    import main as main_module

    videos = write_videos(str(tmp_path / "train"), 5, seed=5)
    write_videos(str(tmp_path / "valid"), 3, seed=6)
    bad, marker = str(tmp_path / "train" / "train002.npz"), str(tmp_path / "pwned")
    _break(bad, how, marker)
    reason = reason.replace("T_", f"{len(videos['train002']['rgb'])}, 1000")
    cfg, _ = _config(tmp_path, toy, str(tmp_path / "train"), str(tmp_path / "valid"))
    capsys.readouterr()
    assert main_module.main(["-c", cfg, "--validate", "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {bad}: {reason}\n", err
    assert not os.path.exists(marker)                                          # nothing in the file ran
