"""PaddleVideo pkl data: reading, the restricted unpickler, errors, writing and the list-file dataset.

Expectations: the TFRecord of the same videos read by the TFRecord reader and TensorFlow's sidecar
``.expected.npz`` (tests/data/yt8m/README.md); malicious pickles are built here with ``__reduce__``
and checked to be live (plain ``pickle`` runs them) before they are fed to the safe loader.
"""
from __future__ import annotations

import _compat_pickle
import builtins
import os
import pickle
import pickletools
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from paddlevideo.loader.datasets.yt8m_pkl import YouTube8MPklDataset, read_list_file
from paddlevideo.loader.yt8m import BadPklError, UnsafePickleError, load_pickle, read_pkl, read_tfrecord
from paddlevideo.loader.yt8m.pkl import record_to_pkl_dict, write_pkl

DATA = Path(__file__).resolve().parents[1] / "data" / "yt8m"
PKL = DATA / "paddle_pkl"
PAIRS = [(PKL / "frame" / "train0000.pkl", DATA / "frame" / "train0000.tfrecord"),
         (PKL / "frame_edge" / "edge0000.pkl", DATA / "frame_edge" / "edge0000.tfrecord")]


def assert_same_video(pkl_record, tf_record):
    assert pkl_record["id"] == tf_record["id"]
    assert set(pkl_record) == {"id", "labels", "rgb", "audio"}
    assert pkl_record["labels"].dtype == np.int64
    # pkl labels are sorted and de-duplicated (tf2pkl.py); TFRecords keep file order
    np.testing.assert_array_equal(pkl_record["labels"], np.unique(tf_record["labels"]))
    for key in ("rgb", "audio"):
        assert pkl_record[key].dtype == np.uint8 and pkl_record[key].flags.writeable
        np.testing.assert_array_equal(pkl_record[key], tf_record[key])


# ----------------------------------------------------------------------------------- reading


@pytest.mark.parametrize("pkl_path, tf_path", PAIRS, ids=["frame", "frame_edge"])
def test_whole_file_pkl_equals_tfrecord(pkl_path, tf_path):
    got, want = list(read_pkl(pkl_path)), list(read_tfrecord(tf_path))
    assert len(got) == len(want) > 0
    for a, b in zip(got, want):
        assert_same_video(a, b)


@pytest.mark.parametrize("pkl_path, tf_path", PAIRS, ids=["frame", "frame_edge"])
def test_split_pkls_equal_tfrecord(pkl_path, tf_path):
    want = list(read_tfrecord(tf_path))
    for i, b in enumerate(want):
        (a,) = list(read_pkl(pkl_path.parent / f"{pkl_path.stem}_split_{i}.pkl"))
        assert_same_video(a, b)


def test_edge_videos_keep_every_stored_frame():
    # nframes is 300 in the pkl (min(stored, 300)) but all 301 / 350 stored frames are returned
    z = np.load(DATA / "frame_edge" / "edge0000.expected.npz")
    assert [len(r["rgb"]) for r in read_pkl(PKL / "frame_edge" / "edge0000.pkl")] == z["num_frames_raw"].tolist()


def test_only_requested_features():
    (r,) = list(read_pkl(PKL / "frame" / "train0000_split_3.pkl", ["audio"], [128]))
    assert set(r) == {"id", "labels", "audio"}
    with pytest.raises(ValueError, match="pkl files hold the features"):
        read_pkl(PKL / "frame" / "train0000.pkl", ["flow"], [1024])


def _video(n=5, nframes=None, **overrides):
    rng = np.random.default_rng(n)
    video = {"video": b"abcd", "feature": rng.integers(0, 256, (n, 1024), dtype=np.uint8),
             "audio": rng.integers(0, 256, (n, 128), dtype=np.uint8), "label": [4, 2],
             "nframes": np.int32(min(n, 300) if nframes is None else nframes)}
    video.update(overrides)
    return video


