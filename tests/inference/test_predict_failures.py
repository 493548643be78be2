"""tools/predict.py when things go wrong: bad inputs are skipped and named, --output is checked before
predicting and filled while predicting, a full disk keeps what was written; export refuses random weights
and unusable output directories. Every case checks the whole stderr and the exit code."""
import contextlib
import errno
import json
import os
import shutil
import subprocess

import numpy as np
import pytest
import yaml
from inference_helpers import DATA, TINY_CFG
from test_tools import run

from paddlevideo.inference.results_file import OutputFileError, ResultsFile
from paddlevideo.loader.yt8m import iter_records, read_pkl, read_tfrecord, write_tfrecord

FRAME = os.path.join(DATA, "yt8m", "frame")


@pytest.fixture(scope="module")
def model(tmp_path_factory, tiny_weights):
    d = tmp_path_factory.mktemp("model")
    out = d / "inference"
    r = run("tools/export_model.py", "-c", _cfg(d), "-p", tiny_weights, "-o", str(out))
    assert r.returncode == 0, r.stderr
    return str(out / "TinyAttentionLSTM.json")


def _cfg(d):
    path = d / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY_CFG))
    return str(path)


def predict(model_file, input_file, *extra):
    return run("tools/predict.py", "--input_file", str(input_file), "--model_file", model_file, "--use_gpu=False",
               "--top_k", "3", *extra)


def _ids(path):
    return [r["id"] for r in read_tfrecord(path)]


def _error_of(fn):
    try:
        list(fn())
    except Exception as e:  # noqa: BLE001 - the reader's own message is the expectation
        return e
    raise AssertionError("expected the reader to fail")


@pytest.fixture()
def messy_dir(tmp_path):
    """A directory of good files with every kind of bad input between them (sorted order matters)."""
    d = tmp_path / "inputs"
    d.mkdir()
    good = os.path.join(FRAME, "train0000.tfrecord")
    shutil.copy(good, d / "a_good.tfrecord")
    # cut inside record 3: records 0-2 are still readable
    offsets = [off for _, off, _ in iter_records(good)]
    (d / "b_cut.tfrecord").write_bytes(open(good, "rb").read()[:offsets[3] + 40])
    os.symlink("c_loop.tfrecord", d / "c_loop.tfrecord")              # a symlink loop
    (d / "d_folder.tfrecord").mkdir()                                 # unreadable as a file
    (d / "e_text.pkl").write_text("this is not a pickle\n")           # wrong format
    video_level = {"id": "vl", "labels": np.array([1]), "mean_rgb": np.zeros(1024, np.float32),
                   "mean_audio": np.zeros(128, np.float32)}
    write_tfrecord(d / "f_video_level.tfrecord", [video_level], feature_type="video")
    first = next(read_tfrecord(good))
    empty = {"id": "empty", "labels": np.array([2]), "rgb": np.zeros((0, 1024), np.uint8),
             "audio": np.zeros((0, 128), np.uint8)}
    write_tfrecord(d / "g_zero.tfrecord", [first, empty, first])
    shutil.copy(os.path.join(FRAME, "train0001.tfrecord"), d / "z_good.tfrecord")
    return d


