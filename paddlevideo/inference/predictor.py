"""Paddle Inference predictor for exported models: configuration from options, batch in, probabilities out.

:func:`build_inference_config` turns :class:`InferenceOptions` into a ``paddle.inference.Config``
(API of Paddle 3.3, docs/paddle3_notes.md#paddle-inference-on-cpu-gpu-and-tensorrt); :class:`Predictor` feeds
collated batches (``{<feature>: uint8 [B, T, D], "lengths": int64 [B]}``) to the exported program and returns
its sigmoid probabilities float32 [B, C].

GPU and TensorRT settings follow the documented API but could only be checked on the CPU build
(``docs/inference.md`` says what was verified). For TensorRT the dynamic shape ranges cover batch
1..``max_batch_size`` and time 1..``max_frames``; the LSTM (op ``rnn`` with ``sequence_length``) is
kept out of TensorRT with ``exp_disable_tensorrt_ops`` so that the rest of the graph can run inside.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["InferenceOptions", "InferenceSetupError", "Predictor", "PRECISIONS", "build_inference_config",
           "trt_shape_ranges"]

#: ``--precision`` values and the ``paddle.inference.PrecisionType`` member each maps to.
PRECISIONS = {"fp32": "Float32", "fp16": "Half", "int8": "Int8"}


class InferenceSetupError(ValueError):
    """The requested inference set-up cannot run with this PaddlePaddle build or these options."""


@dataclass
class InferenceOptions:
    """Predictor options (the ``tools/predict.py`` flags).

    Attributes:
        use_gpu: run on GPU ``gpu_id`` (needs a CUDA build of PaddlePaddle).
        gpu_mem: initial GPU memory pool, MB (PaddleVideo's default 8000).
        gpu_id: GPU device index.
        use_tensorrt: run supported subgraphs with TensorRT (GPU build with TensorRT only).
        precision: ``fp32``, ``fp16`` (GPU) or ``int8`` (TensorRT with calibration).
        enable_mkldnn: use oneDNN kernels on CPU (off: plain kernels, results equal to eager to 0.0).
        cpu_threads: math-library threads per predictor on CPU.
        max_batch_size: largest batch fed (TensorRT max shape / max_batch_size).
        max_frames: longest video fed (TensorRT max shape of the time axis).
        min_subgraph_size: smallest op group handed to TensorRT.
        trt_disabled_ops: ops kept out of TensorRT (the LSTM ``rnn`` op with ``sequence_length``).
        verbose: keep Paddle Inference's own log lines.
    """

    use_gpu: bool = False
    gpu_mem: int = 8000
    gpu_id: int = 0
    use_tensorrt: bool = False
    precision: str = "fp32"
    enable_mkldnn: bool = False
    cpu_threads: int = 1
    max_batch_size: int = 1
    max_frames: int = 300
    min_subgraph_size: int = 3
    trt_disabled_ops: Sequence[str] = field(default_factory=lambda: ["rnn"])
    verbose: bool = False


def trt_shape_ranges(meta: Mapping[str, Any], max_batch_size: int,
                     max_frames: int) -> dict[str, dict[str, list[int]]]:
    """TensorRT dynamic shape ranges of every model input.

    Returns:
        ``{"min": {name: shape}, "max": {...}, "opt": {...}}``: features ``[1, 1, D]`` ..
        ``[max_batch_size, max_frames, D]`` (opt = max), lengths ``[1]`` .. ``[max_batch_size]``.
    """
    ranges: dict[str, dict[str, list[int]]] = {"min": {}, "max": {}, "opt": {}}
    for name, dim in zip(meta["feature_names"], meta["feature_dims"]):
        ranges["min"][name] = [1, 1, int(dim)]
        ranges["max"][name] = [max_batch_size, max_frames, int(dim)]
        ranges["opt"][name] = [max_batch_size, max_frames, int(dim)]
    lengths = meta["lengths_name"]
    ranges["min"][lengths], ranges["max"][lengths], ranges["opt"][lengths] = [1], [max_batch_size], [max_batch_size]
    return ranges


def _cuda_available() -> bool:
    import paddle

    return bool(paddle.is_compiled_with_cuda())


def _trt_available() -> bool:
    import paddle.inference as pi

    return tuple(pi.get_trt_compile_version()) != (0, 0, 0)


def build_inference_config(model_file: str, params_file: str, options: InferenceOptions,
                           meta: Mapping[str, Any], config_cls: Callable[..., Any] | None = None,
                           cuda_available: bool | None = None, trt_available: bool | None = None) -> Any:
    """Make the ``paddle.inference.Config`` for ``options``.

    Args:
        model_file, params_file: the exported ``.json`` and ``.pdiparams``.
        options: see :class:`InferenceOptions`.
        meta: the inference description (:func:`paddlevideo.inference.export.read_inference_meta`).
        config_cls: the Config class (default ``paddle.inference.Config``; tests pass a recorder).
        cuda_available, trt_available: override the build checks (default: ask Paddle).

    Returns:
        The configured Config (not yet used to create a predictor).

    Raises:
        FileNotFoundError: a model file is missing.
        InferenceSetupError: unknown precision; GPU / TensorRT / fp16 / int8 requested where this build or
            these options cannot provide it (e.g. "TensorRT needs a GPU build of PaddlePaddle").
    """
    import paddle.inference as pi

    for path in (model_file, params_file):
        if not os.path.isfile(path):
            raise FileNotFoundError(f"model file not found: {path}")
    if options.precision not in PRECISIONS:
        raise InferenceSetupError(f"unknown precision {options.precision!r}; valid: {', '.join(PRECISIONS)}")
    cuda = _cuda_available() if cuda_available is None else cuda_available
    precision = getattr(pi.PrecisionType, PRECISIONS[options.precision])
    if options.use_tensorrt:
        if not cuda:
            raise InferenceSetupError("TensorRT needs a GPU build of PaddlePaddle (this one is CPU-only); "
                                      "drop --use_tensorrt")
        if not (_trt_available() if trt_available is None else trt_available):
            raise InferenceSetupError("TensorRT needs a GPU build of PaddlePaddle compiled with TensorRT "
                                      "(paddle.inference.get_trt_compile_version() is 0.0.0)")
        if not options.use_gpu:
            raise InferenceSetupError("--use_tensorrt=True needs --use_gpu=True")
    if options.use_gpu and not cuda:
        raise InferenceSetupError("--use_gpu=True needs a GPU build of PaddlePaddle (this one is CPU-only); "
                                  "pass --use_gpu=False")
    if not options.use_gpu and options.precision != "fp32":
        raise InferenceSetupError(f"--precision {options.precision} is not available on CPU (no fp16 kernels; int8 "
                                  "needs a quantized model): use --precision fp32")
    if options.precision == "int8" and not options.use_tensorrt:
        raise InferenceSetupError("--precision int8 needs --use_tensorrt=True (TensorRT calibration)")

    cfg = (config_cls or pi.Config)(model_file, params_file)
    if options.use_gpu:
        gpu_precision = precision if not options.use_tensorrt else pi.PrecisionType.Float32
        cfg.enable_use_gpu(int(options.gpu_mem), int(options.gpu_id), gpu_precision)
        if options.use_tensorrt:
            try:
                cfg.enable_tensorrt_engine(workspace_size=1 << 30, max_batch_size=int(options.max_batch_size),
                                           min_subgraph_size=int(options.min_subgraph_size),
                                           precision_mode=precision, use_static=False,
                                           use_calib_mode=options.precision == "int8")
            except RuntimeError as e:  # a build without TensorRT raises PreconditionNotMet here
                raise InferenceSetupError(f"TensorRT needs a GPU build of PaddlePaddle with TensorRT: "
                                          f"{str(e).splitlines()[0]}") from None
            ranges = trt_shape_ranges(meta, int(options.max_batch_size), int(options.max_frames))
            cfg.set_trt_dynamic_shape_info(ranges["min"], ranges["max"], ranges["opt"])
            if options.trt_disabled_ops:
                cfg.exp_disable_tensorrt_ops(list(options.trt_disabled_ops))
    else:
        cfg.disable_gpu()
        cfg.set_cpu_math_library_num_threads(int(options.cpu_threads))
        if options.enable_mkldnn:
            cfg.enable_mkldnn()
        else:
            cfg.disable_mkldnn()
    # no enable_memory_optim(): with a PIR .json model, create_predictor then fails in 3.3.1 with
    # "Not find predictor_id 0 and pass_name memory_optimize_pass" (checked on the CPU build)
    if not options.verbose:
        cfg.disable_glog_info()
    return cfg


class Predictor:
    """An exported model loaded into Paddle Inference.

    Args:
        model_file, params_file: the exported ``.json`` / ``.pdiparams``.
        options: :class:`InferenceOptions` (default: CPU, fp32, 1 thread).
        meta: inference description; default: read from ``<prefix>.inference.yaml`` next to ``model_file``.

    Raises:
        FileNotFoundError / InferenceSetupError / ValueError: see :func:`build_inference_config` and
            :func:`paddlevideo.inference.export.read_inference_meta`; ValueError if the program's inputs
            are not the ones the description names.
    """

    def __init__(self, model_file: str, params_file: str, options: InferenceOptions | None = None,
                 meta: Mapping[str, Any] | None = None) -> None:
        import paddle.inference as pi

        from .export import read_inference_meta

        self.options = options or InferenceOptions()
        self.meta = dict(meta) if meta is not None else read_inference_meta(model_file)
        cfg = build_inference_config(model_file, params_file, self.options, self.meta)
        self._predictor = pi.create_predictor(cfg)
        names = list(self._predictor.get_input_names())
        if sorted(names) != sorted(self.meta["input_names"]):
            raise ValueError(f"{model_file}: program inputs {names} differ from {self.meta['input_names']} in its "
                             "inference description")
        self.input_names = names
        self._dtypes = dict(zip(self.meta["input_names"], self.meta.get("input_dtypes",
                                                                         ["uint8"] * len(names))))
        self._output = self._predictor.get_output_handle(self._predictor.get_output_names()[0])

    @property
    def feature_names(self) -> list[str]:
        """Batch keys of the feature inputs, e.g. ``["rgb", "audio"]``."""
        return list(self.meta["feature_names"])

    def run(self, batch: Mapping[str, np.ndarray]) -> np.ndarray:
        """Predict one collated batch.

        Args:
            batch: ``{<feature>: uint8 [B, T, D], "lengths": int64 [B]}`` (``collate_frames`` output; extra
                keys such as ``labels`` are ignored).

        Returns:
            float32 [B, num_classes] sigmoid probabilities.

        Raises:
            KeyError: the batch lacks a feature the model needs.
        """
        lengths_name = self.meta["lengths_name"]
        for name in self.input_names:
            key = "lengths" if name == lengths_name else name
            if key not in batch:
                raise KeyError(f"batch has no {key!r}; the model needs {self.meta['feature_names']} and 'lengths'")
            value = np.ascontiguousarray(np.asarray(batch[key]).astype(self._dtypes[name], copy=False))
            handle = self._predictor.get_input_handle(name)
            handle.reshape(list(value.shape))
            handle.copy_from_cpu(value)
        self._predictor.run()
        return self._output.copy_to_cpu()