def _dump(path, obj, protocol=2):
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=protocol)
    return path


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_bytes_and_str_keys_read_alike(tmp_path, protocol):
    video = _video()
    as_bytes = {k.encode(): v for k, v in video.items()}
    (a,) = list(read_pkl(_dump(tmp_path / "s.pkl", video, protocol)))
    (b,) = list(read_pkl(_dump(tmp_path / "b.pkl", as_bytes, protocol)))
    for r in (a, b):
        assert r["id"] == "abcd"
        assert r["labels"].tolist() == [4, 2]
        np.testing.assert_array_equal(r["rgb"], video["feature"])
        np.testing.assert_array_equal(r["audio"], video["audio"])


def test_nframes_below_stored_keeps_first_nframes(tmp_path):
    # a hand-made file whose nframes (3) is below min(stored, 300): PaddleVideo uses rows [0, nframes)
    video = _video(5, nframes=3)
    (r,) = list(read_pkl(_dump(tmp_path / "v.pkl", video)))
    np.testing.assert_array_equal(r["rgb"], video["feature"][:3])
    np.testing.assert_array_equal(r["audio"], video["audio"][:3])


def test_missing_label_gives_no_labels(tmp_path):
    video = _video()
    del video["label"]
    (r,) = list(read_pkl(_dump(tmp_path / "v.pkl", video)))
    assert r["labels"].dtype == np.int64 and r["labels"].size == 0


def test_numpy1_module_names_are_accepted(tmp_path):
    raw = pickle.dumps(_video(), protocol=2)
    assert b"numpy._core.multiarray" in raw
    path = tmp_path / "np1.pkl"
    path.write_bytes(raw.replace(b"numpy._core.multiarray", b"numpy.core.multiarray"))
    globals_ = {arg for op, arg, _ in pickletools.genops(path.read_bytes()) if op.name == "GLOBAL"}
    assert "numpy.core.multiarray _reconstruct" in globals_ and "numpy.core.multiarray scalar" in globals_
    (r,) = list(read_pkl(path))
    np.testing.assert_array_equal(r["rgb"], _video()["feature"])


# ----------------------------------------------------------------------------------- bad files


BAD_VIDEOS = {
    "missing id": (lambda v: v.pop("video"), r"missing key 'video'"),
    "missing nframes": (lambda v: v.pop("nframes"), r"missing key 'nframes'"),
    "missing feature": (lambda v: v.pop("feature"), r"missing key 'feature'"),
    "float feature": (lambda v: v.update(feature=v["feature"].astype(np.float32)),
                      r"'feature' \(rgb\) must have dtype uint8.*float32"),
    "wrong width": (lambda v: v.update(audio=np.zeros((5, 127), np.uint8)),
                    r"'audio' \(audio\) must have shape \[frames, 128\], found \[5, 127\]"),
    "nframes above stored": (lambda v: v.update(nframes=np.int32(6)), r"'nframes' is 6, outside"),
    "negative nframes": (lambda v: v.update(nframes=-1), r"'nframes' is -1, outside"),
    "float labels": (lambda v: v.update(label=[1.5]), r"'label' must be a flat list of integers"),
    "int id": (lambda v: v.update(video=12), r"'video' \(the id\) must be bytes or str"),
    "duplicate keys": (lambda v: v.update({b"video": b"x"}), r"present both as str and as bytes"),
}


@pytest.mark.parametrize("case", sorted(BAD_VIDEOS))
def test_bad_video_names_file_index_and_problem(tmp_path, case):
    change, pattern = BAD_VIDEOS[case]
    bad = _video()
    change(bad)
    path = _dump(tmp_path / "bad.pkl", [_video(), bad])
    reader = read_pkl(path)
    assert next(reader)["id"] == "abcd"
    with pytest.raises(BadPklError, match=pattern) as info:
        next(reader)
    assert (info.value.path, info.value.index) == (str(path), 1)
    assert str(info.value).startswith(f"{path}: video 1: ")


@pytest.mark.parametrize("content, pattern", [
    (b"this is not a pickle", "not a valid pickle"),
    (pickle.dumps([1, 2, 3], protocol=2)[:-3], "not a valid pickle"),  # cut short
])
def test_not_a_pickle(tmp_path, content, pattern):
    path = tmp_path / "junk.pkl"
    path.write_bytes(content)
    with pytest.raises(BadPklError, match=pattern) as info:
        list(read_pkl(path))
    assert info.value.index is None and str(info.value).startswith(str(path))


