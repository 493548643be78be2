"""Fine-tuning a video-level checkpoint on segment ratings (the shipped segment demo config at tiny sizes), the
weighted loss against a hand formula, and bad segment files through ``main.py`` (one ``error:`` line, exit 2)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from paddlevideo.loader.yt8m.segments import encode_segment_example
from paddlevideo.loader.yt8m.tfrecord import FOOTER_SIZE, HEADER_SIZE, write_records
from tests.tasks.tiny_setup import NUM_CLASSES, ROOT, load_params, make_tiny_data, quiet_env, run_main

CONFIGS = os.path.join(ROOT, "configs", "recognition", "attention_cluster")
VIDEO_DEMO = os.path.join(CONFIGS, "attention_cluster_youtube8m_demo.yaml")
SEGMENT_DEMO = os.path.join(CONFIGS, "attention_cluster_youtube8m_segment_demo.yaml")
MAKER = os.path.join(ROOT, "data", "yt8m", "make_segment_sample_data.py")
TIMEOUT = 240
TINY = ["-o", "MODEL.backbone.cluster_nums=[2,2]", "-o", f"MODEL.head.num_classes={NUM_CLASSES}",
        "-o", "MODEL.head.hidden_sizes=[16]", "-o", "DATASET.num_workers=0", "-o", "epochs=1", "-o", "log_interval=2"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Tiny frame-level data, a video-level checkpoint trained on it by main.py, and tiny segment data."""
    base = tmp_path_factory.mktemp("segment_finetune")
    frames = str(base / "frame")
    make_tiny_data(frames, train_videos=16, valid_videos=6, train_shards=1, valid_shards=1)
    video_out = str(base / "video_run")
    r = run_main(["-c", VIDEO_DEMO, *TINY, "-o", f"DATASET.train.file_pattern={frames}/train*.tfrecord",
                  "-o", f"DATASET.valid.file_pattern={frames}/validate*.tfrecord", "-o", "DATASET.batch_size=8",
                  "-o", f"output_dir={video_out}"], timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr[-3000:]
    segments = base / "segment"
    r = subprocess.run([sys.executable, MAKER, "--out_dir", str(segments), "--num_classes", str(NUM_CLASSES),
                        "--rated_classes", "4", "--train_videos", "24", "--valid_videos", "8", "--max_frames", "30"],
                       capture_output=True, text=True, timeout=TIMEOUT, env=quiet_env())
    assert r.returncode == 0, r.stderr
    return {"base": base, "weights": os.path.join(video_out, "AttentionCluster_demo_epoch_00001.pdparams"),
            "segments": segments}


def _segment_args(tiny, out, split_files=None):
    seg = tiny["segments"]
    files = {"train": f"{seg}/sample_segment_train*.tfrecord", "valid": f"{seg}/sample_segment_validate*.tfrecord",
             "test": f"{seg}/sample_segment_validate*.tfrecord", **(split_files or {})}
    args = ["-c", SEGMENT_DEMO, *TINY, "-o", "DATASET.batch_size=16", "-o", f"output_dir={out}",
            # the config's SegmentMAP reads the sample set's vocabulary; here the tiny set's, written by the maker
            "-o", f"METRIC=[{{name: SegmentMAP, segment_label_ids: {seg}/sample_segment_label_ids.csv}}, "
                  "{name: YouTube8MMetric, top_k: 20}]"]
    for split, pattern in files.items():
        args += ["-o", f"DATASET.{split}.file_pattern={pattern}"]
    return args


def test_finetunes_a_video_level_checkpoint_on_segments(tiny):
    out = tiny["base"] / "finetune"
    r = run_main([*_segment_args(tiny, out), "--validate", "-w", tiny["weights"]], timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr[-3000:]
    log = (out / "train.log").read_text()
    assert "epoch 1 done" in log and "[valid] epoch 1: SegMAP " in log and " Hit@1 " in log
    assert "best checkpoint by SegMAP (max)" in log
    metrics = json.loads((out / "metrics_epoch_00001.json").read_text())
    # every rated validation window with a frame is evaluated once: count them from the files independently
    from paddlevideo.loader.yt8m import read_tfrecord
    from paddlevideo.loader.yt8m.segments import iter_segment_ratings

    path = str(tiny["segments"] / "sample_segment_validate0000.tfrecord")
    windows = sum(int((r.unique_starts()[0] < len(rec["rgb"])).sum())
                  for rec, r in zip(read_tfrecord(path), iter_segment_ratings(path)))
    assert metrics["num_videos"] == windows and 0.0 <= metrics["gap"] <= 1.0
    assert 0.0 <= metrics["segment_map"] <= 1.0
    start = load_params(tiny["weights"])
    tuned = load_params(str(out / "AttentionCluster_segment_demo_epoch_00001.pdparams"))
    assert start.keys() == tuned.keys()
    assert any(not np.array_equal(start[k], tuned[k]) for k in start)


def test_loss_is_the_label_weighted_bce_and_zero_without_weights(tiny):
    import paddle

    from paddlevideo.loader.builder import build_dataloader, build_dataset
    from paddlevideo.modeling import build_model
    from paddlevideo.tasks.loop import iterate_batches
    from paddlevideo.utils.config import load_config

    cfg = load_config(SEGMENT_DEMO, [a for a in TINY if a != "-o"] + [
        f"DATASET.valid.file_pattern={tiny['segments']}/sample_segment_validate*.tfrecord"])
    model = build_model(cfg["MODEL"])
    model.set_state_dict(paddle.load(tiny["weights"]))
    model.eval()
    ds = build_dataset(cfg, "valid")
    ds.set_batch_size(8)
    batch = next(iterate_batches(build_dataloader(ds, 8, 0), ds))
    w = batch["label_weights"].numpy()
    y = batch["labels"].numpy()
    assert 0 < w.sum() < w.size and set(np.unique(w)) == {0.0, 1.0}
    with paddle.no_grad():
        out = model(batch, "valid")
        logits = model.head_output([batch["rgb"], batch["audio"]], batch["lengths"]).numpy().astype(np.float64)
        # hand formula: BCE with logits, weighted per element, summed over classes, mean over the batch
        bce = np.maximum(logits, 0) - logits * y + np.log1p(np.exp(-np.abs(logits)))
        assert float(out["loss"]) == pytest.approx((w * bce).sum(axis=1).mean(), rel=1e-5)
        assert float(out["loss"]) != pytest.approx(bce.sum(axis=1).mean(), rel=1e-3)   # unweighted differs
        batch["label_weights"] = paddle.zeros_like(batch["label_weights"])
        assert float(model(batch, "valid")["loss"]) == 0.0


def _bad_file(tmp_path):
    """A segment file whose record 1 rates a class outside the head's 10 classes; returns path and offset."""
    frames = {"rgb": np.ones((12, 1024), np.uint8), "audio": np.ones((12, 128), np.uint8)}
    payloads = [encode_segment_example("ok00", [1], frames, [0, 5], [1, 2], [1.0, 0.0]),
                encode_segment_example("bad1", [1], frames, [0, 5], [1, 12], [1.0, 0.0])]
    path = tmp_path / "bad_segment.tfrecord"
    write_records(path, payloads)
    return str(path), HEADER_SIZE + len(payloads[0]) + FOOTER_SIZE


@pytest.mark.parametrize("mode, workers", [("train", 0), ("train", 2), ("validate", 1)])
def test_bad_segment_lists_end_the_run_with_one_line(tiny, tmp_path, mode, workers):
    path, offset = _bad_file(tmp_path)
    split = "train" if mode == "train" else "valid"
    pattern = f"[{tiny['segments']}/sample_segment_{'train' if split == 'train' else 'validate'}*.tfrecord, {path}]"
    args = _segment_args(tiny, tmp_path / "out", {split: pattern}) + ["-o", f"DATASET.num_workers={workers}"]
    if mode == "validate":
        args.append("--validate")
    r = run_main(args, timeout=TIMEOUT)
    assert r.returncode == 2, (r.returncode, r.stderr[-3000:])
    assert r.stderr.splitlines() == [f"error: {path}: record 1 at byte {offset}: segment_labels: class 12 at "
                                     f"position 1 is outside [0, {NUM_CLASSES}) (num_classes={NUM_CLASSES})"]


def test_files_without_segment_ratings_are_refused_in_one_line(tiny, tmp_path):
    frames_dir = tmp_path / "frames"
    make_tiny_data(str(frames_dir), train_videos=3, valid_videos=1, train_shards=1, valid_shards=1)
    pattern = f"{frames_dir}/train*.tfrecord"
    r = run_main(_segment_args(tiny, tmp_path / "out", {"train": pattern}), timeout=TIMEOUT)
    assert r.returncode == 2, (r.returncode, r.stderr[-3000:])
    assert r.stderr.splitlines() == [
        f"error: {pattern}: no rated segment in 1 file(s) (3 records, none with segment_labels, segment_start_times, "
        "segment_scores); the segment dataset reads segment-rated files such as YouTube-8M's 3/frame/validate"]


def test_multi_hot_step_in_the_segment_pipeline_is_refused_with_one_line(tiny):
    """Segment labels are per-class ratings; MultiHotLabels would read them as class indices (silently making
    classes 0 and 1 the positives), so the dataset refuses the step before anything trains."""
    out = tiny["base"] / "multi_hot"
    r = run_main([*_segment_args(tiny, out), "-o", "PIPELINE.train=[{name: MultiHotLabels}]"], timeout=TIMEOUT)
    assert r.returncode == 2, (r.returncode, r.stderr[-3000:])
    assert r.stderr.splitlines() == [
        "error: pipeline step MultiHotLabels turns class-index labels into a multi-hot vector, but a segment "
        "example's labels are already one rating per class; remove it from the segment dataset's PIPELINE"]
    assert not (out / "AttentionCluster_segment_demo_epoch_00001.pdparams").exists()
