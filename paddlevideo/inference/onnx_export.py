"""Optional ONNX export through paddle2onnx, with the LSTM ``sequence_lens`` that paddle2onnx drops restored.

paddle2onnx (2.1.0) converts ``paddle.nn.LSTM(..., sequence_length=...)`` into an ONNX ``LSTM`` node whose
5th input ``sequence_lens`` is empty (PaddlePaddle/Paddle2ONNX#1373): full-length batches still match,
padded ones do not (the backward direction starts on padding). :func:`patch_lstm_sequence_lens` casts the
model's ``lengths`` input to int32 and wires it into every ``LSTM`` node (docs/paddle3_notes.md#onnx-export,
ONNX operator spec: ``sequence_lens`` is ``int32 [batch_size]``).

paddle2onnx, onnx and onnxruntime are optional: ``pip install paddle2onnx onnx onnxruntime``
(``pip install -e .[onnx]``).
"""
from __future__ import annotations

import logging
import os

__all__ = ["export_onnx", "patch_lstm_sequence_lens"]

_INSTALL_HINT = "ONNX export needs paddle2onnx and onnx: pip install paddle2onnx onnx onnxruntime"


def patch_lstm_sequence_lens(model, lengths_name: str) -> int:
    """Feed ``int32(lengths_name)`` as ``sequence_lens`` (input 4) to every ONNX ``LSTM`` node, in place.

    Args:
        model: an ``onnx.ModelProto`` whose graph has an input named ``lengths_name`` (int64 [B]).
        lengths_name: the graph input holding the number of valid frames per video.

    Returns:
        The number of LSTM nodes patched.

    Raises:
        ValueError: the graph has no input ``lengths_name``.
    """
    from onnx import TensorProto, helper

    graph = model.graph
    if lengths_name not in [i.name for i in graph.input]:
        raise ValueError(f"ONNX graph has no input {lengths_name!r} (inputs: {[i.name for i in graph.input]})")
    cast_out = lengths_name + "_int32_for_lstm"
    lstm_nodes = [n for n in graph.node if n.op_type == "LSTM"]
    if not lstm_nodes:
        return 0
    graph.node.insert(0, helper.make_node("Cast", [lengths_name], [cast_out], to=TensorProto.INT32,
                                          name=cast_out + "_cast"))
    for node in lstm_nodes:
        while len(node.input) < 5:
            node.input.append("")
        node.input[4] = cast_out
    return len(lstm_nodes)


def export_onnx(model_file: str, params_file: str, save_file: str, lengths_name: str = "lengths",
                opset: int = 17) -> int:
    """Convert a Paddle Inference model (PIR ``.json`` + ``.pdiparams``) to ONNX and patch its LSTMs.

    paddle2onnx runs with no graph optimiser (``optimize_tool="None"``), so polygraphy does not try to
    pip-install packages at export time; the ONNX checker still runs.

    Args:
        model_file, params_file: the exported Paddle model.
        save_file: the ``.onnx`` path to write.
        lengths_name: the model's lengths input.
        opset: ONNX opset version (LSTM with ``sequence_lens`` exists from opset 7).

    Returns:
        The number of LSTM nodes whose ``sequence_lens`` was restored.

    Raises:
        ImportError: paddle2onnx or onnx is not installed.
        RuntimeError: paddle2onnx failed (it logs its own reason) or produced no model.
    """
    try:
        import onnx
        import paddle2onnx
    except ImportError as e:
        raise ImportError(f"{_INSTALL_HINT} ({e})") from None
    logging.getLogger("paddle2onnx").setLevel(logging.ERROR)
    try:
        raw = paddle2onnx.export(model_file, params_file, save_file=None, opset_version=opset,
                                 enable_onnx_checker=True, optimize_tool="None")
    except UnboundLocalError:  # paddle2onnx logs the conversion error and then fails on its result variable
        raw = None
    if not raw:
        raise RuntimeError(f"paddle2onnx could not convert {model_file} (see the log lines above)")
    model = onnx.load_model_from_string(raw)
    patched = patch_lstm_sequence_lens(model, lengths_name)
    onnx.checker.check_model(model)
    os.makedirs(os.path.dirname(os.path.abspath(save_file)), exist_ok=True)
    onnx.save(model, save_file)
    return patched