def test_directory_with_bad_files_keeps_going_names_skips_and_writes_everything_done(model, messy_dir, tmp_path):
    d = messy_dir
    out = tmp_path / "preds.json"
    r = predict(model, d, "--output", str(out))
    assert r.returncode == 2
    assert r.stdout == ""
    cut = _error_of(lambda: read_tfrecord(str(d / "b_cut.tfrecord")))
    text = _error_of(lambda: read_pkl(str(d / "e_text.pkl"), ("rgb", "audio"), (1024, 128)))
    video_level = _error_of(lambda: read_tfrecord(str(d / "f_video_level.tfrecord")))   # the reader's own words
    p = {name: str(d / name) for name in os.listdir(d)}
    expected_skips = [
        f"{cut}",
        f"{p['c_loop.tfrecord']}: Too many levels of symbolic links",
        f"{p['d_folder.tfrecord']}: Is a directory",
        f"{text}",
        f"{video_level}",
        f"{p['g_zero.tfrecord']}: record 1: video 'empty' has 0 frames; nothing to predict",
    ]
    assert str(cut).startswith(f"{p['b_cut.tfrecord']}: record 3 ")
    summary = (f"error: skipped 6 inputs ({p['b_cut.tfrecord']} (from record 3), {p['c_loop.tfrecord']}, "
               f"{p['d_folder.tfrecord']}, {p['e_text.pkl']}, {p['f_video_level.tfrecord']} and 1 more (all listed "
               f'under "skipped" in the output)); predicted 21 videos; results in {out}')
    assert r.stderr.splitlines() == [f"warning: skipped {s}" for s in expected_skips] + [summary]

    data = json.loads(out.read_text())
    good_ids = _ids(p["a_good.tfrecord"])
    want = ([(p["a_good.tfrecord"], i) for i in good_ids] + [(p["b_cut.tfrecord"], i) for i in good_ids[:3]]
            + [(p["g_zero.tfrecord"], good_ids[0])] * 2
            + [(p["z_good.tfrecord"], i) for i in _ids(p["z_good.tfrecord"])])
    assert [(e["file"], e["id"]) for e in data["results"]] == want and len(want) == 21
    assert data["complete"] is True
    assert [(s["file"], s["index"], s["reason"]) for s in data["skipped"]] == [
        (p["b_cut.tfrecord"], 3, expected_skips[0]), (p["c_loop.tfrecord"], None, expected_skips[1]),
        (p["d_folder.tfrecord"], None, expected_skips[2]), (p["e_text.pkl"], None, expected_skips[3]),
        (p["f_video_level.tfrecord"], 0, expected_skips[4]), (p["g_zero.tfrecord"], 1, expected_skips[5])]


def test_without_output_results_are_printed_and_skips_reported(model, messy_dir):
    r = predict(model, messy_dir / "c_loop.tfrecord")
    assert r.returncode == 2 and r.stdout == ""
    loop = str(messy_dir / "c_loop.tfrecord")
    assert r.stderr.splitlines() == [f"warning: skipped {loop}: Too many levels of symbolic links",
                                     f"error: skipped 1 input ({loop}); predicted 0 videos"]
    r = predict(model, messy_dir / "g_zero.tfrecord")
    assert r.returncode == 2
    assert r.stdout.count("Current video file:") == 2 and r.stdout.count("\ttop-") == 2 * (2 + 3)
    zero = str(messy_dir / "g_zero.tfrecord")
    assert r.stderr.splitlines() == [
        f"warning: skipped {zero}: record 1: video 'empty' has 0 frames; nothing to predict",
        f"error: skipped 1 input ({zero} (video 'empty')); predicted 2 videos"]


@contextlib.contextmanager
def _mounted_tmpfs(path, options):
    """Mount a tmpfs at ``path`` (root only); skip the test where mounting is not allowed."""
    path.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True, timeout=30)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], capture_output=True, timeout=30)


def test_unusable_output_fails_before_predicting_and_keeps_an_old_file(model, tmp_path):
    src = os.path.join(FRAME, "train0000.tfrecord")
    folder = tmp_path / "folder"
    folder.mkdir()
    r = predict(model, src, "--output", str(folder))
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.splitlines() == [f"error: --output {folder} is a directory; give a file name such as "
                                     f"{folder / 'predictions.json'}; nothing was predicted"]
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    r = predict(model, src, "--output", str(notes / "preds.json"))
    assert r.returncode == 2 and r.stdout == "" and notes.read_text() == "mine"
    assert r.stderr.splitlines() == [f"error: --output {notes / 'preds.json'}: {notes} is a file, not a directory; "
                                     "nothing was predicted"]
    # a wrong input does not clobber the results of an earlier run
    old = tmp_path / "old.json"
    old.write_text('{"results": ["earlier"]}')
    r = predict(model, tmp_path / "missing*.tfrecord", "--output", str(old))
    assert r.returncode == 2 and old.read_text() == '{"results": ["earlier"]}'
    assert r.stderr.splitlines() == [f"error: input not found: {tmp_path / 'missing*.tfrecord'} (no file, "
                                     "directory or glob match)"]


