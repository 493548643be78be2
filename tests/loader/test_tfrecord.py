"""TFRecord framing: CRC-32C, masked CRCs, record walking, truncation and atomic writes.

Expectations come from the TensorFlow-written fixtures in tests/data/yt8m (walked here with
``struct``, independently of the code under test), the published CRC-32C check value, and a
table-driven CRC-32C written from the polynomial in this file.
"""
from __future__ import annotations

import os
import pickle
import struct
from pathlib import Path

import pytest

from paddlevideo.loader.yt8m import CorruptRecordError, iter_records
from paddlevideo.loader.yt8m.tfrecord import masked_crc32c, write_records

DATA = Path(__file__).resolve().parents[1] / "data" / "yt8m"
FIXTURES = sorted(DATA.glob("*/*.tfrecord"))


def _crc_table() -> list[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc_table()


def reference_crc32c(data: bytes) -> int:
    """Plain table-driven CRC-32C (reflected Castagnoli polynomial 0x82F63B78)."""
    crc = 0xFFFFFFFF
    for b in data:
        crc = _TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def reference_mask(crc: int) -> int:
    """TensorFlow's CRC mask: rotate right by 15 bits, add 0xa282ead8 (docs/youtube8m_format.md#tfrecord-framing)."""
    rotated = ((crc >> 15) | (crc << 17)) & 0xFFFFFFFF
    return (rotated + 0xA282EAD8) & 0xFFFFFFFF


def walk(raw: bytes):
    """Split a TFRecord byte string into (offset, length bytes, length crc, payload, data crc)."""
    out, pos = [], 0
    while pos < len(raw):
        length_bytes = raw[pos:pos + 8]
        (length,) = struct.unpack("<Q", length_bytes)
        (length_crc,) = struct.unpack("<I", raw[pos + 8:pos + 12])
        payload = raw[pos + 12:pos + 12 + length]
        (data_crc,) = struct.unpack("<I", raw[pos + 12 + length:pos + 16 + length])
        out.append((pos, length_bytes, length_crc, payload, data_crc))
        pos += 16 + length
    assert pos == len(raw)
    return out


# ------------------------------------------------------------------------------------- CRC


def test_crc32c_check_value():
    import crc32c

    assert crc32c.crc32c(b"123456789") == 0xE3069283
    assert reference_crc32c(b"123456789") == 0xE3069283


@pytest.mark.parametrize("data", [b"", b"a", b"123456789", bytes(range(256)) * 3])
def test_masked_crc_matches_reference(data):
    assert masked_crc32c(data) == reference_mask(reference_crc32c(data))


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_masked_crc_on_tensorflow_headers(path):
    records = walk(path.read_bytes())
    assert records
    for _, length_bytes, length_crc, payload, data_crc in records:
        assert masked_crc32c(length_bytes) == length_crc
        assert reference_mask(reference_crc32c(length_bytes)) == length_crc
        assert masked_crc32c(payload) == data_crc
    # One full payload through the pure-Python CRC as well (the smallest, to keep it quick).
    _, _, _, payload, data_crc = min(records, key=lambda r: len(r[3]))
    assert reference_mask(reference_crc32c(payload)) == data_crc


# --------------------------------------------------------------------------------- reading


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_iter_records_matches_struct_walk(path):
    expected = walk(path.read_bytes())
    got = list(iter_records(path))
    assert [i for i, _, _ in got] == list(range(len(expected)))
    assert [off for _, off, _ in got] == [r[0] for r in expected]
    assert [p for _, _, p in got] == [r[3] for r in expected]
    assert all(type(p) is bytes for _, _, p in got)


def test_fixture_record_counts_match_sidecars():
    import numpy as np

    for path in FIXTURES:
        sidecar = np.load(str(path).replace(".tfrecord", ".expected.npz"))
        assert sum(1 for _ in iter_records(path)) == len(sidecar["ids"])


def test_empty_file_has_no_records(tmp_path):
    p = tmp_path / "empty.tfrecord"
    p.write_bytes(b"")
    assert list(iter_records(p)) == []


def _three_records(tmp_path) -> tuple[Path, list[bytes], list[int]]:
    payloads = [b"first", b"x" * 1000, b"third record"]
    raw = bytearray()
    offsets = []
    for payload in payloads:  # framed by hand, independently of write_records
        offsets.append(len(raw))
        length = struct.pack("<Q", len(payload))
        raw += length + struct.pack("<I", reference_mask(reference_crc32c(length)))
        raw += payload + struct.pack("<I", reference_mask(reference_crc32c(payload)))
    path = tmp_path / "three.tfrecord"
    path.write_bytes(bytes(raw))
    return path, payloads, offsets


def test_hand_framed_file_reads_back(tmp_path):
    path, payloads, offsets = _three_records(tmp_path)
    assert list(iter_records(path)) == list(zip(range(3), offsets, payloads))
    assert list(iter_records(str(path))) == list(zip(range(3), offsets, payloads))


def _corrupt(path: Path, pos: int, xor: int = 0x01) -> None:
    raw = bytearray(path.read_bytes())
    raw[pos] ^= xor
    path.write_bytes(bytes(raw))


def _error(path) -> CorruptRecordError:
    with pytest.raises(CorruptRecordError) as info:
        list(iter_records(path))
    return info.value


def test_flipped_payload_byte_names_file_record_and_offset(tmp_path):
    path, payloads, offsets = _three_records(tmp_path)
    _corrupt(path, offsets[1] + 12 + 500)
    err = _error(path)
    assert (err.path, err.index, err.offset) == (str(path), 1, offsets[1])
    assert str(err).startswith(f"{path}: record 1 at byte {offsets[1]}: data CRC mismatch")
    assert "over 1000 payload bytes" in str(err)
    assert isinstance(err, ValueError)


def test_flipped_data_crc_byte(tmp_path):
    path, payloads, offsets = _three_records(tmp_path)
    _corrupt(path, offsets[2] + 12 + len(payloads[2]) + 2)
    err = _error(path)
    assert (err.index, err.offset) == (2, offsets[2])
    assert "data CRC mismatch" in err.reason


def test_bad_length_crc(tmp_path):
    path, payloads, offsets = _three_records(tmp_path)
    _corrupt(path, offsets[1] + 9)  # inside the stored length CRC
    err = _error(path)
    assert str(err).startswith(f"{path}: record 1 at byte {offsets[1]}: length CRC mismatch")
    assert "length field 1000" in str(err)


def test_bad_length_field_is_caught_by_length_crc(tmp_path):
    path, payloads, offsets = _three_records(tmp_path)
    _corrupt(path, offsets[2] + 7, 0x80)  # top byte of the length: a huge length
    err = _error(path)
    assert (err.index, err.offset) == (2, offsets[2])
    assert "length CRC mismatch" in err.reason


@pytest.mark.parametrize(
    "cut, what, detail",
    [
        (5, "header", "file ends after 5 of 12 bytes"),
        (12 + 400, "payload", "file ends after 400 of 1000 bytes"),
        (12 + 1000 + 3, "footer", "file ends after 3 of 4 bytes"),
        (12, "payload", "file ends after 0 of 1000 bytes"),
    ],
)
def test_truncated_file(tmp_path, cut, what, detail):
    path, payloads, offsets = _three_records(tmp_path)
    path.write_bytes(path.read_bytes()[: offsets[1] + cut])
    err = _error(path)
    assert str(err) == f"{path}: record 1 at byte {offsets[1]}: truncated {what}: {detail}"
    # the record before the damage is still delivered
    it = iter_records(path)
    assert next(it) == (0, 0, payloads[0])


def test_truncated_tensorflow_fixture(tmp_path):
    src = DATA / "frame" / "train0000.tfrecord"
    records = walk(src.read_bytes())
    path = tmp_path / "cut.tfrecord"
    path.write_bytes(src.read_bytes()[:-1])
    err = _error(path)
    last = len(records) - 1
    assert (err.index, err.offset) == (last, records[last][0])
    assert err.reason == "truncated footer: file ends after 3 of 4 bytes"


def test_error_survives_pickling():
    err = CorruptRecordError("a/b.tfrecord", 3, 1234, "data CRC mismatch")
    back = pickle.loads(pickle.dumps(err))
    assert (back.path, back.index, back.offset, back.reason) == (
        "a/b.tfrecord", 3, 1234, "data CRC mismatch")
    assert str(back) == "a/b.tfrecord: record 3 at byte 1234: data CRC mismatch"


# --------------------------------------------------------------------------------- writing


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_write_records_reproduces_tensorflow_framing(tmp_path, path):
    raw = path.read_bytes()
    out = tmp_path / "copy.tfrecord"
    payloads = [r[3] for r in walk(raw)]
    assert write_records(out, payloads) == len(payloads)
    assert out.read_bytes() == raw


def test_write_records_accepts_bytes_like_and_empty(tmp_path):
    out = tmp_path / "w.tfrecord"
    assert write_records(out, [bytearray(b"ab"), memoryview(b"cde"), b""]) == 3
    assert [p for _, _, p in iter_records(out)] == [b"ab", b"cde", b""]
    empty = tmp_path / "none.tfrecord"
    assert write_records(empty, []) == 0
    assert empty.read_bytes() == b""


def test_write_records_is_atomic(tmp_path):
    out = tmp_path / "keep.tfrecord"
    write_records(out, [b"old"])
    before = out.read_bytes()

    def failing():
        yield b"new 1"
        raise RuntimeError("producer died")

    with pytest.raises(RuntimeError, match="producer died"):
        write_records(out, failing())
    assert out.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["keep.tfrecord"]
