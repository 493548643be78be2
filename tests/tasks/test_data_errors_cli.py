"""Every kind of bad data file, read by ``main.py`` through ``paddle.io.DataLoader`` (0, 1 or 2 workers;
training, ``--validate`` and ``--test``): the run ends with exactly one ``error:`` line on stderr naming the
file (and the record and byte offset where there is one), exit code 2, no traceback and no hang.

Paddle's single-process loader loses exceptions raised in its reading thread (the run used to hang) and its
workers rebuild them from their message (two tracebacks and ``SystemError: Blocking queue is killed``).
"""
from __future__ import annotations

import os
import pickle
import shutil
import struct

import pytest

from paddlevideo.loader.yt8m.pkl import record_to_pkl_dict, write_pkl
from paddlevideo.loader.yt8m.reader import encode_frame_example
from paddlevideo.loader.yt8m.tfrecord import encode_record
from tests.tasks.tiny_setup import ROOT, make_records, make_tiny_data, run_main, write_tiny_config

VIDEO_LEVEL = os.path.join(ROOT, "tests", "data", "yt8m", "video", "train0000.tfrecord")
TIMEOUT = 120


def _frames(n=4, seed=11):
    """``n`` framed good records and their byte offsets (computed here, independently of the reader)."""
    records = make_records(n, seed=seed, prefix="bad")
    frames = [encode_record(encode_frame_example(r["id"], r["labels"], {"rgb": r["rgb"], "audio": r["audio"]}))
              for r in records]
    offsets = [sum(len(f) for f in frames[:i]) for i in range(n)]
    return records, frames, offsets


def _write(path, data):
    with open(path, "wb") as f:
        f.write(data)
    return path


# Each maker writes a bad file into ``d`` and returns (path, what the error line must start with after
# "error: ", words it must contain).
def truncated(d):
    _, frames, offsets = _frames()
    path = _write(os.path.join(d, "t.tfrecord"), b"".join(frames)[: offsets[2] + 100])  # `head -c`
    return path, f"{path}: record 2 at byte {offsets[2]}: ", "truncated"


def length_crc(d):
    _, frames, offsets = _frames()
    data = bytearray(b"".join(frames))
    data[offsets[1] + 8] ^= 0xFF  # the stored CRC of record 1's length
    path = _write(os.path.join(d, "l.tfrecord"), bytes(data))
    return path, f"{path}: record 1 at byte {offsets[1]}: ", "length CRC mismatch"


def data_crc(d):
    _, frames, offsets = _frames()
    data = bytearray(b"".join(frames))
    data[offsets[1] + 40] ^= 0xFF  # a payload byte of record 1: found only when the record is read
    path = _write(os.path.join(d, "c.tfrecord"), bytes(data))
    return path, f"{path}: record 1 at byte {offsets[1]}: ", "data CRC mismatch"


def missing_audio(d):
    records, frames, offsets = _frames()
    r = records[3]
    frames[3] = encode_record(encode_frame_example(r["id"], r["labels"], {"rgb": r["rgb"]}))
    path = _write(os.path.join(d, "m.tfrecord"), b"".join(frames))
    return path, f"{path}: record 3 at byte {offsets[3]}: ", "missing feature list 'audio'"


def gzipped(d):
    import gzip

    _, frames, _ = _frames()
    path = _write(os.path.join(d, "g.tfrecord"), gzip.compress(b"".join(frames)))
    return path, f"{path}: ", "gzip-compressed"


def directory(d):
    path = os.path.join(d, "dir.tfrecord")
    os.mkdir(path)
    return path, f"{path}: ", "it is a directory"


def fifo(d):
    path = os.path.join(d, "fifo.tfrecord")
    os.mkfifo(path)  # opening it for reading would block forever
    return path, f"{path}: ", "it is a FIFO"


def dangling(d):
    path = os.path.join(d, "dangling.tfrecord")
    os.symlink(os.path.join(d, "nowhere"), path)
    return path, f"{path}: ", "No such file or directory"


def symlink_loop(d):
    path = os.path.join(d, "loop.tfrecord")
    os.symlink(path, path)
    return path, f"{path}: ", "Too many levels of symbolic links"


def video_level(d):
    path = shutil.copy(VIDEO_LEVEL, os.path.join(d, "v.tfrecord"))
    # every record is video-level: with several workers, whichever reader comes first names its record
    return path, f"{path}: record ", ("is a video-level record (tf.train.Example with mean_rgb, mean_audio); "
                                      "this config reads frame-level SequenceExamples")


TFRECORD_CASES = {f.__name__: f for f in (truncated, length_crc, data_crc, missing_audio, gzipped, directory, fifo,
                                          dangling, symlink_loop, video_level)}


def _pkl_video(seed=5, **change):
    video = record_to_pkl_dict(make_records(1, seed=seed, prefix="p")[0])
    video.update(change)
    return {k: v for k, v in video.items() if v is not None}


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def pkl_wrong_keys(d):
    path = os.path.join(d, "keys.pkl")
    write_pkl(path, _pkl_video(nframes=None))
    return path, f"{path}: video 0: ", "missing key 'nframes'"


def pkl_wrong_dtype(d):
    path = os.path.join(d, "dtype.pkl")
    video = _pkl_video()
    write_pkl(path, dict(video, feature=video["feature"].astype("float32")))
    return path, f"{path}: video 0: ", "must have dtype uint8"


