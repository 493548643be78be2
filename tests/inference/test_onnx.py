"""Optional ONNX export: paddle2onnx + the restored LSTM sequence_lens, checked with onnxruntime on padded batches."""
import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("paddle2onnx")

from inference_helpers import TINY_CFG, random_videos  # noqa: E402

from paddlevideo.inference.export import export_model  # noqa: E402
from paddlevideo.inference.predictor import Predictor  # noqa: E402
from paddlevideo.loader.pipelines import collate_frames  # noqa: E402


@pytest.fixture(scope="module")
def onnx_export(tmp_path_factory, tiny_weights):
    return export_model(TINY_CFG, str(tmp_path_factory.mktemp("onnx")), weights=tiny_weights, onnx=True)


def test_lstm_nodes_get_the_lengths(onnx_export):
    model = onnx.load(onnx_export.onnx_file)
    lstms = [n for n in model.graph.node if n.op_type == "LSTM"]
    assert len(lstms) == 2  # one bidirectional LSTM per modality
    casts = {n.output[0]: n for n in model.graph.node if n.op_type == "Cast"}
    for node in lstms:
        src = casts[node.input[4]]
        assert src.input[0] == "lengths"
        assert src.attribute[0].i == onnx.TensorProto.INT32
    assert onnx_export.meta["onnx_file"].endswith(".onnx")


def test_onnxruntime_matches_paddle_inference_on_padded_batches(onnx_export):
    session = ort.InferenceSession(onnx_export.onnx_file, providers=["CPUExecutionProvider"])
    pred = Predictor(onnx_export.model_file, onnx_export.params_file)
    batch = collate_frames(random_videos([12, 4, 1, 9], seed=5))
    expected = pred.run(batch)
    got = session.run(None, {"rgb": batch["rgb"], "audio": batch["audio"], "lengths": batch["lengths"]})[0]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)


#: The demo configs of the models without an LSTM; paddle2onnx converts them as they are (no patch needed).
DEMO_CONFIGS = {
    "AttentionCluster": "configs/recognition/attention_cluster/attention_cluster_youtube8m_demo.yaml",
    "NeXtVLAD": "configs/recognition/nextvlad/nextvlad_youtube8m_demo.yaml",
    "NetVLAD": "configs/recognition/netvlad/netvlad_youtube8m_demo.yaml",
    "DBoF": "configs/recognition/dbof/dbof_youtube8m_demo.yaml",
}


@pytest.mark.parametrize("name", sorted(DEMO_CONFIGS))
def test_pooling_models_export_to_onnx_and_match_on_padded_batches(name, tmp_path):
    import os

    import paddle

    from paddlevideo.utils.config import load_config

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    cfg = load_config(os.path.join(root, DEMO_CONFIGS[name]))
    paddle.seed(11)
    result = export_model(cfg, str(tmp_path), onnx=True)
    model = onnx.load(result.onnx_file)
    assert not [n for n in model.graph.node if n.op_type == "LSTM"]
    session = ort.InferenceSession(result.onnx_file, providers=["CPUExecutionProvider"])
    pred = Predictor(result.model_file, result.params_file)
    lengths = [17, 6, 1, 11]
    batch = collate_frames(random_videos(lengths, seed=8))
    expected = pred.run(batch)
    feed = {k: batch[k] for k in ("rgb", "audio", "lengths")}
    got = session.run(None, feed)[0]
    assert got.shape == (4, cfg["MODEL"]["head"]["num_classes"])
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
    # a padded video scores as it does alone, unpadded
    alone = session.run(None, {"rgb": batch["rgb"][1:2, :6], "audio": batch["audio"][1:2, :6],
                               "lengths": batch["lengths"][1:2]})[0]
    np.testing.assert_allclose(alone[0], got[1], rtol=0, atol=1e-5)


def test_fp16_weights_export_to_onnx_too(tmp_path, tiny_weights):
    result = export_model(TINY_CFG, str(tmp_path), weights=tiny_weights, onnx=True, precision="fp16")
    session = ort.InferenceSession(result.onnx_file, providers=["CPUExecutionProvider"])
    batch = collate_frames(random_videos([12, 4, 1, 9], seed=5))
    expected = Predictor(result.model_file, result.params_file).run(batch)
    got = session.run(None, {"rgb": batch["rgb"], "audio": batch["audio"], "lengths": batch["lengths"]})[0]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
