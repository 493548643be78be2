"""tools/export_model.py and tools/predict.py as users run them (subprocesses from the repo root)."""
import json
import os
import subprocess
import sys

import numpy as np
import paddle
import pytest
import yaml
from inference_helpers import DATA, TINY_CFG

from paddlevideo.inference.export import build_eval_model
from paddlevideo.loader.yt8m.pkl import read_pkl

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(ROOT, "data", "example.pkl")


def run(*args):
    env = dict(os.environ, GLOG_minloglevel="2")
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def exported(tmp_path_factory, tiny_weights):
    d = tmp_path_factory.mktemp("tool")
    cfg_path = d / "tiny.yaml"
    cfg_path.write_text(yaml.safe_dump(TINY_CFG))
    out = d / "inference"
    r = run("tools/export_model.py", "-c", str(cfg_path), "-p", tiny_weights, "-o", str(out))
    assert r.returncode == 0, r.stderr
    return cfg_path, out / "TinyAttentionLSTM.json", out / "TinyAttentionLSTM.pdiparams"


def test_predict_example_pkl_as_paddlevideo_users_call_it(exported, tiny_weights, tmp_path):
    cfg_path, model_file, params_file = exported
    out_json = tmp_path / "preds.json"
    args = ["tools/predict.py", "--input_file", EXAMPLE, "--config", str(cfg_path), "--model_file", str(model_file),
            "--params_file", str(params_file), "--use_gpu=False", "--use_tensorrt=False", "--top_k", "3"]
    r = run(*args, "--output", str(out_json))
    assert r.returncode == 0, r.stderr
    # with --output: quiet, one summary line, nothing on stderr
    assert r.stdout.splitlines() == [f"predicted 1 video, skipped 0; results in {out_json}"] and r.stderr == ""
    r = run(*args)                      # without --output the results are printed, as in PaddleVideo
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == f"Current video file: {EXAMPLE}" and lines[-1] == "predicted 1 video, skipped 0"
    assert len(lines) == 4 + 3 + 1      # PaddleVideo's 4 lines, the top-3, the summary
    # independent expectation: the eager model on the pkl's first max_frames frames
    video = next(read_pkl(EXAMPLE))
    model = build_eval_model(TINY_CFG["MODEL"], tiny_weights)
    n = min(len(video["rgb"]), TINY_CFG["INFERENCE"]["max_frames"])
    with paddle.no_grad():
        probs = model.infer_forward(paddle.to_tensor(video["rgb"][None, :n]),
                                    paddle.to_tensor(video["audio"][None, :n]),
                                    paddle.to_tensor(np.array([n], np.int64))).numpy()[0]
    best = int(np.argmax(probs))
    assert f"\ttop-1 class: {best}" in lines
    result = json.loads(out_json.read_text())["results"][0]
    assert result["top_k_classes"][0] == best
    np.testing.assert_allclose(result["top_k_scores"], np.sort(probs)[::-1][:3], rtol=0, atol=1e-5)


def test_predict_tfrecord_batches_with_benchmark_and_labels(exported, tmp_path):
    _, model_file, _ = exported
    vocab = tmp_path / "vocabulary.csv"
    # saved with a UTF-8 byte-order mark, as spreadsheet programs do
    vocab.write_bytes(b"\xef\xbb\xbf" + ("Index,TrainVideoCount,KnowledgeGraphId,Name\n" +
                                          "".join(f"{i},1,/m/{i},name{i}\n" for i in range(10))).encode())
    out_json = tmp_path / "p.json"
    r = run("tools/predict.py", "--input_file", os.path.join(DATA, "yt8m", "frame", "train*.tfrecord"),
            "--model_file", str(model_file), "--use_gpu", "false", "--batch_size", "3", "--label_file", str(vocab),
            "--enable_benchmark=True", "--output", str(out_json), "--print_results")
    assert r.returncode == 0, r.stderr
    data = json.loads(out_json.read_text())
    assert len(data["results"]) == 16 and r.stdout.count("Current video file:") == 16
    assert data["complete"] is True and data["skipped"] == []
    assert r.stdout.splitlines()[-1] == f"predicted 16 videos, skipped 0; results in {out_json}"
    assert data["timing"]["batches"] == 6  # 8 videos per file, files read in turn: 3+3+3+3+3+1
    assert all(res["top_k_labels"][0] == f"name{res['top_k_classes'][0]}" for res in data["results"])
    assert "benchmark:" in r.stdout and "inference" in r.stdout


@pytest.mark.parametrize("extra, message", [
    (["--use_tensorrt=True", "--use_gpu=True"], "error: TensorRT needs a GPU build of PaddlePaddle"),
    (["--input_file", "no/such/file.pkl"], "error: input not found: no/such/file.pkl"),
    (["--precision", "fp16"], "error: --precision fp16 is not available on CPU"),
])
def test_predict_user_errors_are_one_line(exported, extra, message):
    if paddle.is_compiled_with_cuda() and "TensorRT" in message:
        pytest.skip("CPU-build behaviour")
    _, model_file, _ = exported
    args = ["tools/predict.py", "--input_file", os.path.join(DATA, "yt8m", "frame", "train0000.tfrecord"),
            "--model_file", str(model_file), "--use_gpu=False"] + extra
    r = run(*args)
    assert r.returncode == 2
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), r.stderr


def test_export_wrong_weights_is_one_line(tmp_path, paddlevideo_pdparams, exported):
    cfg_path, _, _ = exported
    r = run("tools/export_model.py", "-c", str(cfg_path), "-p", paddlevideo_pdparams, "-o", str(tmp_path))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "error:" in r.stderr and "backbone.fc_feature.0.weight" in r.stderr and "PaddleVideo" in r.stderr


def test_paddlevideo_checkpoint_through_both_tools(tmp_path, paddlevideo_pdparams):
    """PaddleVideo's two commands with a PaddleVideo checkpoint reproduce PaddleVideo's own probabilities."""
    cfg = {"model_name": "AttentionLSTM", "MODEL": {
        "framework": "Recognizer1D",
        "backbone": {"name": "AttentionLSTM", "embedding_size": 32, "lstm_size": 48},
        "head": {"name": "MLPHead", "num_classes": 64, "hidden_sizes": [8192, 4096], "activations": ["relu", "tanh"]}},
        "INFERENCE": {"max_frames": 300}}
    cfg_path = tmp_path / "pv.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "inference" / "AttentionLSTM"
    r = run("tools/export_model.py", "-c", str(cfg_path), "-p", paddlevideo_pdparams, "-o", str(out))
    assert r.returncode == 0, r.stderr
    # expected.npz holds PaddleVideo's outputs for the videos of train0000_split_{0..3}.pkl
    pkls = os.path.join(DATA, "yt8m", "paddle_pkl", "frame", "train0000_split_[0-3].pkl")
    preds = tmp_path / "preds.json"
    r = run("tools/predict.py", "--input_file", pkls, "--config", str(cfg_path),
            "--model_file", str(out / "AttentionLSTM.json"), "--params_file", str(out / "AttentionLSTM.pdiparams"),
            "--use_gpu=False", "--use_tensorrt=False", "--batch_size", "4", "--top_k", "64", "--output", str(preds))
    assert r.returncode == 0, r.stderr
    expected = np.load(os.path.join(DATA, "paddlevideo", "expected.npz"))["probs"]
    results = json.loads(preds.read_text())["results"]
    assert len(results) == 4
    for row, res in zip(expected, results):
        got = np.zeros(64, np.float32)
        got[res["top_k_classes"]] = res["top_k_scores"]
        np.testing.assert_allclose(got, row, rtol=0, atol=1e-5)
