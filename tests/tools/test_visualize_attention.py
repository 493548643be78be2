"""tools/visualize_attention.py and the attention read-out: weights are distributions over the valid frames,
one curve per modality for AttentionLSTM, units x frames for AttentionCluster; PNGs written by the tool."""
import numpy as np
import paddle
import pytest
from conftest import CLUSTER_DEMO, LSTM_DEMO, ROOT, lstm_overrides, run
from png_check import png_size

from paddlevideo.loader.yt8m import read_tfrecord
from paddlevideo.modeling import build_model
from paddlevideo.utils.config import load_config
from paddlevideo.visualization.attention import compute_attention, plot_attention

CLUSTER_OVERRIDES = ["MODEL.head.num_classes=10", "MODEL.backbone.cluster_nums=[4,3]", "MODEL.head.hidden_sizes=[16]"]


def _records(tiny_data, n=3):
    return list(read_tfrecord(str(tiny_data / "sample_validate0000.tfrecord")))[:n]


def test_lstm_weights_are_one_distribution_per_modality(tiny_data):
    cfg = load_config(str(LSTM_DEMO), ["MODEL.head.num_classes=10", "MODEL.backbone.embedding_size=8",
                                       "MODEL.backbone.lstm_size=8", "MODEL.head.hidden_sizes=[16]"])
    paddle.seed(0)
    model = build_model(cfg["MODEL"])
    recs = _records(tiny_data)
    results = compute_attention(model, recs, max_frames=20)
    for rec, res in zip(recs, results):
        t = min(len(rec["rgb"]), 20)
        assert res.video_id == rec["id"] and list(res.labels) == list(rec["labels"])
        assert [w.shape for w in res.weights] == [(t,), (t,)]
        for w in res.weights:
            assert np.all(w >= 0) and w.sum() == pytest.approx(1.0, abs=1e-5)
        assert res.probs.shape == (10,) and np.all((res.probs > 0) & (res.probs < 1))


def test_cluster_weights_are_units_by_frames(tiny_data):
    cfg = load_config(str(CLUSTER_DEMO), CLUSTER_OVERRIDES)
    model = build_model(cfg["MODEL"])
    rec = _records(tiny_data, 1)[0]
    res = compute_attention(model, [rec], max_frames=300)[0]
    t = len(rec["rgb"])
    assert [w.shape for w in res.weights] == [(4, t), (3, t)]
    for w in res.weights:
        np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-5)


def test_a_model_without_attention_is_refused(tiny_data):
    class NoAttention(paddle.nn.Layer):
        feature_names = ["rgb", "audio"]
        backbone = paddle.nn.Linear(2, 2)

    with pytest.raises(ValueError, match="no attention_weights"):
        compute_attention(NoAttention(), _records(tiny_data, 1))


def test_plot_marks_true_predictions(tmp_path):
    from paddlevideo.visualization.attention import AttentionResult

    res = AttentionResult("vid", ["rgb", "audio"], [np.full(5, 0.2, np.float32), np.full((2, 5), 0.2, np.float32)],
                          np.array([0.1, 0.9, 0.3], np.float32), np.array([1], np.int64))
    path = plot_attention(res, str(tmp_path / "a.png"), top_k=2, label_names={1: "Cat"})
    w, h = png_size(path)
    assert w == 1200 and h == int(100 * (2.6 * 2 + 0.8))      # one curve row + one heat-map row


def test_tool_writes_pngs_for_lstm(trained_lstm, tiny_data, tmp_path):
    out, _ = trained_lstm
    labels = tmp_path / "vocabulary.csv"
    labels.write_text("Index,TrainVideoCount,Name\n" + "".join(f"{i},1,Name{i}\n" for i in range(10)))
    r = run("tools/visualize_attention.py", "-c", LSTM_DEMO, "-w", out / "AttentionLSTM_demo_best.pdparams",
            "--input_file", tiny_data / "sample_validate0000.tfrecord", "--max_videos", 2, "--label_file", labels,
            "--output_dir", tmp_path / "att", *lstm_overrides(tiny_data, out))
    assert r.returncode == 0, r.stderr
    pngs = sorted((tmp_path / "att").glob("*_attention.png"))
    ids = [rec["id"] for rec in _records(tiny_data, 2)]
    assert [p.name for p in pngs] == sorted(f"AttentionLSTM_demo_{i}_attention.png" for i in ids)
    for p in pngs:
        assert png_size(p) == (1200, 340) and p.stat().st_size > 10_000
    assert r.stdout.count("_attention.png") == 2 and "rgb peak at frame" in r.stdout


def test_tool_on_example_pkl_for_cluster_and_errors(tmp_path):
    cfg = load_config(str(CLUSTER_DEMO), CLUSTER_OVERRIDES)
    weights = tmp_path / "cluster.pdparams"
    paddle.save(build_model(cfg["MODEL"]).state_dict(), str(weights))
    args = ["-c", CLUSTER_DEMO, "-w", weights, *[x for o in CLUSTER_OVERRIDES for x in ("-o", o)]]
    r = run("tools/visualize_attention.py", *args, "--input_file", ROOT / "data" / "example.pkl",
            "--output_dir", tmp_path / "att")
    assert r.returncode == 0, r.stderr
    (png,) = list((tmp_path / "att").glob("*_attention.png"))
    assert png_size(png) == (1200, 600)                       # two heat-map rows
    r = run("tools/visualize_attention.py", *args, "--input_file", tmp_path / "missing.pkl")
    assert r.returncode == 2 and "missing.pkl" in r.stderr and "Traceback" not in r.stderr
    r = run("tools/visualize_attention.py", "-c", LSTM_DEMO, "-w", weights, "--input_file",
            ROOT / "data" / "example.pkl", "-o", "MODEL.head.num_classes=10")
    assert r.returncode == 2 and "cluster.pdparams" in r.stderr and "Traceback" not in r.stderr


def test_tool_names_file_and_video_without_frames(tmp_path):
    from paddlevideo.loader.yt8m import write_tfrecord

    cfg = load_config(str(CLUSTER_DEMO), CLUSTER_OVERRIDES)
    weights = tmp_path / "cluster.pdparams"
    paddle.save(build_model(cfg["MODEL"]).state_dict(), str(weights))
    videos = tmp_path / "videos.tfrecord"
    write_tfrecord(videos, [{"id": "ok", "labels": np.array([1]), "rgb": np.zeros((3, 1024), np.uint8),
                             "audio": np.zeros((3, 128), np.uint8)},
                            {"id": "blank", "labels": np.array([2]), "rgb": np.zeros((0, 1024), np.uint8),
                             "audio": np.zeros((0, 128), np.uint8)}])
    r = run("tools/visualize_attention.py", "-c", CLUSTER_DEMO, "-w", weights,
            *[x for o in CLUSTER_OVERRIDES for x in ("-o", o)], "--input_file", videos, "--max_videos", 2,
            "--output_dir", tmp_path / "att")
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.splitlines() == [f"error: {videos}: record 1: video 'blank' has 0 frames; nothing to predict"]
    assert not (tmp_path / "att").exists()          # refused before anything was drawn
