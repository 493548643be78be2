"""A bad data file under ``paddle.distributed.launch`` (2 CPU processes): the run ends with exit code 2 and
the one-line error naming the file, record and byte offset, whichever rank meets it; no rank is left waiting
in a gradient all-reduce (the test would time out)."""
from __future__ import annotations

import os
import struct
import subprocess
import sys

import pytest

from tests.tasks.tiny_setup import ROOT, make_tiny_data, quiet_env, write_tiny_config


def _record_offsets(path: str) -> list:
    """Byte offsets of the records of a TFRecord file, walked with the framing's length fields."""
    data = open(path, "rb").read()
    offsets, off = [], 0
    while off < len(data):
        offsets.append(off)
        (n,) = struct.unpack("<Q", data[off:off + 8])
        off += 12 + n + 4
    return offsets


@pytest.mark.parametrize("workers", [0, 2])
def test_corrupt_record_ends_a_two_process_run_with_one_error_line(tmp_path, workers):
    data = str(tmp_path / "data")
    make_tiny_data(data, train_videos=12, valid_videos=5, train_shards=2, valid_shards=1)
    bad = os.path.join(data, "train0001.tfrecord")
    offset = _record_offsets(bad)[2]
    blob = bytearray(open(bad, "rb").read())
    (n,) = struct.unpack("<Q", blob[offset:offset + 8])
    blob[offset + 12 + n // 2] ^= 0xFF                      # payload byte: the data CRC no longer matches
    open(bad, "wb").write(bytes(blob))
    cfg = write_tiny_config(str(tmp_path / "c.yaml"), data, str(tmp_path / "out"), epochs=1)
    r = subprocess.run([sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2",
                        "--log_dir", str(tmp_path / "log"), "--log_level", "WARNING",
                        os.path.join(ROOT, "main.py"), "-c", cfg, "-o", f"DATASET.num_workers={workers}"],
                       cwd=str(tmp_path), env=quiet_env(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 2, r.stdout + r.stderr
    expected = f"error: {bad}: record 2 at byte {offset}: data CRC mismatch"
    worker0 = open(tmp_path / "log" / "workerlog.0").read()
    errors = [line for line in worker0.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(expected), worker0
    assert "Traceback" not in worker0 and "Traceback" not in r.stdout and "Traceback" not in r.stderr
    assert not os.path.exists(tmp_path / "out" / "Tiny_epoch_00001.pdparams")
