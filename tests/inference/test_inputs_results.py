"""Input expansion (pkl / tfrecord / list / directory / glob), top-k, label files, batched prediction."""
import os
import shutil

import numpy as np
import pytest
from inference_helpers import DATA, random_videos

from paddlevideo.inference.inputs import expand_inputs, iter_input_records
from paddlevideo.inference.results import format_result, load_label_names, top_k
from paddlevideo.inference.runner import StageTimer, predict_stream

YT = os.path.join(DATA, "yt8m")
TF_EXPECTED = np.load(os.path.join(YT, "frame", "train0000.expected.npz"))


def test_tfrecord_videos_match_tensorflow_fixture():
    rows = list(iter_input_records(os.path.join(YT, "frame", "train0000.tfrecord"), ["rgb", "audio"], [1024, 128]))
    assert [r["id"] for _, r in rows] == [i.decode() for i in TF_EXPECTED["ids"]]
    assert [len(r["rgb"]) for _, r in rows] == TF_EXPECTED["num_frames_raw"].tolist()
    off = TF_EXPECTED["frame_offsets"]
    np.testing.assert_array_equal(rows[2][1]["rgb"], TF_EXPECTED["rgb_q"][off[2]:off[3]])


def test_list_file_resolves_relative_to_itself_in_order():
    listed = expand_inputs(os.path.join(YT, "paddle_pkl", "train.list"))
    with open(os.path.join(YT, "paddle_pkl", "train.list")) as f:
        names = [line.split()[0] for line in f if line.strip()]
    assert [os.path.relpath(p, os.path.join(YT, "paddle_pkl")) for _, p in listed] == names
    assert all(kind == "pkl" for kind, _ in listed)


def test_pkl_split_files_hold_the_tfrecord_videos():
    # tf2pkl.py + split_yt8m.py wrote train0000_split_<i>.pkl from train0000.tfrecord (tests/data/yt8m/README.md)
    rows = list(iter_input_records(os.path.join(YT, "paddle_pkl", "train.list"), ["rgb", "audio"], [1024, 128]))
    assert [r["id"] for _, r in rows] == [i.decode() for i in TF_EXPECTED["ids"]]
    np.testing.assert_array_equal(rows[1][1]["audio"], TF_EXPECTED["audio_q"][1:301])


def test_directory_and_glob(tmp_path):
    for name in ("train0000.tfrecord", "train0001.tfrecord"):
        shutil.copy(os.path.join(YT, "frame", name), tmp_path / name)
    (tmp_path / "notes.md").write_text("ignored")
    by_dir = expand_inputs(str(tmp_path))
    assert [os.path.basename(p) for _, p in by_dir] == ["train0000.tfrecord", "train0001.tfrecord"]
    assert expand_inputs(str(tmp_path / "train*.tfrecord")) == by_dir


def test_bad_inputs(tmp_path):
    with pytest.raises(FileNotFoundError, match="input not found"):
        expand_inputs(str(tmp_path / "nothing*.pkl"))
    (tmp_path / "video.mp4").write_bytes(b"x")
    with pytest.raises(ValueError, match="unknown input kind"):
        expand_inputs(str(tmp_path / "video.mp4"))
    (tmp_path / "bad.list").write_text("ok_missing.pkl\n")
    with pytest.raises(FileNotFoundError, match=r"bad\.list: line 1: ok_missing\.pkl not found"):
        expand_inputs(str(tmp_path / "bad.list"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no .pkl or .tfrecord"):
        expand_inputs(str(tmp_path / "empty"))


def test_top_k_orders_by_score_with_ties_to_lower_index():
    probs = np.array([[0.1, 0.9, 0.3, 0.9], [0.5, 0.2, 0.7, 0.1]], np.float32)
    classes, scores = top_k(probs, 3)
    assert classes.tolist() == [[1, 3, 2], [2, 0, 1]]
    np.testing.assert_array_equal(scores, np.array([[0.9, 0.9, 0.3], [0.7, 0.5, 0.2]], np.float32))
    assert top_k(probs, 10)[0].shape == (2, 4)


def test_label_file(tmp_path):
    path = tmp_path / "vocabulary.csv"
    path.write_text('Index,TrainVideoCount,KnowledgeGraphId,Name,WikiUrl\n0,788288,/m/03bt1gh,Game,https://x\n'
                    '11,1,/m/01,"Car, racing",https://y\n')
    assert load_label_names(str(path)) == {0: "Game", 11: "Car, racing"}
    text, entry = format_result("a.pkl", "SjJ3", [11, 0], [0.98, 0.5], {0: "Game", 11: "Car, racing"})
    assert text.splitlines()[:4] == ["Current video file: a.pkl", "\tvideo id: SjJ3", "\ttop-1 class: 11",
                                     "\ttop-1 score: 0.98"]
    assert entry["top_k_labels"] == ["Car, racing", "Game"]
    # the same file saved with a UTF-8 byte-order mark (spreadsheet programs do this) reads the same
    bom = tmp_path / "vocabulary_bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert bom.read_bytes()[:3] == "\ufeff".encode() and load_label_names(str(bom)) == load_label_names(str(path))
    (tmp_path / "bad.csv").write_text("id,label\n0,Game\n")
    with pytest.raises(ValueError, match="needs the columns Index and Name"):
        load_label_names(str(tmp_path / "bad.csv"))


def test_predict_stream_batches_truncates_and_keeps_order():
    videos = random_videos([3, 20, 7, 1, 12], seed=1)
    seen_shapes = []

    def run(batch):  # class = number of valid frames, as a one-hot "probability"
        seen_shapes.append(batch["rgb"].shape)
        probs = np.zeros((len(batch["lengths"]), 32), np.float32)
        probs[np.arange(len(probs)), batch["lengths"]] = 1.0
        return probs

    timer = StageTimer()
    out = list(predict_stream((("f.tfrecord", v) for v in videos), run, batch_size=2, max_frames=12, k=1,
                              timer=timer))
    assert [e["top_k_classes"][0] for _, e in out] == [3, 12, 7, 1, 12]        # 20 frames cut to 12
    assert [e["id"] for _, e in out] == ["v0", "v1", "v2", "v3", "v4"]
    assert [e["labels"] for _, e in out] == [[0], [1], [2], [3], [4]]
    assert seen_shapes == [(2, 12, 1024), (2, 7, 1024), (1, 12, 1024)]           # padded per batch
    assert timer.videos == 5 and timer.batches == 3
