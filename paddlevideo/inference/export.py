"""Export a trained recognizer as a static Paddle Inference model (PIR ``.json`` + ``.pdiparams``).

The model owns its inputs: ``model.input_spec()`` gives one ``InputSpec([None, None, D], uint8)`` per
modality (dynamic batch and time) and ``lengths`` int64 ``[None]``; ``model.infer_forward`` maps them to
sigmoid probabilities float32 ``[B, num_classes]``. Nothing here knows a model by name.

Files written to ``output_dir`` (prefix = ``model_name`` of the config):

* ``<prefix>.json`` / ``<prefix>.pdiparams``: the program and weights from ``paddle.jit.save`` (PIR;
  the legacy ``.pdmodel`` format cannot hold ``nn.LSTM``, docs/paddle3_notes.md#export-pir-json-and-pdiparams);
* ``<prefix>.inference.yaml``: what the predictor needs (input names, dims, dtypes, ``max_frames``,
  ``num_classes``), see :func:`inference_meta_path`;
* optionally ``<prefix>.onnx`` (:mod:`paddlevideo.inference.onnx_export`).

With ``precision="fp16"`` the weights are stored in float16 and the program computes in float32
(:mod:`paddlevideo.inference.fp16`): half the ``.pdiparams``, and the CPU predictor runs it.

Follows ``paddle.jit.to_static(..., full_graph=True)`` + ``paddle.jit.save`` as verified in
docs/paddle3_notes.md#export-pir-json-and-pdiparams.
"""
from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import paddle
import paddle.nn as nn
import yaml

from ..loader.pipelines import inference_steps
from ..modeling import build_model
from ..modeling.size import ModelSize, model_size
from ..utils.checkpoint import load_weights

__all__ = ["EXPORT_PRECISIONS", "ExportError", "ExportResult", "InferenceModule", "build_eval_model", "export_model",
           "inference_meta_path", "prepare_output_dir", "read_inference_meta", "dummy_inputs"]

#: Tolerance of the export self-check (static program vs eager model on a padded dummy batch).
SELF_CHECK_ATOL = 1e-5
#: Tolerance of the self-check of a ``precision="fp16"`` export (float16-rounded weights, float32 compute):
#: probabilities within 1e-2 of the eager float32 model. Measured differences are in docs/inference.md.
FP16_SELF_CHECK_ATOL = 1e-2
#: ``precision`` values of :func:`export_model` and the dtype the weights are stored in.
EXPORT_PRECISIONS = {"fp32": "float32", "fp16": "float16"}


class ExportError(RuntimeError):
    """Export failed or the exported program does not reproduce the eager model (message says which)."""


class InferenceModule(nn.Layer):
    """Wraps a recognizer so that ``forward(features, lengths)`` is its ``infer_forward``.

    ``paddle.jit.save`` traces ``forward``; the recognizer's own ``forward`` takes a batch dict, and
    dy2static cannot trace ``*args``, so the exported entry point takes the list of modality tensors
    (a nested InputSpec, flattened into named program inputs ``rgb, audio, ..., lengths``) and the
    lengths. Output: probabilities float32 [B, C].
    """

    def __init__(self, model: nn.Layer) -> None:
        super().__init__()
        self.model = model

    def forward(self, features: list[paddle.Tensor], lengths: paddle.Tensor) -> paddle.Tensor:
        """``([uint8 [B, T, D_m] per modality], lengths int64 [B]) -> probs float32 [B, C]``."""
        return self.model.infer_forward(*features, lengths)


@dataclass
class ExportResult:
    """Paths written by :func:`export_model` and the figures of its self-check."""

    model_file: str
    params_file: str
    meta_file: str
    meta: dict[str, Any]
    self_check_max_abs_diff: float
    onnx_file: str | None = None
    size: ModelSize | None = None
    params_bytes: int = 0
    precision: str = "fp32"

    def describe_size(self) -> str:
        """``model size: <count> parameters (...), <MB> (float32); written <file>: <MB> (<dtype> weights)``."""
        from ..modeling.size import format_megabytes

        head = f"model size: {self.size.describe()}; " if self.size is not None else ""
        return (f"{head}written {os.path.basename(self.params_file)}: {format_megabytes(self.params_bytes)} "
                f"({EXPORT_PRECISIONS[self.precision]} weights)")


def build_eval_model(model_cfg: Mapping[str, Any], weights: str | None = None) -> nn.Layer:
    """Build the recognizer of a ``MODEL`` config section, load ``weights`` (strictly; PaddleVideo
    checkpoints are converted, see :mod:`paddlevideo.modeling.compat`) and switch to eval mode.

    Raises:
        CheckpointError: unreadable weights or a parameter that does not fit (named).
        KeyError / ValueError: an unknown component or option in the config.
    """
    model = build_model(model_cfg)
    if weights:
        load_weights(model, weights)
    model.eval()
    return model


