"""YouTube-8M record parsing and dequantization against what TensorFlow read from the same files.

Expectations come from the sidecar ``.expected.npz`` files written by TensorFlow next to each
fixture (``tests/data/yt8m/README.md``): ids, labels in file order, every stored frame, the video
level means and TensorFlow's float32 dequantization table. Malformed files are made by framing
hand-built payloads; their expected byte offsets are computed here from the payload lengths.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from paddlevideo.loader.yt8m import CorruptRecordError, dequantize_numpy, iter_records, read_tfrecord, write_tfrecord
from paddlevideo.loader.yt8m.reader import encode_frame_example
from paddlevideo.loader.yt8m.tfrecord import write_records

DATA = Path(__file__).resolve().parents[1] / "data" / "yt8m"
FRAME_FILES = sorted(DATA.glob("frame*/*.tfrecord"))
VIDEO_FILES = sorted(DATA.glob("video/*.tfrecord"))


def sidecar(path: Path):
    return np.load(str(path).replace(".tfrecord", ".expected.npz"))


def sidecar_labels(z, i: int) -> np.ndarray:
    return z["labels_flat"][z["labels_offsets"][i]:z["labels_offsets"][i + 1]]


def test_fixtures_present():
    assert len(FRAME_FILES) == 3 and len(VIDEO_FILES) == 2


@pytest.mark.parametrize("path", FRAME_FILES, ids=lambda p: p.parent.name + "/" + p.name)
def test_frame_level_matches_tensorflow(path):
    z = sidecar(path)
    records = list(read_tfrecord(path, "frame"))
    assert [r["id"].encode() for r in records] == list(z["ids"])
    for i, r in enumerate(records):
        assert set(r) == {"id", "labels", "rgb", "audio"}
        assert r["labels"].dtype == np.int64
        np.testing.assert_array_equal(r["labels"], sidecar_labels(z, i))  # file order, not sorted
        lo, hi = z["frame_offsets"][i], z["frame_offsets"][i + 1]
        assert r["rgb"].dtype == np.uint8 and r["audio"].dtype == np.uint8
        assert r["rgb"].shape == (z["num_frames_raw"][i], 1024)
        assert r["audio"].shape == (z["num_frames_raw"][i], 128)
        np.testing.assert_array_equal(r["rgb"], z["rgb_q"][lo:hi])
        np.testing.assert_array_equal(r["audio"], z["audio_q"][lo:hi])


def test_edge_file_keeps_all_301_and_350_frames_and_label_edge_cases():
    records = list(read_tfrecord(DATA / "frame_edge" / "edge0000.tfrecord"))
    assert [len(r["rgb"]) for r in records] == [301, 350, 7, 1, 300]
    assert [r["labels"].tolist() for r in records] == [[5, 3], [3861, 0], [], [42], [10, 9, 8, 7, 6]]


@pytest.mark.parametrize("path", VIDEO_FILES, ids=lambda p: p.name)
def test_video_level_matches_tensorflow(path):
    z = sidecar(path)
    records = list(read_tfrecord(path, "video"))
    assert [r["id"].encode() for r in records] == list(z["ids"])
    for i, r in enumerate(records):
        assert set(r) == {"id", "labels", "mean_rgb", "mean_audio"}
        np.testing.assert_array_equal(r["labels"], sidecar_labels(z, i))
        for key in ("mean_rgb", "mean_audio"):
            assert r[key].dtype == np.float32
            # bit-exact: compare the float32 bit patterns
            np.testing.assert_array_equal(r[key].view(np.uint32), z[key][i].astype(np.float32).view(np.uint32))


def _records(n: int = 3):
    rng = np.random.default_rng(7)
    return [{"id": f"vid{i}", "labels": np.array([i + 2, i], np.int64),
             "rgb": rng.integers(0, 256, (i + 1, 1024), dtype=np.uint8),
             "audio": rng.integers(0, 256, (i + 1, 128), dtype=np.uint8)} for i in range(n)]


def test_2017_video_id_key_is_detected(tmp_path):
    path = tmp_path / "train2017.tfrecord"
    records = _records()
    write_tfrecord(path, records, id_key="video_id")
    raw = path.read_bytes()
    assert b"video_id" in raw and b"\n\x02id" not in raw  # the 2017 key, not the 2018 one
    got = list(read_tfrecord(path, "frame"))
    assert [r["id"] for r in got] == ["vid0", "vid1", "vid2"]
    for r, want in zip(got, records):
        np.testing.assert_array_equal(r["labels"], want["labels"])
        np.testing.assert_array_equal(r["rgb"], want["rgb"])
    assert [r["id"] for r in read_tfrecord(path, "frame", id_key="video_id")] == ["vid0", "vid1", "vid2"]
    with pytest.raises(CorruptRecordError, match="missing id"):
        next(read_tfrecord(path, "frame", id_key="id"))


def _good_payload() -> bytes:
    return next(iter_records(DATA / "frame" / "train0000.tfrecord"))[2]


def _frames(t, dim):
    return np.full((t, dim), 7, np.uint8)


BAD_PAYLOADS = {
    "not a protobuf": (b"\x0a\x05\x0a", r"not a valid tensorflow\.SequenceExample"),
    "missing rgb": (encode_frame_example("x", [1], {"audio": _frames(2, 128)}), r"missing feature list 'rgb'"),
    "wrong rgb width": (encode_frame_example("x", [1], {"rgb": _frames(2, 1000), "audio": _frames(2, 128)}),
                        r"feature 'rgb' frame 0: found width 1000 bytes, expected 1024"),
    "missing id": (encode_frame_example("x", [1], {"rgb": _frames(2, 1024), "audio": _frames(2, 128)},
                                        id_key="name"), r"missing id"),
}


@pytest.mark.parametrize("case", sorted(BAD_PAYLOADS))
def test_bad_record_names_file_index_and_offset(tmp_path, case):
    bad, pattern = BAD_PAYLOADS[case]
    good = _good_payload()
    path = tmp_path / "bad.tfrecord"
    write_records(path, [good, good, bad, good])
    expected_offset = 2 * (12 + len(good) + 4)  # two framed records before the bad one
    reader = read_tfrecord(path, "frame")
    assert next(reader)["id"] == next(reader)["id"] == "Y6Hp"
    with pytest.raises(CorruptRecordError, match=pattern) as info:
        next(reader)
    err = info.value
    assert (err.path, err.index, err.offset) == (str(path), 2, expected_offset)
    assert f"{path}: record 2 at byte {expected_offset}: " in str(err)


def test_dequantize_numpy_equals_tensorflow_table_bit_for_bit():
    lut = sidecar(DATA / "frame" / "train0000.tfrecord")["dequant_lut"]
    assert lut.dtype == np.float32 and lut.shape == (256,)
    got = dequantize_numpy(np.arange(256, dtype=np.uint8))
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got.view(np.uint32), lut.view(np.uint32))
    # the check is sharp: the float64-then-cast path (PaddleVideo) differs on 207 codes
    # (docs/youtube8m_format.md#dequantization)
    f64 = (np.arange(256) * (4 / 255) + (4 / 512 - 2)).astype(np.float32)
    assert int((f64.view(np.uint32) != lut.view(np.uint32)).sum()) == 207


def test_paddle_dequantize_equals_tensorflow_table_bit_for_bit():
    import paddle

    from paddlevideo.modeling.layers.dequantize import dequantize

    lut = sidecar(DATA / "frame" / "train0000.tfrecord")["dequant_lut"]
    codes = np.arange(256, dtype=np.uint8).reshape(2, 4, 32)  # any shape, e.g. [B, T, D]
    got = dequantize(paddle.to_tensor(codes)).numpy()
    assert got.dtype == np.float32 and got.shape == codes.shape
    np.testing.assert_array_equal(got.reshape(-1).view(np.uint32), lut.view(np.uint32))
