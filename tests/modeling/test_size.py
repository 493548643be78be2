"""model_size against hand-counted models, and the size line of train.log."""
import numpy as np
import paddle

from paddlevideo.modeling.size import format_megabytes, model_size


class _Tied(paddle.nn.Layer):
    """Two Linear layers sharing one weight (counted once) plus a BatchNorm's running statistics."""

    def __init__(self):
        super().__init__()
        self.a = paddle.nn.Linear(5, 5)
        self.b = paddle.nn.Linear(5, 5, bias_attr=False)
        self.b.weight = self.a.weight
        self.bn = paddle.nn.BatchNorm1D(5)


def test_hand_counted_linear_and_batchnorm():
    model = paddle.nn.Sequential(paddle.nn.Linear(1000, 250), paddle.nn.BatchNorm1D(250))
    # Linear: 1000*250 weights + 250 biases; BatchNorm: scale, shift (trainable), running mean, variance (not)
    total = 1000 * 250 + 250 + 4 * 250
    size = model_size(model)
    assert size.parameters == total == 251_250
    assert size.trainable == 1000 * 250 + 250 + 2 * 250
    assert size.float32_bytes == 4 * total == size.stored_bytes
    assert size.describe() == "251,250 parameters (250,750 trainable), 1.0 MB (float32)"


def test_shared_weight_is_counted_once():
    size = model_size(_Tied())
    assert size.parameters == 25 + 5 + 4 * 5
    assert size.trainable == 25 + 5 + 2 * 5


def test_stored_bytes_follow_the_dtype():
    model = paddle.nn.Linear(10, 3)
    model.to(dtype="float16")
    size = model_size(model)
    assert size.parameters == 33 and size.stored_bytes == 66 and size.float32_bytes == 132


def test_megabytes_are_decimal():
    assert format_megabytes(307_149_999) == "307.1 MB" and format_megabytes(0) == "0.0 MB"
    assert format_megabytes(int(np.int64(10**9))) == "1000.0 MB"
