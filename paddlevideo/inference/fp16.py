"""Store an exported model's weights in float16 and compute in float32: half the ``.pdiparams``, runs on CPU.

Paddle 3.3 offers two half-precision routes, and neither gives a model the CPU predictor can run
(docs/inference.md#float16-weights):

* ``paddle.inference.convert_to_mixed_precision`` refuses ``PlaceType.CPU`` ("mixed_precision currently not
  supported place GPU or XPU or CUSTOM, not support CPU") and needs a CUDA build for ``PlaceType.GPU``;
* a model cast with ``model.to(dtype="float16")`` computes in float16, and the CPU build has no float16
  kernels for ``matmul``, ``add`` or ``sigmoid``.

:func:`convert_weights_to_fp16` therefore rewrites the exported PIR program instead: every float32
``builtin.parameter`` becomes float16 and feeds a ``cast`` to float32 that takes its place for all former
users, and the weights are written as float16. The computation is the float32 program's; only the stored
weights are rounded to float16 (11-bit significand, relative error <= 2**-11; values above 65504 become inf,
which :func:`convert_weights_to_fp16` refuses). Paddle Inference and ``paddle.jit.load`` run the result on CPU
(and on GPU, where the casts are cheap).
"""
from __future__ import annotations

import os
import warnings
from collections.abc import Mapping

import numpy as np

__all__ = ["FP16_MAX", "convert_weights_to_fp16"]

#: Largest finite float16 value; a weight beyond it cannot be stored in float16.
FP16_MAX = float(np.finfo(np.float16).max)


def convert_weights_to_fp16(src_prefix: str, dst_prefix: str, source: str | None = None,
                            param_names: Mapping[str, str] | None = None) -> int:
    """Write ``<dst_prefix>.json`` / ``.pdiparams``: the program of ``<src_prefix>`` with float16-stored weights.

    Args:
        src_prefix: an exported float32 model (``paddle.jit.save`` output, PIR ``.json`` + ``.pdiparams``).
        dst_prefix: where to write the converted model (its directory must exist; may not equal ``src_prefix``).
        source: how error messages name the weights (default ``<src_prefix>.pdiparams``).
        param_names: ``{program parameter name: state_dict key}`` for error messages (e.g. from the eager model's
            ``named_parameters()``); without it messages give the program's names (``linear_0.w_0``).

    Returns:
        The number of parameters converted (float32 ones; parameters of other dtypes are kept as they are).

    Raises:
        ValueError: ``dst_prefix`` equals ``src_prefix``, or a weight's magnitude exceeds the float16 range
            (the message names the parameter and its largest value).
    """
    import paddle
    import paddle.pir as pir

    if os.path.abspath(src_prefix) == os.path.abspath(dst_prefix):
        raise ValueError(f"convert_weights_to_fp16: destination {dst_prefix} must differ from the source")
    was_dynamic = paddle.in_dynamic_mode()
    paddle.enable_static()
    try:
        place = paddle.CPUPlace()
        exe = paddle.static.Executor(place)
        scope = paddle.static.Scope()
        with paddle.static.scope_guard(scope), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Tensor do not have 'place'")
            program, feed_names, fetch_values = paddle.static.load_inference_model(src_prefix, exe)
            block = program.global_block()
            converted = 0
            with paddle.static.program_guard(program):
                for op in [o for o in block.ops if o.name() == "builtin.parameter"]:
                    value = op.result(0)
                    if value.dtype != paddle.float32:
                        continue
                    name = op.attrs()["parameter_name"]
                    tensor = scope.find_var(name).get_tensor()
                    weights = np.array(tensor)
                    peak = float(np.max(np.abs(weights))) if weights.size else 0.0
                    if not peak <= FP16_MAX:
                        shown = f"{param_names[name]} ({name})" if param_names and name in param_names else name
                        raise ValueError(f"{source or src_prefix + '.pdiparams'}: parameter {shown} holds {peak:.6g}, "
                                         f"beyond the float16 range (+-{FP16_MAX:g}); export it with --precision fp32")
                    pir.set_insertion_point_after(op)
                    probe = paddle.cast(value, "float16")       # only to obtain the float16 tensor type
                    value.set_type(probe.type())
                    block.remove_op(probe.get_defining_op())
                    as_fp32 = paddle.cast(value, "float32")
                    value.replace_all_uses_with(as_fp32)
                    as_fp32.get_defining_op().operand(0).set_source(value)
                    tensor.set(weights.astype(np.float16), place)
                    converted += 1
            inputs = {o.attrs()["name"]: o.result(0) for o in block.ops if o.name() == "pd_op.data"}
            missing = [n for n in feed_names if n not in inputs]
            if missing:
                raise ValueError(f"{src_prefix}.json: program inputs {missing} not found among {sorted(inputs)}")
            paddle.static.save_inference_model(dst_prefix, [inputs[n] for n in feed_names], fetch_values, exe,
                                               program=program)
        return converted
    finally:
        if was_dynamic:
            paddle.disable_static()
