"""YouTube-8M TFRecord reading and writing without TensorFlow.

Imports only; nothing runs at import time and PaddlePaddle is not imported.
"""
from .errors import CorruptRecordError
from .quantization import dequantize_numpy, quantize_numpy
from .reader import read_tfrecord, write_tfrecord
from .tfrecord import iter_records

__all__ = [
    "CorruptRecordError",
    "dequantize_numpy",
    "iter_records",
    "quantize_numpy",
    "read_tfrecord",
    "write_tfrecord",
]