def dummy_inputs(specs: list[paddle.static.InputSpec], batch: int = 2, frames: int = 3,
                 seed: int = 0) -> list[np.ndarray]:
    """Random inputs matching ``specs``: dynamic dims become ``batch`` (axis 0) and ``frames`` (others).

    The last spec is the lengths vector; it gets ``frames, 1, frames, 1, ...`` so the batch is padded.
    Returns numpy arrays (uint8 features in 0..255, int64 lengths).
    """
    rng = np.random.default_rng(seed)
    arrays = []
    for spec in specs[:-1]:
        shape = [batch if i == 0 else frames if d is None or d < 0 else int(d) for i, d in enumerate(spec.shape)]
        dtype = np.dtype(str(spec.dtype).replace("paddle.", ""))
        if np.issubdtype(dtype, np.integer):
            arrays.append(rng.integers(0, 256, size=shape).astype(dtype))
        else:
            arrays.append(rng.standard_normal(shape).astype(dtype))
    arrays.append(np.array([frames if i % 2 == 0 else 1 for i in range(batch)], dtype=np.int64))
    return arrays


def inference_meta_path(model_file: str) -> str:
    """``<dir>/<prefix>.inference.yaml`` for ``<dir>/<prefix>.json`` (or any model file extension)."""
    return os.path.splitext(model_file)[0] + ".inference.yaml"


def read_inference_meta(model_file: str) -> dict[str, Any]:
    """Read the inference description written next to ``model_file`` by :func:`export_model`.

    Returns:
        dict with ``model_name``, ``feature_names``, ``feature_dims``, ``input_names``, ``input_dtypes``,
        ``lengths_name``, ``max_frames``, ``num_classes``, ``output`` and (from this version on)
        ``pipeline``: the evaluation pipeline's steps that need no labels, applied by predict.

    Raises:
        FileNotFoundError: the file is missing (the model was not exported by this package's tool).
        ValueError: the file is not a mapping with the keys above.
    """
    path = inference_meta_path(model_file)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} not found: export the model with tools/export_model.py, which writes "
                                "it next to the .json model")
    with open(path, encoding="utf-8") as f:
        meta = yaml.safe_load(f)
    required = ("model_name", "feature_names", "feature_dims", "input_names", "lengths_name", "max_frames",
                "num_classes")
    if not isinstance(meta, Mapping) or any(k not in meta for k in required):
        raise ValueError(f"{path}: not an inference description; it needs the keys {', '.join(required)}")
    return dict(meta)


def prepare_output_dir(output_dir: str) -> None:
    """Create ``output_dir`` (and its parents) and make sure files can be written in it.

    Raises:
        ExportError: ``output_dir`` (or one of its parents) is a file, or the directory cannot be created or
            written (permission, read-only file system, disk full); one line naming the directory.
    """
    path = os.path.abspath(output_dir)
    probe = path
    while probe and not os.path.exists(probe):
        probe = os.path.dirname(probe)
    if probe and not os.path.isdir(probe):
        what = "is a file" if probe == path else f"cannot be created: {probe} is a file"
        raise ExportError(f"output directory {output_dir} {what} (-o/--output_path takes a directory)")
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as e:
        raise ExportError(f"output directory {output_dir} cannot be written ({e.strerror or e})") from None


def _test_pipeline(cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The config's evaluation pipeline (``PIPELINE.test``, else ``PIPELINE.valid``), as plain dicts."""
    pipelines = cfg.get("PIPELINE") or {}
    steps = pipelines.get("test") or pipelines.get("valid") or []
    return [dict(step) for step in steps]


def _max_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))) if a.size else 0.0


