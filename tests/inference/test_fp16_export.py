"""``export_model(precision="fp16")`` / ``tools/export_model.py --precision fp16``: float16 weights on disk, float32
compute, runs in the CPU predictor. The ``.pdiparams`` is read here with a reader of its own (Paddle's
``save_combine`` layout: per tensor a version, LoD, a ``TensorDesc`` protobuf and the raw values), not Paddle's loader;
the predictions are checked against the eager model whose weights were rounded to float16 by numpy."""
import re
import struct

import numpy as np
import paddle
import pytest
import yaml
from inference_helpers import TINY_CFG, random_videos
from test_tools import run

from paddlevideo.inference.export import build_eval_model, export_model
from paddlevideo.inference.predictor import Predictor
from paddlevideo.loader.pipelines import collate_frames

#: ``VarType.Type`` codes of framework.proto and their item sizes.
PROTO_DTYPES = {4: ("float16", 2), 5: ("float32", 4), 6: ("float64", 8), 2: ("int32", 4), 3: ("int64", 8)}


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, i


def read_pdiparams(path) -> list[tuple[str, list[int], int]]:
    """``(dtype, dims, bytes of values)`` of every tensor of a combined ``.pdiparams``, and it must end exactly."""
    buf = open(path, "rb").read()
    i, out = 0, []
    while i < len(buf):
        i += 4                                            # uint32 version
        (lod_levels,) = struct.unpack_from("<Q", buf, i)
        i += 8
        for _ in range(lod_levels):
            (n,) = struct.unpack_from("<Q", buf, i)
            i += 8 + n
        i += 4                                            # uint32 tensor version
        (desc_size,) = struct.unpack_from("<i", buf, i)
        i += 4
        desc, i = buf[i:i + desc_size], i + desc_size
        j, dtype, dims = 0, None, []
        while j < len(desc):
            key, j = _varint(desc, j)
            field, wire = key >> 3, key & 7
            if field == 1:
                dtype, j = _varint(desc, j)
            elif field == 2 and wire == 0:
                d, j = _varint(desc, j)
                dims.append(d)
            elif field == 2 and wire == 2:
                n, j = _varint(desc, j)
                end = j + n
                while j < end:
                    d, j = _varint(desc, j)
                    dims.append(d)
        name, item = PROTO_DTYPES[dtype]
        nbytes = int(np.prod(dims, dtype=np.int64)) * item
        out.append((name, dims, nbytes))
        i += nbytes
    assert i == len(buf)
    return out


@pytest.fixture(scope="module")
def both(tmp_path_factory, tiny_weights):
    d = tmp_path_factory.mktemp("fp16")
    return (export_model(TINY_CFG, str(d / "fp32"), weights=tiny_weights),
            export_model(TINY_CFG, str(d / "fp16"), weights=tiny_weights, precision="fp16"))


def test_fp16_pdiparams_holds_float16_tensors_of_half_the_bytes(both):
    fp32, fp16 = both
    t32, t16 = read_pdiparams(fp32.params_file), read_pdiparams(fp16.params_file)
    assert sorted(dims for _, dims, _ in t16) == sorted(dims for _, dims, _ in t32)   # same tensors, any order
    assert {dtype for dtype, _, _ in t32} == {"float32"} and {dtype for dtype, _, _ in t16} == {"float16"}
    assert sum(b for _, _, b in t16) * 2 == sum(b for _, _, b in t32)
    # the file is the values plus a small header per tensor
    assert fp16.params_bytes < 0.5 * fp32.params_bytes + 64 * len(t16)
    # every value of the model is in the file: the size helper counts the same
    assert sum(int(np.prod(d)) for _, d, _ in t16) == fp16.size.parameters
    assert fp16.meta["weights_dtype"] == "float16" and fp32.meta["weights_dtype"] == "float32"
    assert "(float16 weights)" in fp16.describe_size() and "(float32 weights)" in fp32.describe_size()


