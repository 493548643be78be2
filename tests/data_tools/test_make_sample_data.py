"""make_sample_data.py: same settings skip, other settings rewrite the set (stale shards removed),
TFRecords it did not write are never overwritten without --force."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "data" / "yt8m" / "make_sample_data.py"
SMALL = ["--num_classes", "5", "--train_videos", "4", "--valid_videos", "2", "--max_frames", "3", "--valid_shards", "1"]


def run(out, *extra):
    return subprocess.run([sys.executable, str(SCRIPT), "--out_dir", str(out), *SMALL, *extra],
                          capture_output=True, text=True, timeout=120)


def test_skip_rewrite_and_stale_shards(tmp_path):
    r = run(tmp_path, "--train_shards", "3")
    assert r.returncode == 0 and "wrote 3 train" in r.stdout
    first = (tmp_path / "train0000.tfrecord").stat().st_mtime_ns
    r = run(tmp_path, "--train_shards", "3")
    assert r.returncode == 0 and "already" in r.stdout
    assert (tmp_path / "train0000.tfrecord").stat().st_mtime_ns == first
    r = run(tmp_path, "--train_shards", "2")
    assert r.returncode == 0 and "wrote 2 train" in r.stdout
    assert sorted(p.name for p in tmp_path.glob("*.tfrecord")) == ["train0000.tfrecord", "train0001.tfrecord",
                                                                     "validate0000.tfrecord"]


def test_foreign_tfrecords_are_not_overwritten(tmp_path):
    real = tmp_path / "train0000.tfrecord"
    real.write_bytes(b"someone's real data")
    r = run(tmp_path)
    assert r.returncode == 2 and "not written by this script" in r.stderr
    assert real.read_bytes() == b"someone's real data"
    r = run(tmp_path, "--force")
    assert r.returncode == 0 and real.read_bytes() != b"someone's real data"
