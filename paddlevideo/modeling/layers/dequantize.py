"""YouTube-8M dequantization inside the graph (uint8 codes -> float32 features).

Follows the starter code's ``utils.Dequantize`` with ``max_quantized_value=2``, ``min_quantized_value=-2``
computed in float32 (docs/youtube8m_format.md#dequantization): ``x = q * float32(4/255) + float32(4/512 - 2)``,
two float32 roundings, which reproduces TensorFlow's 256-value table bit for bit.
"""
from __future__ import annotations

import paddle

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

