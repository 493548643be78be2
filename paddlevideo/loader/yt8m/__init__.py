"""YouTube-8M TFRecord and PaddleVideo pkl reading and writing without TensorFlow.

Imports only; nothing runs at import time and PaddlePaddle is not imported.
"""
from .errors import BadPklError, CorruptRecordError, DataError, DataReadError, RecordTypeError, UnsafePickleError
from .pkl import load_pickle, read_pkl
from .quantization import dequantize_numpy, quantize_numpy
from .reader import read_tfrecord, write_tfrecord
from .tfrecord import iter_records

__all__ = [
    "BadPklError",
    "CorruptRecordError",
    "DataError",
    "DataReadError",
    "RecordTypeError",
    "UnsafePickleError",
    "load_pickle",
    "read_pkl",
    "dequantize_numpy",
    "iter_records",
    "quantize_numpy",
    "read_tfrecord",
    "write_tfrecord",
]
