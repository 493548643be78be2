"""Export: files, inference description, and parity of the exported model with the eager model."""
import os

import numpy as np
import paddle
import pytest
import yaml
from inference_helpers import DATA, TINY_CFG, random_videos

from paddlevideo.inference.export import export_model, read_inference_meta
from paddlevideo.inference.predictor import InferenceOptions, Predictor
from paddlevideo.loader.pipelines import collate_frames
from paddlevideo.utils.checkpoint import CheckpointError


def eager_probs_one_by_one(model, videos):
    """The eager model on each video alone, unpadded (B=1, T=its length)."""
    rows = []
    with paddle.no_grad():
        for v in videos:
            out = model.infer_forward(paddle.to_tensor(v["rgb"][None]), paddle.to_tensor(v["audio"][None]),
                                      paddle.to_tensor(np.array([len(v["rgb"])], np.int64)))
            rows.append(out.numpy()[0])
    return np.stack(rows)


def test_export_writes_program_params_and_description(tiny_export):
    result, _ = tiny_export
    for path in (result.model_file, result.params_file, result.meta_file):
        assert os.path.isfile(path)
    assert result.model_file.endswith("TinyAttentionLSTM.json")
    with open(result.meta_file) as f:
        meta = yaml.safe_load(f)
    assert meta == read_inference_meta(result.model_file)
    assert meta["feature_names"] == ["rgb", "audio"] and meta["feature_dims"] == [1024, 128]
    assert meta["input_names"] == ["rgb", "audio", "lengths"]
    assert meta["input_dtypes"] == ["uint8", "uint8", "int64"]
    assert meta["num_classes"] == TINY_CFG["MODEL"]["head"]["num_classes"]
    assert meta["max_frames"] == TINY_CFG["INFERENCE"]["max_frames"]
    assert result.self_check_max_abs_diff <= 1e-5


def test_predictor_matches_eager_on_padded_batches(tiny_export):
    result, model = tiny_export
    videos = random_videos([12, 5, 1, 9, 3], seed=3)
    expected = eager_probs_one_by_one(model, videos)
    pred = Predictor(result.model_file, result.params_file, InferenceOptions(max_batch_size=5))
    assert pred.input_names == ["rgb", "audio", "lengths"]
    whole = pred.run(collate_frames(videos))          # padded to 12
    assert whole.shape == (5, 10) and whole.dtype == np.float32
    np.testing.assert_allclose(whole, expected, rtol=0, atol=1e-5)
    pair = pred.run(collate_frames(videos[1:3]))      # padded to 5 only
    np.testing.assert_allclose(pair, expected[1:3], rtol=0, atol=1e-5)
    assert np.all((whole > 0) & (whole < 1))


def test_predictor_with_onednn_matches_too(tiny_export):
    result, model = tiny_export
    videos = random_videos([7, 2], seed=4)
    pred = Predictor(result.model_file, result.params_file, InferenceOptions(enable_mkldnn=True, cpu_threads=2))
    np.testing.assert_allclose(pred.run(collate_frames(videos)), eager_probs_one_by_one(model, videos),
                               rtol=0, atol=1e-5)


def test_exported_paddlevideo_checkpoint_gives_paddlevideo_probs(tmp_path, paddlevideo_pdparams):
    cfg = {"model_name": "PV", "MODEL": {
        "framework": "Recognizer1D",
        "backbone": {"name": "AttentionLSTM", "embedding_size": 32, "lstm_size": 48},
        "head": {"name": "MLPHead", "num_classes": 64, "hidden_sizes": [8192, 4096], "activations": ["relu", "tanh"]}}}
    result = export_model(cfg, str(tmp_path), weights=paddlevideo_pdparams)
    exp = np.load(os.path.join(DATA, "paddlevideo", "expected.npz"))
    pred = Predictor(result.model_file, result.params_file)
    probs = pred.run({"rgb": exp["rgb_q"], "audio": exp["audio_q"], "lengths": exp["lengths"]})
    np.testing.assert_allclose(probs, exp["probs"], rtol=0, atol=1e-5)


def test_export_with_weights_of_another_model_names_the_parameter(tmp_path, tiny_weights):
    cfg = dict(TINY_CFG, MODEL=dict(TINY_CFG["MODEL"], head=dict(TINY_CFG["MODEL"]["head"], num_classes=11)))
    with pytest.raises(CheckpointError, match=r"head\.fc_logit\.weight.*\[16, 10\].*\[16, 11\]"):
        export_model(cfg, str(tmp_path), weights=tiny_weights)


def test_missing_description_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"inference\.yaml not found.*export_model"):
        read_inference_meta(str(tmp_path / "M.json"))