def test_read_only_output_place_is_one_line(model, tmp_path):
    src = os.path.join(FRAME, "train0000.tfrecord")
    with contextlib.ExitStack() as stack:
        if os.geteuid() == 0:        # root writes through permissions: use a read-only file system
            ro = stack.enter_context(_mounted_tmpfs(tmp_path / "ro", "ro,size=64k"))
            reason = "Read-only file system"
        else:
            ro = tmp_path / "ro"
            ro.mkdir(mode=0o500)
            reason = "Permission denied"
        target = ro / "sub" / "preds.json"
        r = predict(model, src, "--output", str(target))
        e = run("tools/export_model.py", "-c", _cfg(tmp_path), "--random_weights", "-o", str(ro / "export"))
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.splitlines() == [f"error: --output {target}: cannot create it ({reason}); nothing was predicted"]
    assert e.returncode == 2 and e.stdout == ""
    assert e.stderr.splitlines() == [f"error: output directory {ro / 'export'} cannot be written ({reason})"]


def test_dev_full_is_refused_before_predicting(model):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    r = predict(model, os.path.join(FRAME, "train0000.tfrecord"), "--output", "/dev/full")
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.splitlines() == ["error: --output /dev/full: cannot write it (No space left on device); nothing "
                                     "was predicted"]


def test_disk_full_while_predicting_keeps_the_written_results(model, tmp_path):
    """A real small file system (tmpfs): the disk fills up in the middle of the results."""
    vocab = tmp_path / "vocabulary.csv"
    vocab.write_text("Index,Name\n" + "".join(f"{i},{'long class name ' * 8}{i}\n" for i in range(10)))
    args = ("--input_file", os.path.join(FRAME, "train*.tfrecord"), "--label_file", str(vocab), "--top_k", "10")
    full = tmp_path / "full.json"
    r = run("tools/predict.py", "--model_file", model, "--use_gpu=False", *args, "--output", str(full))
    assert r.returncode == 0, r.stderr
    reference = json.loads(full.read_text())["results"]
    assert len(reference) == 16 and len(full.read_bytes()) > 3 * 4096
    with _mounted_tmpfs(tmp_path / "small", "size=8k") as small:
        target = small / "preds.json"
        r = run("tools/predict.py", "--model_file", model, "--use_gpu=False", *args, "--output", str(target))
        data = json.loads(target.read_text())           # valid JSON, marked incomplete
    n = len(data["results"])
    assert 0 < n < 16 and data["complete"] is False and data["error"] == "No space left on device"
    assert data["results"] == reference[:n]
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.splitlines() == [f"error: --output {target}: No space left on device while writing results; the "
                                     f"file keeps the first {n} results as valid JSON marked incomplete"]


class _SmallDisk(ResultsFile):
    """Fault injection: a disk with ``capacity`` bytes; a write that does not fit writes what fits, then fails."""

    capacity = 0

    def _os_write(self, fd, data):
        room = self.capacity - os.fstat(fd).st_size
        if room <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return os.write(fd, bytes(data[:room]))


