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
    first = (tmp_path / "sample_train0000.tfrecord").stat().st_mtime_ns
    r = run(tmp_path, "--train_shards", "3")
    assert r.returncode == 0 and "already" in r.stdout
    assert (tmp_path / "sample_train0000.tfrecord").stat().st_mtime_ns == first
    r = run(tmp_path, "--train_shards", "2")
    assert r.returncode == 0 and "wrote 2 train" in r.stdout
    assert sorted(p.name for p in tmp_path.glob("*.tfrecord")) == ["sample_train0000.tfrecord",
                                                                     "sample_train0001.tfrecord",
                                                                     "sample_validate0000.tfrecord"]


def test_foreign_tfrecords_are_not_overwritten(tmp_path):
    real = tmp_path / "train0000.tfrecord"
    real.write_bytes(b"someone's real data")
    r = run(tmp_path)
    assert r.returncode == 2 and "not written by this script" in r.stderr
    assert real.read_bytes() == b"someone's real data"
    r = run(tmp_path, "--force")
    # --force writes the set next to them; its own names never replace a real shard
    assert r.returncode == 0 and real.read_bytes() == b"someone's real data"
    assert (tmp_path / "sample_train0000.tfrecord").is_file()


def test_default_place_and_names_are_the_sample_sets_own(tmp_path):
    """Run from a scratch copy of data/yt8m: the set goes to data/yt8m/sample/frame/ as sample_*.tfrecord, which
    the demo configs read and the full-size configs (data/yt8m/frame/train*.tfrecord) never match."""
    import fnmatch

    import yaml

    work = tmp_path / "data" / "yt8m"
    work.mkdir(parents=True)
    (work / "make_sample_data.py").write_text(SCRIPT.read_text())
    # the script imports the package from two levels up: link it there
    (tmp_path / "paddlevideo").symlink_to(ROOT / "paddlevideo")
    r = subprocess.run([sys.executable, str(work / "make_sample_data.py"), *SMALL], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    made = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.tfrecord"))
    assert made == [f"data/yt8m/sample/frame/sample_{name}.tfrecord" for name in
                    ("train0000", "train0001", "train0002", "train0003", "validate0000")]
    configs = ROOT / "configs" / "recognition"
    for path in configs.rglob("*.yaml"):
        dataset = yaml.safe_load(path.read_text()).get("DATASET") or {}
        if "segment" in path.name:   # segment-rated data: test_make_segment_sample_data.py checks these
            continue
        patterns = [(dataset.get(s) or {}).get("file_pattern") for s in ("train", "valid", "test")]
        for pattern in filter(None, patterns):
            hits = [m for m in made if fnmatch.fnmatch(m, pattern)]
            if "demo" in path.name:
                assert pattern.startswith("data/yt8m/sample/frame/sample_") and hits, (path, pattern)
            else:
                assert pattern.startswith("data/yt8m/frame/") and not hits, (path, pattern)

    # a set left by an older version where the real dataset goes is pointed out (and left alone)
    old = work / "frame"
    old.mkdir()
    (old / "sample_manifest.json").write_text("{}")
    r = subprocess.run([sys.executable, str(work / "make_sample_data.py"), *SMALL], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0 and "already" in r.stdout and (old / "sample_manifest.json").is_file()
    assert r.stderr.splitlines() == [f"warning: {old} holds a sample set written by an older version of this "
                                     "script, where the full-size configs look for the real dataset; remove it "
                                     "(the sample set now lives in data/yt8m/sample/frame)"]
