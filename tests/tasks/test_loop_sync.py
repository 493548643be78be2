"""The training step reads the loss on the host only at check steps: every step on CPU, every
log_interval steps on other devices (a host read stalls a GPU queue); a NaN is still caught."""
from __future__ import annotations

import numpy as np
import paddle
import pytest

from paddlevideo.tasks import loop


class _Net(paddle.nn.Layer):
    """loss = w * x.mean(); ``x`` NaN from batch ``nan_at`` (1-based) on."""

    def __init__(self):
        super().__init__()
        self.w = self.create_parameter([1], default_initializer=paddle.nn.initializer.Constant(1.0))

    def forward(self, batch, mode):
        return {"loss": (self.w * batch["x"].mean()).sum()}


def _batches(n, nan_at=None):
    out = []
    for i in range(1, n + 1):
        x = np.full((2, 3), np.nan if nan_at and i >= nan_at else 1.0, np.float32)
        out.append({"x": paddle.to_tensor(x), "lengths": paddle.to_tensor(np.array([3, 3], np.int64))})
    return out


def _run(batches, monkeypatch, device, log_interval=4):
    monkeypatch.setattr(loop.paddle, "get_device", lambda: device)
    reads = []
    real_item = paddle.Tensor.item

    def counting_item(self, *a):
        reads.append(1)
        return real_item(self, *a)

    monkeypatch.setattr(paddle.Tensor, "item", counting_item)
    net = _Net()
    opt = paddle.optimizer.SGD(0.1, parameters=net.parameters())
    ctx = loop.EpochContext(net, batches, None, opt, log_interval=log_interval)
    result = loop.train_one_epoch(ctx, 1, 0, "ckpt")
    return result, len(reads)


def test_gpu_style_device_reads_loss_only_every_log_interval(monkeypatch):
    result, reads = _run(_batches(8), monkeypatch, "gpu:0")
    assert result["steps"] == 8
    assert reads == 2 * 2                      # steps 4 and 8: the loss and the NaN flag, nothing else


def test_cpu_reads_every_step(monkeypatch):
    _, reads = _run(_batches(8), monkeypatch, "cpu")
    assert reads == 8 * 2


@pytest.mark.parametrize("device,needle", [("cpu", "epoch 1 step 3 "), ("gpu:0", "one of the 4 steps up to step 4")])
def test_nan_is_caught_on_both(monkeypatch, device, needle):
    with pytest.raises(loop.TrainingDiverged, match=needle):
        _run(_batches(6, nan_at=3), monkeypatch, device)


def test_nan_in_the_last_steps_is_caught_at_the_end_of_the_epoch(monkeypatch):
    with pytest.raises(loop.TrainingDiverged, match="up to step 6"):
        _run(_batches(6, nan_at=6), monkeypatch, "gpu:0")