def test_fp16_predictor_equals_eager_model_with_float16_rounded_weights(both, tiny_weights):
    fp32, fp16 = both
    batch = collate_frames(random_videos([12, 4, 1, 9], seed=3))
    got16 = Predictor(fp16.model_file, fp16.params_file).run(batch)
    got32 = Predictor(fp32.model_file, fp32.params_file).run(batch)
    # second implementation: the eager model with every weight rounded through numpy's float16
    model = build_eval_model(TINY_CFG["MODEL"], tiny_weights)
    model.set_state_dict({k: paddle.to_tensor(v.numpy().astype(np.float16).astype(np.float32))
                          for k, v in model.state_dict().items()})
    with paddle.no_grad():
        eager = model.infer_forward(*(paddle.to_tensor(batch[k]) for k in ("rgb", "audio", "lengths"))).numpy()
    assert got16.dtype == np.float32 and got16.shape == (4, 10)
    np.testing.assert_allclose(got16, eager, rtol=0, atol=1e-5)
    # and fp16 vs fp32 stays within the documented tolerance, yet differs (the weights were really rounded)
    diff = float(np.abs(got16 - got32).max())
    assert 0 < diff <= 1e-3


def test_cli_fp16_prints_sizes(tmp_path, tiny_weights):
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(TINY_CFG))
    r = run("tools/export_model.py", "-c", str(cfg), "-p", tiny_weights, "-o", str(tmp_path / "out"),
            "--precision", "fp16")
    assert r.returncode == 0, r.stderr
    size_lines = [line for line in r.stdout.splitlines() if line.startswith("model size:")]
    params = tmp_path / "out" / "TinyAttentionLSTM.pdiparams"
    # the values in the file (the LSTM's weights appear twice in state_dict() under two names, once in the file)
    n = sum(int(np.prod(dims)) for _, dims, _ in read_pdiparams(params))
    model = build_eval_model(TINY_CFG["MODEL"], tiny_weights)
    trainable = sum(int(np.prod(p.shape)) for p in model.parameters() if not p.stop_gradient)
    assert size_lines == [f"model size: {n:,} parameters ({trainable:,} trainable), {4 * n / 1e6:.1f} MB (float32); "
                          f"written TinyAttentionLSTM.pdiparams: {params.stat().st_size / 1e6:.1f} MB "
                          "(float16 weights)"]


def test_cli_bad_precision_is_one_error_line_and_writes_nothing(tmp_path, tiny_weights):
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(TINY_CFG))
    out = tmp_path / "out"
    r = run("tools/export_model.py", "-c", str(cfg), "-p", tiny_weights, "-o", str(out), "--precision", "bf16")
    assert r.returncode == 2
    assert r.stderr.splitlines() == ["error: --precision 'bf16' is not one of fp32, fp16"]
    assert r.stdout == "" and not out.exists()


def test_library_refuses_unknown_precision_before_writing(tmp_path, tiny_weights):
    with pytest.raises(ValueError, match="unknown precision 'int8'; valid: fp32, fp16"):
        export_model(TINY_CFG, str(tmp_path / "x"), weights=tiny_weights, precision="int8")
    assert not (tmp_path / "x").exists()


def test_weight_beyond_float16_range_is_refused_by_name(tmp_path, tiny_weights):
    state = paddle.load(tiny_weights)
    key = "head.fcs.0.weight" if "head.fcs.0.weight" in state else sorted(state)[-1]
    big = state[key].numpy()
    big[0, 0] = 1e6
    state[key] = paddle.to_tensor(big)
    path = str(tmp_path / "big.pdparams")
    paddle.save(state, path)
    with pytest.raises(ValueError, match=rf"big\.pdparams: parameter {re.escape(key)} \(\S+\) holds 1e\+06, beyond the "
                                         r"float16 range \(\+-65504\); export it with --precision fp32$"):
        export_model(TINY_CFG, str(tmp_path / "out"), weights=path, precision="fp16")
    assert not (tmp_path / "out" / "TinyAttentionLSTM.json").exists()
