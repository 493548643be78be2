"""Reading never allocates far beyond what the input holds: small files that declare huge sizes are refused
with one clear error naming the file (and record) before the memory is taken.

Each case runs in a fresh subprocess that reports its peak memory growth (``ru_maxrss``) around the read.
"""
from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import textwrap

import pytest

from tests.tasks.tiny_setup import ROOT, quiet_env

MB = 1024 * 1024


def _varint(n):
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _ld(field, payload):
    return _varint(field << 3 | 2) + _varint(len(payload)) + payload


def empty_feature_record(n):
    """A frame-level SequenceExample whose ``rgb`` list holds ``n`` empty Feature messages (2 bytes each)."""
    context = _ld(1, _ld(1, b"id") + _ld(2, _ld(1, _ld(1, b"x"))))  # feature {key: "id" value: bytes_list "x"}
    entry = _ld(1, b"rgb") + _ld(2, b"\x0a\x00" * n)
    return _ld(1, context) + _ld(2, _ld(1, entry))


MEASURE = textwrap.dedent("""
    import json, resource, sys
    from paddlevideo.loader.yt8m import proto, read_tfrecord, load_pickle
    from paddlevideo.loader.datasets.yt8m_tfrecord import YouTube8MTFRecordDataset
    proto.message_classes()
    kind, path = sys.argv[1], sys.argv[2]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        if kind == "reader":
            list(read_tfrecord(path))
        elif kind == "dataset":
            list(iter(YouTube8MTFRecordDataset(path)))
        else:
            load_pickle(path)
        error = None
    except Exception as e:
        error = [type(e).__name__, str(e)]
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024
    print(json.dumps({"error": error, "grown": grown}))
""")


def measure(kind, path):
    r = subprocess.run([sys.executable, "-c", MEASURE, kind, str(path)], cwd=ROOT, env=quiet_env(),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.splitlines()[-1])


@pytest.mark.parametrize("kind", ["reader", "dataset"])
def test_a_million_empty_frames_are_refused_before_they_are_built(tmp_path, kind):
    from paddlevideo.loader.yt8m.tfrecord import write_records

    path = tmp_path / "empty_frames.tfrecord"
    payload = empty_feature_record(1_000_000)
    write_records(path, [payload])
    assert os.path.getsize(path) < 2.1 * MB
    out = measure(kind, path)
    assert out["error"][0] == "CorruptRecordError"
    assert out["error"][1] == (f"{path}: record 0 at byte 0: feature 'rgb' declares 1000000 frames of 1024 bytes "
                               f"(1024000000 bytes) but the record holds only {len(payload)} bytes for it")
    # parsing the 2 MB record costs some tens of MB; building a million frame objects cost 536 MB
    assert out["grown"] < 100 * MB, out["grown"] / MB


def _glob(module, name):
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


G = 2**30
J = b"J" + struct.pack("<i", G)
RECONSTRUCT = _glob("numpy.core.multiarray", "_reconstruct") + _glob("numpy", "ndarray")
# name -> (pickle bytes, error type, words of the message)
PKL_BOMBS = {
    "bytearray(2**30)": (b"\x80\x02" + _glob("__builtin__", "bytearray") + J + b"\x85R.", "UnsafePickleError",
                         "refused to unpickle global 'builtins.bytearray(<int>) (a size to allocate)'"),
    "bytearray(2**50)": (b"\x80\x02" + _glob("__builtin__", "bytearray") + b"\x8a\x07" + (2**50).to_bytes(7, "little")
                         + b"\x85R.", "UnsafePickleError", "builtins.bytearray(<int>)"),
    "bytes(2**30)": (b"\x80\x02" + _glob("__builtin__", "bytes") + J + b"\x85R.", "UnsafePickleError",
                     "builtins.bytes(<int>)"),
    "ndarray(2**30)": (b"\x80\x02" + _glob("numpy", "ndarray") + J + b"\x85R.", "BadPklError", "not callable"),
    "NEWOBJ ndarray": (b"\x80\x02" + _glob("numpy", "ndarray") + J + b"\x85\x81.", "BadPklError", "not a type"),
    "_reconstruct(2**30)": (b"\x80\x02" + RECONSTRUCT + J + b"\x85C\x01b\x87R.", "UnsafePickleError",
                            "_reconstruct with shape (1073741824,)"),
    "array state 2**30": (b"\x80\x02" + RECONSTRUCT + b"K\x00\x85C\x01b\x87R(K\x01" + J + b"\x85"
                          + _glob("numpy", "dtype") + b"X\x02\x00\x00\x00u1K\x00K\x01\x87R\x89C\x03abctb.",
                          "BadPklError", "needs 1073741824 bytes, the file holds 3"),
    "object dtype": (b"\x80\x02" + _glob("numpy", "dtype") + b"X\x02\x00\x00\x00O8K\x00K\x01\x87R.",
                     "UnsafePickleError", "an object dtype"),
    "memo index 2**31": (b"\x80\x02]r" + struct.pack("<I", 2**31 - 1) + b"0]r" + struct.pack("<I", 2**27) + b".",
                         None, None),
    "BINBYTES8 2**40": (b"\x80\x04\x8e" + struct.pack("<Q", 2**40) + b"abc.", "BadPklError", "ends too early"),
    "BYTEARRAY8 2**40": (b"\x80\x05\x96" + struct.pack("<Q", 2**40) + b"abc.", "BadPklError",
                         "BYTEARRAY8 declares 1099511627776 bytes"),
}


@pytest.mark.parametrize("name", list(PKL_BOMBS))
def test_pkl_bombs_are_refused_without_allocating(tmp_path, name):
    data, error, words = PKL_BOMBS[name]
    assert len(data) < 120
    path = tmp_path / "bomb.pkl"
    path.write_bytes(data)
    out = measure("pkl", path)
    assert out["grown"] < 50 * MB, out["grown"] / MB
    if error is None:  # a memo index is just a dict key: loads as the (empty) list it is
        assert out["error"] is None
        return
    assert out["error"][0] == error
    assert out["error"][1].startswith(f"{path}: ") and words in out["error"][1], out["error"][1]
    assert "\n" not in out["error"][1]