def pkl_malicious(d):
    path = os.path.join(d, "evil.pkl")
    with open(path, "wb") as f:
        pickle.dump(dict(_pkl_video(), label=_Payload(os.path.join(d, "marker"))), f, protocol=2)
    return path, f"{path}: refused to unpickle global ", "posix.system"


def pkl_bomb(d):
    # 38 bytes asking bytearray for 2**30 bytes: refused before anything is allocated
    data = b"\x80\x02c__builtin__\nbytearray\nJ" + struct.pack("<i", 2**30) + b"\x85R."
    path = _write(os.path.join(d, "bomb.pkl"), data)
    return path, f"{path}: refused to unpickle global ", "bytearray(<int>)"


PKL_CASES = {f.__name__: f for f in (pkl_wrong_keys, pkl_wrong_dtype, pkl_malicious, pkl_bomb)}
CASES = {**TFRECORD_CASES, **PKL_CASES}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """Good tiny data (TFRecord and pkl), a config for each format and weights for --test."""
    base = tmp_path_factory.mktemp("data_errors")
    data = str(base / "data")
    make_tiny_data(data, train_videos=12, valid_videos=6, train_shards=2, valid_shards=1)
    pkl_dir = base / "pkl"
    pkl_dir.mkdir()
    for i, r in enumerate(make_records(6, seed=3, prefix="k")):
        write_pkl(str(pkl_dir / f"v{i}.pkl"), record_to_pkl_dict(r))
    cfg = write_tiny_config(str(base / "tf.yaml"), data, str(base / "out"), epochs=1)
    pkl_set = {"format": "YouTube8MPklDataset", "file_path": "LIST"}
    pkl_cfg = write_tiny_config(str(base / "pkl.yaml"), data, str(base / "out"), epochs=1,
                                DATASET={"_delete_": True, "batch_size": 2, "valid_batch_size": 2, "num_workers": 0,
                                         "train": dict(pkl_set), "valid": dict(pkl_set), "test": dict(pkl_set)})
    import paddle

    from paddlevideo.modeling import build_model
    from paddlevideo.utils.config import load_config

    weights = str(base / "w.pdparams")
    paddle.save(build_model(load_config(cfg)["MODEL"]).state_dict(), weights)
    return {"base": base, "data": data, "pkl_dir": pkl_dir, "tf": cfg, "pkl": pkl_cfg, "weights": weights}


def run_case(setup, tmp_path, case, mode, workers):
    """Run main.py with the bad file of ``case`` in the split ``mode`` reads; check the outcome."""
    path, head, words = CASES[case](str(tmp_path))
    split = "train" if mode == "train" else ("valid" if mode == "validate" else "test")
    args = ["-o", f"DATASET.num_workers={workers}", "-o", f"output_dir={tmp_path / 'out'}"]
    if case in PKL_CASES:
        good = sorted(os.listdir(setup["pkl_dir"]))
        names = [os.path.join(setup["pkl_dir"], g) for g in good]
        lists = {}
        for s in ("train", "valid", "test"):
            lst = tmp_path / f"{s}.list"
            lst.write_text("\n".join(names[:3] + ([path] if s == split else []) + names[3:]) + "\n")
            lists[s] = lst
            args += ["-o", f"DATASET.{s}.file_path={lst}"]
        cfg = setup["pkl"]
    else:
        pattern = {"train": "train*.tfrecord", "valid": "validate*.tfrecord", "test": "validate*.tfrecord"}[split]
        args += ["-o", f"DATASET.{split}.file_pattern=[{os.path.join(setup['data'], pattern)}, {path}]"]
        cfg = setup["tf"]
    args += {"train": [], "validate": ["--validate"], "test": ["--test", "-w", setup["weights"]]}[mode]
    r = run_main(["-c", cfg, *args], timeout=TIMEOUT)
    assert r.returncode == 2, (r.returncode, r.stderr[-3000:])
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr  # the whole stderr: one line, no traceback, no noise
    assert lines[0].startswith(f"error: {head}"), lines[0]
    assert words in lines[0], lines[0]
    assert not os.path.exists(tmp_path / "marker")  # the malicious pickle's payload never ran
    return r


@pytest.mark.parametrize("case", list(CASES))
def test_training_stops_with_one_line_for_every_kind_of_bad_file(setup, tmp_path, case):
    run_case(setup, tmp_path, case, "train", 0)


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("case", ["data_crc", "video_level", "pkl_malicious"])
def test_errors_found_inside_loader_workers_end_the_same_way(setup, tmp_path, case, workers):
    run_case(setup, tmp_path, case, "train", workers)


@pytest.mark.parametrize("mode, case, workers", [
    ("validate", "data_crc", 0), ("validate", "pkl_wrong_keys", 2), ("validate", "truncated", 1),
    ("test", "missing_audio", 0), ("test", "pkl_wrong_dtype", 2), ("test", "symlink_loop", 1),
])
def test_validation_and_test_runs_end_the_same_way(setup, tmp_path, mode, case, workers):
    r = run_case(setup, tmp_path, case, mode, workers)
    if mode == "validate":
        assert "epoch 1 done" in r.stdout  # training ran; the bad file was met in validation
