"""data/yt8m/tf2pkl.py and data/yt8m/make_example_pkl.py.

Expectations: the PaddleVideo-layout pkl fixtures in tests/data/yt8m/paddle_pkl (loaded with plain
``pickle``: they are our own trusted files), TensorFlow's sidecar ``.expected.npz`` for the TFRecord
without a pkl fixture, and the committed ``data/example.pkl``.
"""
from __future__ import annotations

import importlib.util
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from paddlevideo.loader.datasets.yt8m_pkl import YouTube8MPklDataset
from paddlevideo.loader.yt8m import read_tfrecord

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "yt8m"
PKL = DATA / "paddle_pkl"
TF2PKL = ROOT / "data" / "yt8m" / "tf2pkl.py"
ENV = dict(os.environ, GLOG_minloglevel="2")


def _load_script(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


tf2pkl = _load_script(TF2PKL)


def _pickle_load(path):
    with open(path, "rb") as f:
        return pickle.load(f)


def assert_same_pkl(got_path: Path, want_path: Path):
    """Field by field: key names and types, value types, dtypes, shapes, contents; protocol 2."""
    assert got_path.read_bytes()[:2] == b"\x80\x02"  # PROTO 2
    got, want = _pickle_load(got_path), _pickle_load(want_path)
    assert type(got) is type(want)
    if isinstance(want, dict):
        got, want = [got], [want]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert list(g) == list(w) == ["video", "feature", "audio", "label", "nframes"]
        assert type(g["video"]) is bytes and g["video"] == w["video"]
        for key in ("feature", "audio"):
            assert g[key].dtype == w[key].dtype == np.uint8
            assert g[key].shape == w[key].shape
            np.testing.assert_array_equal(g[key], w[key])
        assert type(g["label"]) is list and all(type(c) is int for c in g["label"]) and g["label"] == w["label"]
        assert type(g["nframes"]) is type(w["nframes"]) is np.int32 and g["nframes"] == w["nframes"]


CASES = [("frame", "train0000", 8), ("frame_edge", "edge0000", 5)]


@pytest.mark.parametrize("folder, stem, n", CASES)
def test_whole_file_output_equals_fixture(tmp_path, folder, stem, n):
    s = tf2pkl.convert(str(DATA / folder / f"{stem}.tfrecord"), str(tmp_path), progress=False)
    assert (len(s.converted), s.videos, s.failed) == (1, n, [])
    assert_same_pkl(tmp_path / f"{stem}.pkl", PKL / folder / f"{stem}.pkl")
    group = stem.rstrip("0123456789")
    assert (tmp_path / f"{group}.list").read_text() == f"{stem}.pkl\n"


@pytest.mark.parametrize("folder, stem, n", CASES)
def test_split_output_equals_fixture(tmp_path, folder, stem, n):
    s = tf2pkl.convert(str(DATA / folder / f"{stem}.tfrecord"), str(tmp_path), split=True, progress=False)
    assert (len(s.converted), s.videos) == (1, n)
    for i in range(n):
        assert_same_pkl(tmp_path / f"{stem}_split_{i}.pkl", PKL / folder / f"{stem}_split_{i}.pkl")
    assert not (tmp_path / f"{stem}_split_{n}.pkl").exists()
    # list lines in ls order (_split_0, _split_1, ... _split_10 would follow _split_1)
    names = (tmp_path / f"{stem.rstrip('0123456789')}_split.list").read_text().split()
    assert names == sorted(f"{stem}_split_{i}.pkl" for i in range(n))


def test_file_without_fixture_matches_tensorflow_sidecar(tmp_path):
    tf2pkl.convert(str(DATA / "frame" / "train0001.tfrecord"), str(tmp_path), progress=False)
    z = np.load(DATA / "frame" / "train0001.expected.npz")
    videos = _pickle_load(tmp_path / "train0001.pkl")
    assert [v["video"] for v in videos] == list(z["ids"])
    for i, v in enumerate(videos):
        assert v["label"] == np.where(z["labels_multihot"][i])[0].tolist()
        assert v["nframes"] == z["num_frames"][i]
        lo, hi = z["frame_offsets"][i], z["frame_offsets"][i + 1]
        np.testing.assert_array_equal(v["feature"], z["rgb_q"][lo:hi])
        np.testing.assert_array_equal(v["audio"], z["audio_q"][lo:hi])


def test_lists_feed_the_dataset(tmp_path):
    tf2pkl.convert(str(DATA / "frame" / "*.tfrecord"), str(tmp_path), split=True, progress=False)
    ids = [r["id"].encode() for r in YouTube8MPklDataset(str(tmp_path / "train_split.list"))]
    expected = sorted((f"train000{f}_split_{i}.pkl", vid) for f in (0, 1)
                      for i, vid in enumerate(np.load(DATA / "frame" / f"train000{f}.expected.npz")["ids"]))
    assert ids == [vid for _, vid in expected]  # list order is ls order of the file names


def _mtimes(directory: Path):
    return {p.name: p.stat().st_mtime_ns for p in directory.iterdir() if p.suffix == ".pkl"}


@pytest.mark.parametrize("split", [False, True])
def test_second_run_skips_finished_inputs(tmp_path, split):
    src = str(DATA / "frame" / "*.tfrecord")
    first = tf2pkl.convert(src, str(tmp_path), split=split, progress=False)
    assert len(first.converted) == 2 and first.skipped == []
    before = _mtimes(tmp_path)
    second = tf2pkl.convert(src, str(tmp_path), split=split, progress=False)
    assert second.converted == [] and len(second.skipped) == 2 and second.videos == 0
    assert _mtimes(tmp_path) == before
    # an input with a missing output is converted again; the other stays skipped
    victim = tmp_path / ("train0001_split_3.pkl" if split else "train0001.pkl")
    victim.unlink()
    third = tf2pkl.convert(src, str(tmp_path), split=split, progress=False)
    assert [Path(f).name for f in third.converted] == ["train0001.tfrecord"] and len(third.skipped) == 1
    assert victim.exists()
    forced = tf2pkl.convert(src, str(tmp_path), split=split, force=True, progress=False)
    assert len(forced.converted) == 2


def test_half_written_outputs_do_not_count_as_finished(tmp_path):
    # what a crash leaves: a temporary file (whole mode) or split files without the done marker
    (tmp_path / ".train0000.pkl.tmp-123-abcd").write_bytes(b"\x80\x02partial")
    s = tf2pkl.convert(str(DATA / "frame" / "train0000.tfrecord"), str(tmp_path), progress=False)
    assert len(s.converted) == 1
    shutil.copy(PKL / "frame" / "train0000_split_0.pkl", tmp_path / "train0000_split_0.pkl")
    s = tf2pkl.convert(str(DATA / "frame" / "train0000.tfrecord"), str(tmp_path), split=True, progress=False)
    assert len(s.converted) == 1 and s.videos == 8


def test_cli_with_pool_and_a_corrupt_input(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for name in ("train0000.tfrecord", "train0001.tfrecord"):
        shutil.copy(DATA / "frame" / name, src / name)
    raw = bytearray((src / "train0001.tfrecord").read_bytes())
    raw[100] ^= 0xFF  # damage the first payload: data CRC mismatch
    (src / "train0001.tfrecord").write_bytes(bytes(raw))
    out = tmp_path / "out"

    def run(*extra):
        return subprocess.run([sys.executable, str(TF2PKL), str(src), str(out), "--workers", "2", *extra],
                              capture_output=True, text=True, env=ENV, timeout=300)

    r = run()
    assert r.returncode == 1
    assert f"failed: {src / 'train0001.tfrecord'}: CorruptRecordError: " in r.stderr
    assert "record 0 at byte 0" in r.stderr
    assert "converted 1 files (8 videos)" in r.stdout
    assert_same_pkl(out / "train0000.pkl", PKL / "frame" / "train0000.pkl")
    assert not (out / "train0001.pkl").exists()
    assert (out / "train.list").read_text() == "train0000.pkl\n"
    (src / "train0001.tfrecord").unlink()
    r = run("--quiet")
    assert r.returncode == 0 and "converted 0 files (0 videos), skipped 1 already converted" in r.stdout
    r = subprocess.run([sys.executable, str(TF2PKL), str(tmp_path / "none*.tfrecord"), str(out)],
                       capture_output=True, text=True, env=ENV, timeout=300)
    assert r.returncode == 1 and r.stderr.strip().startswith("tf2pkl: error: no TFRecord file matches")


def test_example_pkl_is_reproduced_byte_for_byte(tmp_path):
    committed = ROOT / "data" / "example.pkl"
    sample = tmp_path / "frame"
    # the validate split does not depend on the training size: skip writing 2000 training videos
    subprocess.run([sys.executable, str(ROOT / "data" / "yt8m" / "make_sample_data.py"), "--out_dir", str(sample),
                    "--train_videos", "1", "--train_shards", "1"],
                   check=True, capture_output=True, env=ENV, timeout=600)
    out = tmp_path / "example.pkl"
    subprocess.run([sys.executable, str(ROOT / "data" / "yt8m" / "make_example_pkl.py"),
                    "--src", str(sample / "sample_validate0000.tfrecord"), "--out", str(out)],
                   check=True, capture_output=True, env=ENV, timeout=300)
    assert out.read_bytes() == committed.read_bytes()

    # PaddleVideo's example.pkl layout (docs/youtube8m_format.md#example-pkl), filled from the first validate video
    d = _pickle_load(committed)
    assert committed.read_bytes()[:2] == b"\x80\x02" and type(d) is dict
    assert list(d) == [b"video", b"feature", b"audio", b"label", b"nframes"]
    first = next(read_tfrecord(sample / "sample_validate0000.tfrecord"))
    assert d[b"video"] == first["id"].encode()
    assert d[b"label"] == sorted(set(first["labels"].tolist()))
    assert type(d[b"nframes"]) is np.int32 and d[b"nframes"] == min(len(first["rgb"]), 300)
    np.testing.assert_array_equal(d[b"feature"], first["rgb"])
    np.testing.assert_array_equal(d[b"audio"], first["audio"])


def test_segment_ratings_are_not_kept_and_the_tool_says_so(tmp_path):
    seg = ROOT / "tests" / "data" / "segment" / "validate0000.tfrecord"
    r = subprocess.run([sys.executable, str(TF2PKL), str(seg), str(tmp_path),
                        "--quiet", "--workers", "1"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    # 4 of the fixture's 6 videos rate segments (one has no segment keys, one has empty lists)
    assert r.stderr.splitlines() == [
        "tf2pkl: note: 4 converted videos carry segment ratings (segment_labels, segment_start_times, "
        "segment_end_times, segment_scores); PaddleVideo's pkl layout (video, feature, audio, label, nframes) "
        "has no fields for them, so they are not in the pkl files. Fine-tune on segments from the TFRecords "
        "(YouTube8MSegmentDataset, docs/segments.md)"]
    (video,) = _pickle_load(tmp_path / "validate0000.pkl")[:1]
    assert list(video) == ["video", "feature", "audio", "label", "nframes"]
    r = subprocess.run([sys.executable, str(TF2PKL),
                        str(DATA / "frame" / "train0000.tfrecord"), str(tmp_path / "plain"),
                        "--quiet"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stderr == ""