@pytest.mark.parametrize("obj, pattern", [(42, "expected a dict or a list of dicts, found int"),
                                          ([_video(), "x"], "video 1: expected a dict, found str")])
def test_wrong_top_level(tmp_path, obj, pattern):
    with pytest.raises(BadPklError, match=pattern):
        list(read_pkl(_dump(tmp_path / "t.pkl", obj)))


def test_errors_survive_pickling():
    for err in (BadPklError("a.pkl", 3, "why"), UnsafePickleError("a.pkl", "posix.system")):
        back = pickle.loads(pickle.dumps(err))
        assert type(back) is type(err) and str(back) == str(err)


# ----------------------------------------------------------------------------------- safe unpickling


class _Payload:
    """Pickles as ``func(*args)``: what a malicious pkl file does."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _payloads(marker: Path):
    return {
        "os.system": (_Payload(os.system, f"touch {marker}"), f"{os.system.__module__}.system"),
        "subprocess.call": (_Payload(subprocess.call, ["touch", str(marker)]), "subprocess.call"),
        "builtins.eval": (_Payload(builtins.eval, f"open({str(marker)!r}, 'w').close()"), "builtins.eval"),
        "builtins.exec": (_Payload(builtins.exec, f"open({str(marker)!r}, 'w').close()"), "builtins.exec"),
    }


@pytest.mark.parametrize("kind", ["os.system", "subprocess.call", "builtins.eval", "builtins.exec"])
@pytest.mark.parametrize("protocol", [0, 2, 4])
def test_malicious_pickle_is_refused_without_running(tmp_path, kind, protocol):
    # control: the payload is live - plain pickle runs it and makes the marker
    control = tmp_path / "control_marker"
    payload, _ = _payloads(control)[kind]
    pickle.loads(pickle.dumps(payload, protocol=protocol))
    assert control.exists()

    marker = tmp_path / "marker"
    payload, global_name = _payloads(marker)[kind]
    if protocol < 3:  # Python 3 writes Python 2 module names (builtins -> __builtin__, subprocess -> commands)
        module, name = global_name.rsplit(".", 1)
        global_name = f"{_compat_pickle.REVERSE_IMPORT_MAPPING.get(module, module)}.{name}"
    # hide the payload inside an otherwise valid pkl list, as the second video's labels
    path = _dump(tmp_path / "evil.pkl", [_video(), _video(label=payload)], protocol)
    for load in (load_pickle, lambda p: list(read_pkl(p))):
        with pytest.raises(UnsafePickleError) as info:
            load(path)
        assert info.value.global_name == global_name
        assert info.value.path == str(path)
        assert str(path) in str(info.value) and repr(global_name) in str(info.value)
        assert "nothing in it was executed" in str(info.value)
    assert not marker.exists()


def test_codecs_encode_only_for_latin1(tmp_path):
    # _codecs.encode('abc', 'rot13') hand-assembled with protocol 2 opcodes
    path = tmp_path / "rot13.pkl"
    path.write_bytes(b"\x80\x02c_codecs\nencode\nX\x03\x00\x00\x00abcX\x05\x00\x00\x00rot13\x86R.")
    with pytest.raises(UnsafePickleError, match="rot13"):
        load_pickle(path)
    path.write_bytes(b"\x80\x02c_codecs\nencode\nX\x03\x00\x00\x00abcX\x06\x00\x00\x00latin1\x86R.")
    assert load_pickle(path) == b"abc"


def test_fixture_pkls_load_safely():
    for path in sorted(PKL.glob("*/*.pkl")):
        with open(path, "rb") as f:
            want = pickle.load(f)  # trusted: our own fixtures
        got = load_pickle(path)
        assert type(got) is type(want)
        for a, b in zip(got if isinstance(got, list) else [got], want if isinstance(want, list) else [want]):
            assert list(a) == list(b)
            np.testing.assert_array_equal(a["feature"], b["feature"])
            assert a["label"] == b["label"] and a["video"] == b["video"] and a["nframes"] == b["nframes"]


# ----------------------------------------------------------------------------------- writing


def test_record_to_pkl_dict_follows_tf2pkl():
    rng = np.random.default_rng(0)
    record = {"id": "Zz9a", "labels": np.array([7, 3, 7, 0]),
              "rgb": rng.integers(0, 256, (320, 1024), dtype=np.uint8),
              "audio": rng.integers(0, 256, (320, 128), dtype=np.uint8)}
    d = record_to_pkl_dict(record)
    assert list(d) == ["video", "feature", "audio", "label", "nframes"]
    assert d["video"] == b"Zz9a" and d["label"] == [0, 3, 7] and all(type(c) is int for c in d["label"])
    assert type(d["nframes"]) is np.int32 and d["nframes"] == 300
    assert d["feature"].shape == (320, 1024) and d["audio"].shape == (320, 128)
    b = record_to_pkl_dict(record, key_type=bytes)
    assert list(b) == [b"video", b"feature", b"audio", b"label", b"nframes"]


def test_write_pkl_protocol_2_and_atomic(tmp_path):
    path = tmp_path / "v.pkl"
    size = write_pkl(path, _video())
    raw = path.read_bytes()
    assert raw[:2] == b"\x80\x02" and size == len(raw)
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        write_pkl(path, {"video": lambda: 0})  # unpicklable: the old file must survive
    assert path.read_bytes() == raw
    assert sorted(os.listdir(tmp_path)) == ["v.pkl"]  # no temporary left behind


# ----------------------------------------------------------------------------------- dataset


@pytest.mark.parametrize("listed, tf_path", [("train.list", DATA / "frame" / "train0000.tfrecord"),
                                             ("edge.list", DATA / "frame_edge" / "edge0000.tfrecord")])
def test_list_dataset_yields_videos_in_list_order(listed, tf_path):
    z = np.load(str(tf_path).replace(".tfrecord", ".expected.npz"))
    ds = YouTube8MPklDataset(str(PKL / listed), pipeline=[{"name": "TruncateFrames", "max_frames": 300},
                                                          {"name": "MultiHotLabels", "num_classes": 3862}])
    records = [r for r in ds]
    assert [r["id"].encode() for r in records] == list(z["ids"])
    batch = ds.collate(records)
    np.testing.assert_array_equal(batch["lengths"], z["num_frames"])  # min(stored, 300)
    np.testing.assert_array_equal(batch["labels"], z["labels_multihot"].astype(np.float32))
    assert batch["rgb"].dtype == np.uint8 and batch["rgb"].shape == (len(records), z["num_frames"].max(), 1024)


def test_list_file_with_data_prefix_and_missing_files(tmp_path):
    lst = tmp_path / "mine.list"
    lst.write_text("frame/train0000_split_2.pkl extra tokens ignored\n\nframe/train0000_split_0.pkl\n")
    assert read_list_file(str(lst), str(PKL)) == [str(PKL / "frame/train0000_split_2.pkl"),
                                                  str(PKL / "frame/train0000_split_0.pkl")]
    ds = YouTube8MPklDataset(str(lst), data_prefix=str(PKL))
    assert [r["id"] for r in ds] == ["MYRQ", "Y6Hp"]
    with pytest.raises(FileNotFoundError, match=r"mine\.list: listed files not found.*line 1: .*train0000_split_2"):
        YouTube8MPklDataset(str(lst))  # default prefix: the list's own directory, where they are not
    with pytest.raises(FileNotFoundError, match="nope.list"):
        YouTube8MPklDataset(str(tmp_path / "nope.list"))
    (tmp_path / "empty.list").write_text("\n")
    with pytest.raises(ValueError, match="names no file"):
        YouTube8MPklDataset(str(tmp_path / "empty.list"))


@pytest.mark.parametrize("listed, world", [("train.list", 3), ("whole.list", 3)])
def test_ranks_read_disjoint_parts_covering_everything(tmp_path, monkeypatch, listed, world):
    if listed == "whole.list":  # one file of 8 videos: fewer files than readers
        (tmp_path / listed).write_text("frame/train0000.pkl\n")
        path = tmp_path / listed
    else:  # 8 split files
        path = PKL / listed
    parts = []
    for rank in range(world):
        monkeypatch.setenv("PADDLE_TRAINER_ID", str(rank))
        monkeypatch.setenv("PADDLE_TRAINERS_NUM", str(world))
        parts.append([r["id"] for r in YouTube8MPklDataset(str(path), data_prefix=str(PKL))])
    everything = [r["id"] for r in read_pkl(PKL / "frame" / "train0000.pkl")]
    assert sorted(sum(parts, [])) == sorted(everything)
    assert all(parts), parts


@pytest.mark.parametrize("listed", ["train.list", "whole.list", "both.list"])
@pytest.mark.parametrize("world, batch_size, num_workers", [(1, 3, 1), (2, 2, 2), (3, 2, 1), (3, 1, 3)])
def test_step_sharding_reads_every_video_once_with_equal_steps(tmp_path, listed, world, batch_size, num_workers):
    (tmp_path / "whole.list").write_text("frame/train0000.pkl\nframe_edge/edge0000.pkl\n")
    (tmp_path / "both.list").write_text((PKL / "train.list").read_text() + "frame_edge/edge0000.pkl\n")
    path = PKL / listed if listed == "train.list" else tmp_path / listed
    ds = YouTube8MPklDataset(str(path), data_prefix=str(PKL), shuffle=True, shuffle_buffer=4, seed=3)
    ds.set_batch_size(batch_size)
    expected = [r["id"] for line in path.read_text().split() for r in read_pkl(PKL / line)]
    assert ds.num_records() == len(expected)
    steps = -(-len(expected) // (world * batch_size))  # ceil
    assert ds.num_steps(world) == steps
    seen = []
    for rank in range(world):
        per_rank = 0
        for worker in range(num_workers):
            ids = [r["id"] for r in ds.iter_shard(rank, world, worker, num_workers)]
            per_rank += len(ids)
            seen += ids
        assert per_rank <= steps * batch_size and per_rank >= (steps - 1) * batch_size
    assert sorted(seen) == sorted(expected)


@pytest.mark.parametrize("num_workers", [0])  # worker processes: tests/tasks/test_data_errors_cli.py
def test_error_inside_a_data_loader_reaches_the_main_process_intact(tmp_path, num_workers):
    # inside a DataLoader the dataset records the error and ends its stream; iterate_batches raises it
    # with its type and attributes (Paddle itself would hang with 0 workers and mangle it with workers)
    from paddlevideo.loader.builder import build_dataloader
    from paddlevideo.tasks.loop import iterate_batches

    shutil.copy(PKL / "frame" / "train0000_split_0.pkl", tmp_path / "good.pkl")
    bad = _video()
    bad.pop("nframes")
    _dump(tmp_path / "bad.pkl", bad)
    (tmp_path / "x.list").write_text("good.pkl\nbad.pkl\ngood.pkl\n")
    ds = YouTube8MPklDataset(str(tmp_path / "x.list"))
    with pytest.raises(BadPklError) as direct:  # iterated directly: raised as is
        list(iter(ds))
    with pytest.raises(BadPklError) as info:
        list(iterate_batches(build_dataloader(ds, 1, num_workers=num_workers), ds))
    e = info.value
    assert (e.path, e.index) == (str(tmp_path / "bad.pkl"), 0)
    assert str(e) == str(direct.value) == f"{tmp_path / 'bad.pkl'}: video 0: missing key 'nframes' (found " \
        "'audio', 'feature', 'label', 'video')"


def test_shuffle_is_a_seeded_permutation():
    def ids(**kw):
        return [r["id"] for r in YouTube8MPklDataset(str(PKL / "train.list"), **kw)]

    plain = ids()
    a, b = ids(shuffle=True, shuffle_buffer=3, seed=1), ids(shuffle=True, shuffle_buffer=3, seed=1)
    assert a == b and sorted(a) == sorted(plain)
    orders = {tuple(ids(shuffle=True, shuffle_buffer=3, seed=s)) for s in range(4)}
    assert len(orders) > 1


def test_dataset_refuses_malicious_file(tmp_path):
    marker = tmp_path / "marker"
    _dump(tmp_path / "evil.pkl", _video(label=_Payload(os.system, f"touch {marker}")))
    (tmp_path / "evil.list").write_text("evil.pkl\n")
    with pytest.raises(UnsafePickleError):
        list(iter(YouTube8MPklDataset(str(tmp_path / "evil.list"))))
    assert not marker.exists()
