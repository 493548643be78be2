"""Export records the evaluation pipeline without its label steps, and predict applies it: an
AttentionCluster exported with seg_num frame sampling predicts what the eager model gives on the
stride-centre frames (the legacy reader's evaluation sampling,
docs/models_reference.md#legacy-paddle-attentioncluster)."""
import numpy as np
import paddle
from inference_helpers import random_videos

from paddlevideo.inference.export import export_model
from paddlevideo.inference.predictor import InferenceOptions, Predictor
from paddlevideo.inference.runner import predict_stream
from paddlevideo.loader.pipelines import Compose, collate_frames

SEG = 6
CFG = {
    "model_name": "TinyCluster",
    "MODEL": {"framework": "Recognizer1D",
              "backbone": {"name": "AttentionCluster", "feature_names": ["rgb", "audio"], "feature_dims": [1024, 128],
                           "cluster_nums": [3, 2]},
              "head": {"name": "MLPHead", "num_classes": 9, "hidden_sizes": [16], "activations": ["tanh"]}},
    "PIPELINE": {"test": [{"name": "TruncateFrames", "max_frames": 300},
                          {"name": "SampleFrames", "seg_num": SEG, "mode": "test"},
                          {"name": "MultiHotLabels"}]},
    "INFERENCE": {"max_frames": 300},
}


def test_exported_pipeline_drops_label_steps_and_predict_samples_frames(tmp_path):
    paddle.seed(0)
    result = export_model(CFG, str(tmp_path))
    assert result.meta["pipeline"] == [{"name": "TruncateFrames", "max_frames": 300},
                                       {"name": "SampleFrames", "seg_num": SEG, "mode": "test"}]
    videos = random_videos([20, 7, 3], seed=1)
    records = [("mem", {"id": f"v{i}", "labels": np.zeros(0, np.int64), **v}) for i, v in enumerate(videos)]
    pred = Predictor(result.model_file, result.params_file, InferenceOptions(max_batch_size=3))
    got = list(predict_stream(records, pred.run, batch_size=3, k=9, pipeline=Compose(result.meta["pipeline"])))

    # independent expectation: centre of each of SEG equal strides, indices computed here
    loaded = paddle.jit.load(result.model_file[:-len(".json")])
    loaded.eval()
    for (text, entry), v in zip(got, videos):
        n = len(v["rgb"])
        idx = np.minimum(n - 1, ((np.arange(SEG) + 0.5) * n / SEG).astype(np.int64))
        sampled = collate_frames([{"rgb": v["rgb"][idx], "audio": v["audio"][idx]}])
        probs = loaded(paddle.to_tensor(sampled["rgb"]), paddle.to_tensor(sampled["audio"]),
                       paddle.to_tensor(sampled["lengths"])).numpy()[0]
        order = np.argsort(-probs, kind="stable")
        assert entry["top_k_classes"] == [int(c) for c in order[:9]]
        np.testing.assert_allclose(entry["top_k_scores"], probs[order[:9]], atol=1e-5)
