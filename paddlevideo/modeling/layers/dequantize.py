"""YouTube-8M dequantization inside the graph (uint8 codes -> float32 features).

Follows the starter code's ``utils.Dequantize`` with ``max_quantized_value=2``, ``min_quantized_value=-2``
computed in float32 (docs/youtube8m_format.md#dequantization): ``x = q * float32(4/255) + float32(4/512 - 2)``, two float32 roundings,
which reproduces TensorFlow's 256-value table bit for bit.
"""
from __future__ import annotations

from typing import List, Sequence

import paddle
from paddle.static import InputSpec

# The float32 scale ``(max - min) / 255`` and offset ``(max - min) / 512 + min`` of the numpy decoder,
# so that the graph and the file readers use one table.
from ...loader.yt8m.quantization import DEQUANT_BIAS, DEQUANT_SCALE


def dequantize(codes: paddle.Tensor) -> paddle.Tensor:
    """Turn quantized YouTube-8M features into floats.

    Args:
        codes: uint8 (or any integer / float holding 0..255) tensor of any shape, e.g. [B, T, 1024].

    Returns:
        float32 tensor of the same shape, values in [-1.9921875, 2.0078125]; bit-exact to TensorFlow's
        float32 dequantization of the same codes.
    """
    x = codes.astype("float32")
    return x * float(DEQUANT_SCALE) + float(DEQUANT_BIAS)


def frame_input_spec(feature_names: Sequence[str], feature_dims: Sequence[int],
                     dequantize_input: bool = True) -> List[InputSpec]:
    """InputSpecs of a frame-level backbone for export: one ``[None, None, D]`` tensor per modality (dynamic
    batch and time), uint8 codes when the model dequantizes them in the graph (float32 otherwise), then
    ``lengths`` int64 ``[None]`` (valid frames per video).

    Args:
        feature_names: modality names in input order; they become the exported input names.
        feature_dims: feature width of each modality.
        dequantize_input: whether the inputs are uint8 YouTube-8M codes.

    Returns:
        ``[InputSpec, ..., InputSpec(lengths)]``.
    """
    dtype = "uint8" if dequantize_input else "float32"
    specs = [InputSpec([None, None, int(d)], dtype, name=n) for n, d in zip(feature_names, feature_dims)]
    return specs + [InputSpec([None], "int64", name="lengths")]
