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
