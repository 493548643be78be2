"""tools/segment_map.py end to end on the segment-rated file written by TensorFlow (tests/data/segment), with the
expected MAP computed by hand from that file's ratings, and its one-line errors (whole stderr checked)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RATED = ROOT / "tests" / "data" / "segment" / "validate0000.tfrecord"
ENV = {**os.environ, "PYTHONWARNINGS": "ignore"}

# The ratings of RATED (video: (start, class, score)), as TensorFlow parsed them (validate0000.expected.npz):
#   gC6O: (30, 543, 1) (115, 792, 1) (30, 703, 0) (30, 887, 1) (120, 792, 0)
#   kMnv: (295, 543, 1) (0, 277, 0) (295, 703, 0)
#   Zf1C: (45, 277, 1) (10, 543, 0) (45, 792, 0) (25, 543, 1) (65, 703, 0)
#   yCgd: (0, 887, 1)
# Positives: 543 -> 3, 792 -> 1, 887 -> 2, 277 -> 1; class 703 has none.


def run(*args, timeout=120):
    return subprocess.run([sys.executable, str(ROOT / "tools" / "segment_map.py"), *map(str, args)], cwd=ROOT,
                          env=ENV, capture_output=True, text=True, timeout=timeout)


def score(tmp_path, text, *extra):
    sub = tmp_path / "sub.csv"
    sub.write_bytes(text.encode("utf-8"))
    r = run("--submission", sub, "--labels", RATED, *extra)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_map_by_hand(tmp_path):
    # 543: gC6O:30 P, xx:0 unrated, Zf1C:10 N, kMnv:295 P -> (1/1 + 2/3) / 3
    # 792: gC6O:120 N, gC6O:115 P -> (1/2) / 1;  887: no row -> 0;  277: kMnv:0 N -> 0
    # 703: a row without positives (the starter raises KeyError there): left out of both means
    text = ("Class,Segments\n"
            "543,gC6O:30 xx:0 Zf1C:10 kMnv:295\n"
            "792,gC6O:120 gC6O:115\n"
            "277,kMnv:0\n"
            "703,gC6O:30 kMnv:295\n")
    r = score(tmp_path, text)
    ap543, ap792 = (1 + 2 / 3) / 3, 0.5
    assert r["map"] == pytest.approx((ap543 + ap792 + 0 + 0) / 4)
    assert r["map_starter"] == pytest.approx((ap543 + ap792 + 0) / 3)
    assert (r["classes_with_positives"], r["classes_with_rows"], r["classes_without_row"],
            r["rows_without_positives"]) == (4, 4, 1, 1)
    assert (r["rated_pairs"], r["positive_pairs"], r["submitted_entries"], r["scored_entries"]) == (14, 7, 9, 8)
    # --top_k 2 cuts 543's row to gC6O:30 xx:0 before the unrated entry is dropped: (1/1) / 3
    r2 = score(tmp_path, text, "--top_k", 2)
    assert r2["map"] == pytest.approx((1 / 3 + 0.5) / 4)


def test_starter_bugs_are_not_inherited(tmp_path):
    """One class (the starter needs 2), CRLF and trailing spaces (the starter keeps them on the last id), a header
    line (the starter's int('Class')) and text ids: the perfect row for 887 scores 1 for its class."""
    r = score(tmp_path, "Class,Segments\r\n887,yCgd:0 gC6O:30   \r\n\r\n")
    assert r["map_starter"] == pytest.approx(1.0)
    assert r["map"] == pytest.approx(1 / 4)
    r = score(tmp_path, "887,gC6O:30 yCgd:0\n")                # no header at all
    assert r["map_starter"] == pytest.approx(1.0)


@pytest.mark.parametrize("text, message", [
    ("Class,Segments\n543,gC6O:30\nabc,gC6O:30\n", "line 3: class 'abc' is not a non-negative integer"),
    ("Class,Segments\n543,gC6O:30 gC6O-115\n", "line 2: class 543: entry 'gC6O-115' is not '<video id>:<start>'"),
    ("Class,Segments\n543,gC6O:x\n", "line 2: class 543: entry 'gC6O:x' is not '<video id>:<start>'"),
    ("Class,Segments\n543,gC6O:30\n792,gC6O:115\n543,kMnv:295\n", "line 4: class 543 already has a row (line 2)"),
    ("Class,Segments\n543,gC6O:30 kMnv:295 gC6O:30\n", "line 2: class 543: segment 'gC6O:30' is listed twice"),
    ("Class,Segments\n543 gC6O:30\n", "line 2: expected '<class>,<id>:<start> ...'"),
    ("543,gC6O:30\nClass,Segments\n", "line 2: the header 'Class,Segments' is only allowed on line 1"),
    ("Class,Segments\n-3,gC6O:30\n", "line 2: class '-3' is not a non-negative integer"),
])
def test_bad_submission_lines_are_one_error_line(tmp_path, text, message):
    sub = tmp_path / "bad.csv"
    sub.write_text(text)
    r = run("--submission", sub, "--labels", RATED)
    assert r.returncode == 2
    assert r.stdout == ""
    assert r.stderr == f"error: {sub}: {message}" + r.stderr[len(f"error: {sub}: {message}"):]
    assert r.stderr.count("\n") == 1 and r.stderr.endswith("\n")


def test_bad_labels_are_one_error_line(tmp_path):
    sub = tmp_path / "sub.csv"
    sub.write_text("Class,Segments\n543,gC6O:30\n")
    r = run("--submission", sub, "--labels", tmp_path / "nothing*.tfrecord")
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.startswith("error: --labels ") and "nothing*.tfrecord" in r.stderr and "no file matches" in r.stderr
    assert r.stderr.count("\n") == 1
    broken = tmp_path / "broken.tfrecord"
    broken.write_bytes(RATED.read_bytes()[:500])
    r = run("--submission", sub, "--labels", broken)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.startswith(f"error: {broken}: record ") and r.stderr.count("\n") == 1
    twice = tmp_path / "labels.list"
    twice.write_text(f"{RATED}\n{tmp_path / 'copy.tfrecord'}\n")
    (tmp_path / "copy.tfrecord").write_bytes(RATED.read_bytes())
    r = run("--submission", sub, "--labels", twice)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.startswith(f"error: {tmp_path / 'copy.tfrecord'}: record 0: segment 'gC6O:30' is rated for class "
                               f"543 again (first in {RATED}: record 0)")
    assert r.stderr.count("\n") == 1
    r = run("--submission", tmp_path / "missing.csv", "--labels", RATED)
    assert r.returncode == 2 and r.stderr.startswith("error: --submission ") and r.stderr.count("\n") == 1
