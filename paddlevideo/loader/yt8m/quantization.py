"""YouTube-8M 8-bit feature quantization, in numpy float32 arithmetic.

Decoder: ``x = q * (4/255) + (4/512 - 2)`` for codes ``q`` in ``0..255`` (starter code ``utils.Dequantize``
with ``max_quantized_value=2``, ``min_quantized_value=-2``; docs/youtube8m_format.md#dequantization).
Encoder: ``q = round((clip(x, -2, 2) + 2) * 255/4)`` (``feature_extractor/extract_tfrecords_main.py``
``quantize``; docs/youtube8m_format.md#dequantization).
"""
from __future__ import annotations

import numpy as np

__all__ = ["DEQUANT_SCALE", "DEQUANT_BIAS", "dequantize_numpy", "quantize_numpy"]

#: ``(max - min) / 255`` as TensorFlow uses it: the Python float cast to float32.
DEQUANT_SCALE = np.float32(4.0 / 255.0)
#: ``(max - min) / 512 + min`` = -1.9921875, exactly representable in float32.
DEQUANT_BIAS = np.float32(4.0 / 512.0 - 2.0)
_QUANT_SCALE = np.float32(255.0 / 4.0)  # 63.75, exact in float32
_QUANT_MIN = np.float32(-2.0)
_QUANT_MAX = np.float32(2.0)


def dequantize_numpy(q: np.ndarray) -> np.ndarray:
    """Map uint8 YouTube-8M codes to float32 features, bit-exactly as TensorFlow does.

    Args:
        q: ``np.uint8`` array of any shape (e.g. ``[T, 1024]`` rgb or ``[T, 128]`` audio codes).

    Returns:
        ``np.float32`` array of the same shape: ``float32(q) * float32(4/255) + float32(-1.9921875)``
        with a float32 rounding after the multiply and after the add (no fused multiply-add),
        in ``[-1.9921875, 2.0078125]``. This is the table TF's float32 graph produces; computing
        in float64 and casting (as PaddleVideo's ``FeatureDecoder`` does) differs by 1 ulp for
        207 of the 256 codes (docs/youtube8m_format.md#dequantization).

    Raises:
        TypeError: ``q`` is not a ``uint8`` array.

    Source: YouTube-8M starter code ``utils.Dequantize``; docs/youtube8m_format.md#dequantization.
    """
    q = np.asarray(q)
    if q.dtype != np.uint8:
        raise TypeError(f"dequantize_numpy expects uint8 codes, got dtype {q.dtype}")
    x = q.astype(np.float32)
    x *= DEQUANT_SCALE
    x += DEQUANT_BIAS
    return x


def quantize_numpy(x: np.ndarray) -> np.ndarray:
    """Quantize float features to uint8 codes with the YouTube-8M encoder's formula.

    Args:
        x: real-valued array of any shape (e.g. ``[T, 1024]``); converted to float32 first, as
            the encoder asserts float32 input.

    Returns:
        ``np.uint8`` array of the same shape: ``round((clip(x, -2, 2) + 2) * 63.75)`` computed
        in float32, rounding halves to even (Python's ``round`` on numpy floats, which the
        encoder uses). ``quantize_numpy(dequantize_numpy(q)) == q`` for every code.

    Raises:
        ValueError: ``x`` contains NaN (it has no code).

    Source: YouTube-8M ``feature_extractor/extract_tfrecords_main.py`` ``quantize``;
    docs/youtube8m_format.md#dequantization.
    """
    x = np.asarray(x, dtype=np.float32)
    if np.isnan(x).any():
        raise ValueError("quantize_numpy: input contains NaN")
    y = np.clip(x, _QUANT_MIN, _QUANT_MAX)
    y = (y - _QUANT_MIN) * _QUANT_SCALE
    return np.rint(y).astype(np.uint8)