@pytest.mark.parametrize("capacity", [250, 300, 420, 700, 1000])
def test_results_file_cut_back_to_whole_results_on_enospc(tmp_path, capacity):
    entries = [{"file": "a.tfrecord", "id": f"v{i}", "top_k_classes": [i, i + 1], "top_k_scores": [0.5, 0.25]}
               for i in range(20)]
    path = tmp_path / "r.json"
    _SmallDisk.capacity = capacity
    out = _SmallDisk(str(path), {"model_file": "m.json", "input": "x"})
    with pytest.raises(OutputFileError) as info:
        for e in entries:
            out.add(e)
        out.close({"timing": {}})
    # independent expectation: the bytes of the head and of each result, against the capacity
    head = json.dumps({"model_file": "m.json", "input": "x"}, indent=2)[:-2] + ',\n  "results": ['
    parts = [("," if i else "") + "\n    " + json.dumps(e) for i, e in enumerate(entries)]
    n = int(np.sum(len(head) + np.cumsum([len(p) for p in parts]) <= capacity))
    kept = head + "".join(parts[:n])
    close = '\n  ],\n  "complete": false,\n  "error": "No space left on device"\n}\n'
    assert info.value.written == n
    what = f"the file keeps the first {n} result{'s' if n != 1 else ''}"
    if len(kept) + len(close) <= capacity:
        data = json.loads(path.read_text())
        assert data["results"] == entries[:n] and data["complete"] is False
        assert data["error"] == "No space left on device"
        assert str(info.value) == (f"--output {path}: No space left on device while writing results; {what} "
                                   "as valid JSON marked incomplete")
    else:           # not even the closing bytes fit: the whole results, and nothing half-written after them
        assert path.read_text() == kept
        assert str(info.value) == (f"--output {path}: No space left on device while writing results; {what} "
                                   "but could not be closed (the JSON text stops after them)")


def test_results_file_complete_and_interrupted(tmp_path):
    path = tmp_path / "r.json"
    with ResultsFile(str(path), {"input": "x"}) as out:
        out.add({"id": "a"})
        out.close({"skipped": [], "timing": {"videos": 1}})
    assert json.loads(path.read_text()) == {"input": "x", "results": [{"id": "a"}], "complete": True,
                                            "skipped": [], "timing": {"videos": 1}}
    with pytest.raises(KeyboardInterrupt):
        with ResultsFile(str(path), {"input": "x"}) as out:
            out.add({"id": "a"})
            raise KeyboardInterrupt
    assert json.loads(path.read_text()) == {"input": "x", "results": [{"id": "a"}], "complete": False}


def test_export_refuses_missing_weights_and_bad_output_dir(tmp_path):
    cfg = _cfg(tmp_path)
    out = tmp_path / "inference"
    r = run("tools/export_model.py", "-c", cfg, "-o", str(out))
    assert r.returncode == 2 and r.stdout == "" and not out.exists()
    assert r.stderr.splitlines() == ["error: no weights given: pass the trained .pdparams with -p (or "
                                     "--random_weights to export an untrained model on purpose)"]
    blocker = tmp_path / "a_file"
    blocker.write_text("keep me")
    r = run("tools/export_model.py", "-c", cfg, "--random_weights", "-o", str(blocker))
    assert r.returncode == 2 and r.stdout == "" and blocker.read_text() == "keep me"
    assert r.stderr.splitlines() == [f"error: output directory {blocker} is a file (-o/--output_path takes a "
                                     "directory)"]
    r = run("tools/export_model.py", "-c", cfg, "--random_weights", "-o", str(blocker / "sub"))
    assert r.returncode == 2 and r.stderr.splitlines() == [
        f"error: output directory {blocker / 'sub'} cannot be created: {blocker} is a file (-o/--output_path takes "
        "a directory)"]
    r = run("tools/export_model.py", "-c", cfg, "--random_weights", "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert (out / "TinyAttentionLSTM.json").is_file() and (out / "TinyAttentionLSTM.pdiparams").is_file()


def test_export_help_says_what_o_means():
    r = run("tools/export_model.py", "--help")
    assert r.returncode == 0
    text = " ".join(r.stdout.split())
    assert "-o here is the OUTPUT DIRECTORY, not a config override as in main.py" in text
    assert "--override KEY.SUB=VALUE" in text and "--random_weights" in text

