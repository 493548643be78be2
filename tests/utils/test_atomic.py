"""atomic_write: the old file or the new one, never a partial one; plain-open permissions."""
import os
import stat

import pytest

from paddlevideo.utils.atomic import atomic_write


def _write(data):
    def write(tmp):
        with open(tmp, "wb") as f:
            f.write(data)
        return len(data)
    return write


def test_writes_and_returns_what_the_writer_returns(tmp_path):
    p = tmp_path / "sub" / "f.bin"
    assert atomic_write(p, _write(b"abc")) == 3
    assert p.read_bytes() == b"abc"
    assert os.listdir(p.parent) == ["f.bin"]


def test_failure_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    p = tmp_path / "f.bin"
    p.write_bytes(b"old")

    def broken(tmp):
        with open(tmp, "wb") as f:
            f.write(b"half")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        atomic_write(p, broken)
    assert p.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["f.bin"]


def test_permissions_are_those_of_a_plain_open(tmp_path):
    plain = tmp_path / "plain"
    plain.write_bytes(b"x")
    atomic = tmp_path / "atomic"
    atomic_write(atomic, _write(b"x"))
    assert stat.S_IMODE(atomic.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode)