def export_model(cfg: Mapping[str, Any], output_dir: str, weights: str | None = None,
                 onnx: bool = False, onnx_opset: int = 17, precision: str = "fp32") -> ExportResult:
    """Export the model of ``cfg`` (with ``weights``) for Paddle Inference.

    Args:
        cfg: the full config (``model_name``, ``MODEL``, optional ``INFERENCE.max_frames``, default 300).
        output_dir: directory for the files (created; checked before the model is built).
        weights: ``.pdparams`` of this package or of PaddleVideo's AttentionLSTM; None exports the
            randomly initialised model (for benchmarks and tests).
        onnx: also write ``<prefix>.onnx`` through paddle2onnx, with the LSTM ``sequence_lens`` patched
            (see :mod:`paddlevideo.inference.onnx_export`).
        onnx_opset: ONNX opset version.
        precision: ``fp32`` (default) or ``fp16``: weights stored in float16, computation in float32
            (:func:`paddlevideo.inference.fp16.convert_weights_to_fp16`); the ONNX file is then made from the
            float16-weight program too.

    Returns:
        :class:`ExportResult` (with the model's :class:`~paddlevideo.modeling.size.ModelSize` and the bytes of
        the written ``.pdiparams``). Before returning, the saved program is loaded back with ``paddle.jit.load``
        and run on a padded dummy batch; its probabilities must equal the eager model's within 1e-5
        (:data:`FP16_SELF_CHECK_ATOL` for fp16).

    Raises:
        ValueError: unknown ``precision`` (before any work).
        ExportError: ``output_dir`` is a file or cannot be written (before any work), the self-check fails,
            or the ONNX conversion fails.
        CheckpointError / ValueError / KeyError: bad weights or config.
        ImportError: ``onnx=True`` without paddle2onnx / onnx installed (message names the pip command).
    """
    if precision not in EXPORT_PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; valid: {', '.join(EXPORT_PRECISIONS)}")
    model_name = str(cfg["model_name"])
    prepare_output_dir(output_dir)
    model = build_eval_model(cfg["MODEL"], weights)
    specs = model.input_spec()
    wrapper = InferenceModule(model)
    wrapper.eval()
    prefix = os.path.join(output_dir, model_name)
    model_file, params_file = prefix + ".json", prefix + ".pdiparams"
    inputs = dummy_inputs(specs)
    tensors = [paddle.to_tensor(a) for a in inputs]
    with paddle.no_grad():
        eager = model.infer_forward(*tensors).numpy()
    with tempfile.TemporaryDirectory(prefix=".export-", dir=output_dir) as tmp:
        fp32_prefix = prefix if precision == "fp32" else os.path.join(tmp, model_name)
        # dy2static's harmless "Tensor do not have 'place'" (docs/paddle3_notes.md#console-noise)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Tensor do not have 'place'")
            static = paddle.jit.to_static(wrapper, input_spec=[list(specs[:-1]), specs[-1]], full_graph=True)
            paddle.jit.save(static, fp32_prefix)
        diff = _self_check(fp32_prefix, tensors, eager, SELF_CHECK_ATOL)
        if precision == "fp16":
            from .fp16 import convert_weights_to_fp16

            convert_weights_to_fp16(fp32_prefix, prefix, source=weights or "the random weights",
                                    param_names={p.name: k for k, p in model.named_parameters()})
            diff = _self_check(prefix, tensors, eager, FP16_SELF_CHECK_ATOL)

    meta = {
        "model_name": model_name,
        "feature_names": [s.name for s in specs[:-1]],
        "feature_dims": [int(s.shape[-1]) for s in specs[:-1]],
        "input_names": [s.name for s in specs],
        "input_dtypes": [str(s.dtype).replace("paddle.", "") for s in specs],
        "lengths_name": specs[-1].name,
        "max_frames": int((cfg.get("INFERENCE") or {}).get("max_frames", 300)),
        "num_classes": int(eager.shape[1]),
        "output": "probabilities float32 [batch, num_classes] (independent per class, multi-label)",
        "pipeline": inference_steps(_test_pipeline(cfg)),
        "model_file": os.path.basename(model_file),
        "params_file": os.path.basename(params_file),
        "weights_dtype": EXPORT_PRECISIONS[precision],
    }
    onnx_file = None
    if onnx:
        from .onnx_export import export_onnx

        onnx_file = prefix + ".onnx"
        export_onnx(model_file, params_file, onnx_file, lengths_name=meta["lengths_name"], opset=onnx_opset)
        meta["onnx_file"] = os.path.basename(onnx_file)
    meta_file = inference_meta_path(model_file)
    with open(meta_file, "w", encoding="utf-8") as f:
        yaml.safe_dump(meta, f, sort_keys=False)
    return ExportResult(model_file, params_file, meta_file, meta, diff, onnx_file, size=model_size(model),
                        params_bytes=os.path.getsize(params_file), precision=precision)


def _self_check(prefix: str, tensors: list[paddle.Tensor], eager: np.ndarray, atol: float) -> float:
    """Load ``<prefix>.json`` with ``paddle.jit.load``, run it on ``tensors`` and compare with ``eager``.

    Returns:
        The largest absolute difference of the probabilities.

    Raises:
        ExportError: the files are missing, or the shapes differ or the difference exceeds ``atol``.
    """
    model_file, params_file = prefix + ".json", prefix + ".pdiparams"
    if not (os.path.isfile(model_file) and os.path.isfile(params_file)):
        raise ExportError(f"paddle.jit.save did not write {model_file} and {params_file}")
    with paddle.no_grad():
        loaded = paddle.jit.load(prefix)
        loaded.eval()
        static_out = loaded(*tensors).numpy()  # the loaded program takes the flattened inputs
    diff = _max_abs_diff(eager, static_out)
    if eager.shape != static_out.shape or not diff <= atol:
        raise ExportError(f"{model_file}: the exported program gives {static_out.shape} probabilities differing by "
                          f"{diff:.3g} from the eager model {eager.shape} (tolerance {atol})")
    return diff
