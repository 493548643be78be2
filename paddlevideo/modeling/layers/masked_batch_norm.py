"""Batch normalisation over the valid time steps of padded sequences."""
from __future__ import annotations

import paddle
import paddle.nn as nn


class MaskedBatchNorm1D(nn.Layer):
    """Batch norm of ``x`` float32 [B, C, T] per channel C, with statistics taken over the valid steps only.

    ``paddle.nn.BatchNorm1D`` would count padded frames in the batch statistics, so the output of a
    video would depend on how much the other videos of its batch are padded. Here, in training the mean
    and the (biased) variance of channel c are over ``{(b, t): mask[b, t]}``; the running statistics are
    updated as ``running = momentum * running + (1 - momentum) * batch`` (Paddle's convention). In eval
    mode the running statistics are used, as in ``BatchNorm1D``. Padded steps are normalised too (so the
    shape is kept) but never influence valid ones.

    Args:
        num_channels: C.
        momentum: weight of the old running statistics (Paddle default 0.9).
        epsilon: added to the variance.

    Inputs: ``x`` float32 [B, C, T]; ``mask`` bool [B, T] (True = valid). Output: float32 [B, C, T].
    """

    def __init__(self, num_channels: int, momentum: float = 0.9, epsilon: float = 1e-5) -> None:
        super().__init__()
        self.num_channels = int(num_channels)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.weight = self.create_parameter([self.num_channels], default_initializer=nn.initializer.Constant(1.0))
        self.bias = self.create_parameter([self.num_channels], is_bias=True,
                                          default_initializer=nn.initializer.Constant(0.0))
        self.register_buffer("_mean", paddle.zeros([self.num_channels], "float32"))
        self.register_buffer("_variance", paddle.ones([self.num_channels], "float32"))

    def forward(self, x: paddle.Tensor, mask: paddle.Tensor) -> paddle.Tensor:
        """Normalise ``x`` [B, C, T] using the valid steps of ``mask`` [B, T]; returns [B, C, T]."""
        if self.training:
            m = mask.astype(x.dtype).unsqueeze(1)                          # [B, 1, T]
            count = paddle.clip(paddle.sum(m), min=1.0)
            mean = paddle.sum(x * m, axis=[0, 2]) / count                   # [C]
            centred = x - mean.reshape([1, -1, 1])
            var = paddle.sum(centred * centred * m, axis=[0, 2]) / count
            with paddle.no_grad():
                paddle.assign(self.momentum * self._mean + (1.0 - self.momentum) * mean.detach(), self._mean)
                paddle.assign(self.momentum * self._variance + (1.0 - self.momentum) * var.detach(),
                              self._variance)
        else:
            mean, var = self._mean, self._variance
            centred = x - mean.reshape([1, -1, 1])
        scale = self.weight / paddle.sqrt(var + self.epsilon)
        return centred * scale.reshape([1, -1, 1]) + self.bias.reshape([1, -1, 1])
