"""build_inference_config: every flag reaches paddle.inference.Config; impossible set-ups fail clearly."""
import argparse

import paddle
import paddle.inference as pi
import pytest

from paddlevideo.inference.cli import str2bool
from paddlevideo.inference.predictor import InferenceOptions, InferenceSetupError, build_inference_config

META = {"feature_names": ["rgb", "audio"], "feature_dims": [1024, 128], "lengths_name": "lengths",
        "input_names": ["rgb", "audio", "lengths"]}


class RecordingConfig:
    """Stands in for paddle.inference.Config: records every method call with its arguments."""

    def __init__(self, *args):
        self.args = args
        self.calls = []

    def __getattr__(self, name):
        def record(*args, **kwargs):
            self.calls.append((name, args, kwargs))
        return record

    def called(self, name):
        return [c for c in self.calls if c[0] == name]


@pytest.fixture
def model_files(tmp_path):
    m, p = tmp_path / "M.json", tmp_path / "M.pdiparams"
    m.write_text("{}")
    p.write_bytes(b"")
    return str(m), str(p)


def build(model_files, cuda=True, trt=True, **opts):
    return build_inference_config(*model_files, InferenceOptions(**opts), META, config_cls=RecordingConfig,
                                  cuda_available=cuda, trt_available=trt)


def test_cpu_flags(model_files):
    cfg = build(model_files, cuda=False, cpu_threads=3, enable_mkldnn=True)
    assert cfg.args == model_files
    assert cfg.called("disable_gpu") and not cfg.called("enable_use_gpu")
    assert cfg.called("set_cpu_math_library_num_threads") == [("set_cpu_math_library_num_threads", (3,), {})]
    assert cfg.called("enable_mkldnn") and not cfg.called("disable_mkldnn")
    assert cfg.called("disable_glog_info")
    cfg = build(model_files, cuda=False, enable_mkldnn=False, verbose=True)
    assert cfg.called("disable_mkldnn") and not cfg.called("disable_glog_info")


def test_gpu_fp16_without_tensorrt(model_files):
    cfg = build(model_files, use_gpu=True, gpu_mem=500, gpu_id=1, precision="fp16")
    assert cfg.called("enable_use_gpu") == [("enable_use_gpu", (500, 1, pi.PrecisionType.Half), {})]
    assert not cfg.called("enable_tensorrt_engine") and not cfg.called("disable_gpu")


def test_tensorrt_dynamic_shapes_and_lstm_outside(model_files):
    cfg = build(model_files, use_gpu=True, use_tensorrt=True, precision="fp16", max_batch_size=8, max_frames=300)
    (_, _, trt), = cfg.called("enable_tensorrt_engine")
    assert trt["max_batch_size"] == 8 and trt["precision_mode"] == pi.PrecisionType.Half
    assert trt["use_calib_mode"] is False and trt["use_static"] is False
    (_, (mins, maxs, opts), _), = cfg.called("set_trt_dynamic_shape_info")
    assert mins == {"rgb": [1, 1, 1024], "audio": [1, 1, 128], "lengths": [1]}
    assert maxs == {"rgb": [8, 300, 1024], "audio": [8, 300, 128], "lengths": [8]}
    assert opts == maxs
    assert cfg.called("exp_disable_tensorrt_ops") == [("exp_disable_tensorrt_ops", (["rnn"],), {})]
    # the GPU itself runs fp32 outside the TensorRT subgraphs
    assert cfg.called("enable_use_gpu")[0][1][2] == pi.PrecisionType.Float32


def test_tensorrt_int8_calibrates(model_files):
    cfg = build(model_files, use_gpu=True, use_tensorrt=True, precision="int8")
    assert cfg.called("enable_tensorrt_engine")[0][2]["use_calib_mode"] is True
    assert cfg.called("enable_tensorrt_engine")[0][2]["precision_mode"] == pi.PrecisionType.Int8


@pytest.mark.parametrize("opts, cuda, trt, message", [
    (dict(use_tensorrt=True, use_gpu=True), False, False, "TensorRT needs a GPU build of PaddlePaddle"),
    (dict(use_tensorrt=True, use_gpu=True), True, False, "compiled with TensorRT"),
    (dict(use_tensorrt=True, use_gpu=False), True, True, "needs --use_gpu=True"),
    (dict(use_gpu=True), False, False, "needs a GPU build"),
    (dict(precision="fp16"), False, False, "not available on CPU"),
    (dict(use_gpu=True, precision="int8"), True, True, "int8 needs --use_tensorrt"),
    (dict(precision="bf8"), True, True, "unknown precision 'bf8'"),
])
def test_impossible_setups(model_files, opts, cuda, trt, message):
    with pytest.raises(InferenceSetupError, match=message):
        build(model_files, cuda=cuda, trt=trt, **opts)


def test_missing_model_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="M.json"):
        build_inference_config(str(tmp_path / "M.json"), str(tmp_path / "M.pdiparams"), InferenceOptions(), META)


@pytest.mark.skipif(paddle.is_compiled_with_cuda(), reason="checks the CPU-only build's behaviour")
def test_real_cpu_build(model_files):
    with pytest.raises(InferenceSetupError, match="TensorRT needs a GPU build of PaddlePaddle"):
        build_inference_config(*model_files, InferenceOptions(use_gpu=True, use_tensorrt=True), META)
    with pytest.raises(InferenceSetupError, match="needs a GPU build"):
        build_inference_config(*model_files, InferenceOptions(use_gpu=True), META)
    cfg = build_inference_config(*model_files, InferenceOptions(cpu_threads=2, enable_mkldnn=False), META)
    assert isinstance(cfg, pi.Config)
    assert not cfg.use_gpu() and cfg.cpu_math_library_num_threads() == 2 and not cfg.mkldnn_enabled()
    cfg = build_inference_config(*model_files, InferenceOptions(enable_mkldnn=True), META)
    assert cfg.mkldnn_enabled()


@pytest.mark.parametrize("text, value", [("False", False), ("false", False), ("0", False), ("no", False),
                                         ("True", True), ("TRUE", True), ("1", True), ("yes", True)])
def test_str2bool(text, value):
    assert str2bool(text) is value


def test_str2bool_rejects_other_text():
    with pytest.raises(argparse.ArgumentTypeError, match="expected a boolean"):
        str2bool("maybe")
