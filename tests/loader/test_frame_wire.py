"""The fast frame-level decode (paddlevideo/loader/yt8m/frame_wire.py) against the full protobuf parse.

Expectations: the TensorFlow-written fixtures (every record must take the fast path and give exactly what the
full parse gives), the frame prefix worked out by hand from protobuf's wire format and cross-checked with
protobuf's own serializer, and hand-built records that are not in the canonical layout, for which the fast
path must decline so that ``read_tfrecord`` gives the same record or the same error as the full parse.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from paddlevideo.loader.yt8m import CorruptRecordError, proto, read_tfrecord
from paddlevideo.loader.yt8m.frame_wire import FrameWireDecoder, frame_prefix, frames_from_wire
from paddlevideo.loader.yt8m.reader import encode_frame_example, frame_decoder
from paddlevideo.loader.yt8m.tfrecord import iter_records, write_records

DATA = Path(__file__).resolve().parents[1] / "data" / "yt8m"
FRAME_FILES = sorted(DATA.glob("frame*/*.tfrecord"))
NAMES, DIMS = ("rgb", "audio"), (1024, 128)


def full_decode(payload: bytes, names=NAMES, dims=DIMS, id_key=None):
    message = proto.sequence_example_class().FromString(payload)
    return frame_decoder(id_key, names, dims)(message, len(payload))


def assert_same_record(a, b):
    assert a.keys() == b.keys()
    assert a["id"] == b["id"]
    for k in a:
        if k != "id":
            assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape, k
            np.testing.assert_array_equal(a[k], b[k])


def test_prefix_by_hand_and_by_protobuf():
    # 1024 = varint 80 08; BytesList = 1 + 2 + 1024 = 1027 = 83 08; Feature = 1 + 2 + 1027 = 1030 = 86 08
    assert frame_prefix(1024) == bytes([0x0A, 0x86, 0x08, 0x0A, 0x83, 0x08, 0x0A, 0x80, 0x08])
    # 128 = 80 01; 131 = 83 01; 134 = 86 01
    assert frame_prefix(128) == bytes([0x0A, 0x86, 0x01, 0x0A, 0x83, 0x01, 0x0A, 0x80, 0x01])
    for dim in (1, 5, 124, 125, 126, 127, 128, 16381, 16384, 20000):
        fl = proto.feature_list_class()()
        fl.feature.add().bytes_list.value.append(bytes(dim))
        wire = fl.SerializeToString()
        assert wire == frame_prefix(dim) + bytes(dim), dim


@pytest.mark.parametrize("path", FRAME_FILES, ids=lambda p: p.parent.name + "/" + p.name)
def test_tensorflow_written_records_take_the_fast_path_and_match(path):
    fast = FrameWireDecoder(None, NAMES, DIMS)
    n = 0
    for _, _, payload in iter_records(path):
        record = fast(payload)
        assert record is not None  # TF's layout is the canonical one
        assert_same_record(record, full_decode(payload))
        for k in NAMES:
            assert record[k].flags.writeable and record[k].flags.c_contiguous
        n += 1
    assert n > 0


@pytest.mark.parametrize("dim", [1, 124, 125, 126, 127, 128, 300, 16384])
def test_varint_boundaries_and_lengths(dim):
    rng = np.random.default_rng(dim)
    fast = FrameWireDecoder(None, ("a", "b"), (dim, 3))
    for t in (0, 1, 7):
        payload = encode_frame_example(f"v{t}", [t, 2], {"a": rng.integers(0, 256, (t, dim), dtype=np.uint8),
                                                         "b": rng.integers(0, 256, (t, 3), dtype=np.uint8)})
        record = fast(payload)
        assert record is not None and record["a"].shape == (t, dim)
        assert_same_record(record, full_decode(payload, ("a", "b"), (dim, 3)))


def test_frames_from_wire_declines_a_damaged_prefix_or_length():
    rows = np.random.default_rng(0).integers(0, 256, (4, 128), dtype=np.uint8)
    wire = b"".join(frame_prefix(128) + r.tobytes() for r in rows)
    np.testing.assert_array_equal(frames_from_wire(wire, 128), rows)
    assert frames_from_wire(wire[:-1], 128) is None
    assert frames_from_wire(wire, 127) is None
    for pos in (0, 1, 2, 3, 5, 6, 8, 137 + 4):  # a byte of a prefix, in the first or second frame
        bad = bytearray(wire)
        bad[pos] ^= 0x01
        assert frames_from_wire(bytes(bad), 128) is None, pos
    bad = bytearray(wire)
    bad[20] ^= 0xFF  # a frame byte: data, not layout
    assert frames_from_wire(bytes(bad), 128) is not None


def _rows(t, dim, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (t, dim), dtype=np.uint8)


def _message(frames_rgb=2):
    m = proto.sequence_example_class()()
    m.context.feature["id"].bytes_list.value.append(b"vid")
    m.context.feature["labels"].int64_list.value.extend([3, 1])
    for name, dim in zip(NAMES, DIMS):
        fl = m.feature_lists.feature_list[name]
        for r in _rows(frames_rgb, dim):
            fl.feature.add().bytes_list.value.append(r.tobytes())
    return m


def _two_values(m):
    m.feature_lists.feature_list["rgb"].feature[1].bytes_list.value.append(bytes(1024))


def _float_frame(m):
    m.feature_lists.feature_list["audio"].feature[0].float_list.value.append(1.0)


def _fewer_audio(m):
    del m.feature_lists.feature_list["audio"].feature[1]


def _no_rgb(m):
    del m.feature_lists.feature_list["rgb"]


def _no_id(m):
    del m.context.feature["id"]


def _wrong_width(m):
    m.feature_lists.feature_list["audio"].feature[0].bytes_list.value[0] = bytes(100)


DECLINED = {"two values in a frame": _two_values, "a float frame": _float_frame,
            "frame counts differ": _fewer_audio, "missing rgb": _no_rgb, "missing id": _no_id,
            "wrong width": _wrong_width}


@pytest.mark.parametrize("case", sorted(DECLINED))
def test_non_canonical_or_bad_records_decline_and_read_tfrecord_reports_as_before(tmp_path, case):
    m = _message()
    DECLINED[case](m)
    payload = m.SerializeToString()
    assert FrameWireDecoder(None, NAMES, DIMS)(payload) is None
    path = tmp_path / "x.tfrecord"
    write_records(path, [encode_frame_example("ok", [1], {"rgb": _rows(1, 1024), "audio": _rows(1, 128)}),
                         payload])
    with pytest.raises(CorruptRecordError) as fast_err:
        list(read_tfrecord(path))
    with pytest.raises(Exception) as full_err:
        full_decode(payload)
    assert fast_err.value.index == 1 and str(full_err.value) in str(fast_err.value)


def test_wire_merges_follow_the_full_parse():
    """Protobuf merges a message field that occurs twice and keeps the last map entry of a key: the fast
    path must give what the full parse gives or decline."""
    base = _message(frames_rgb=2)
    later = proto.sequence_example_class()()
    for name, dim in zip(NAMES, DIMS):  # the same keys again, 3 frames each: the later entries win
        fl = later.feature_lists.feature_list[name]
        for r in _rows(3, dim, seed=7):
            fl.feature.add().bytes_list.value.append(r.tobytes())
    payload = base.SerializeToString() + later.SerializeToString()
    record = FrameWireDecoder(None, NAMES, DIMS)(payload)
    assert record is not None and record["rgb"].shape == (3, 1024)
    assert_same_record(record, full_decode(payload))

    extra_context = proto.sequence_example_class()()
    extra_context.context.feature["labels"].int64_list.value.append(9)
    payload = base.SerializeToString() + extra_context.SerializeToString()  # context occurs twice
    assert FrameWireDecoder(None, NAMES, DIMS)(payload) is None
    assert_same_record(next(iter(_read_one(payload))), full_decode(payload))


def _read_one(payload: bytes):
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "one.tfrecord"
        write_records(path, [payload])
        return list(read_tfrecord(path))
