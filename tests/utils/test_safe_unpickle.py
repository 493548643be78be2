"""The checkpoint allow-list unpickler: real Paddle files load as ``paddle.load`` reads them; anything
else is refused by name without running or allocating anything the file does not hold."""
from __future__ import annotations

import collections
import os
import pickle
import struct
import subprocess
import sys
import textwrap

import numpy as np
import paddle
import pytest

from paddlevideo.utils import safe_unpickle
from paddlevideo.utils.checkpoint import CheckpointError, load_pickle_state, load_state, read_pickle_file
from paddlevideo.utils.safe_unpickle import UnsafePickleError, safe_loads

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SYSTEM = f"{os.system.__module__}.system"  # posix.system on Linux


class RunsCommand:
    """Pickles as a call of os.system (what a crafted checkpoint does)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def assert_same_as_paddle_load(path):
    """load_state gives exactly what paddle.load(return_numpy=True) gives (names, dtypes, shapes, bytes)."""
    ours = load_state(path)
    ref = paddle.load(path, return_numpy=True)
    assert sorted(ours) == sorted(ref)
    for k, v in ref.items():
        if isinstance(v, np.ndarray):
            assert isinstance(ours[k], np.ndarray) and ours[k].dtype == v.dtype and ours[k].shape == v.shape, k
            assert ours[k].tobytes() == v.tobytes(), k
        else:
            assert ours[k] == v, k
    return ours


@pytest.mark.parametrize("protocol", [2, 3, 4])
def test_state_dict_of_several_dtypes_loads_as_paddle_load(tmp_path, protocol):
    rng = np.random.default_rng(0)
    state = {
        "f32": paddle.to_tensor(rng.standard_normal((3, 4)).astype("float32")),
        "f64": paddle.to_tensor(rng.standard_normal(5)),
        "f16": paddle.to_tensor(rng.standard_normal((2, 2)).astype("float16")),
        "bf16": paddle.to_tensor(rng.standard_normal(3).astype("float32")).astype("bfloat16"),
        "i64": paddle.to_tensor(np.arange(6, dtype="int64").reshape(2, 3)),
        "i32": paddle.to_tensor(np.array([-1, 7], dtype="int32")),
        "u8": paddle.to_tensor(np.array([0, 255], dtype="uint8")),
        "bool": paddle.to_tensor(np.array([True, False])),
        "scalar": paddle.to_tensor(np.float32(2.5)),
    }
    path = str(tmp_path / "several.pdparams")
    paddle.save(state, path, protocol=protocol)
    ours = assert_same_as_paddle_load(path)
    assert ours["bf16"].dtype == np.uint16  # Paddle stores bfloat16 as its uint16 bit pattern
    np.testing.assert_array_equal(ours["f32"], state["f32"].numpy())
    assert ours["f32"].flags.writeable and ours["f32"].flags.owndata


def test_layer_weights_round_trip_into_a_model(tmp_path):
    paddle.seed(3)
    src = paddle.nn.LSTM(4, 5, direction="bidirect")
    path = str(tmp_path / "lstm.pdparams")
    paddle.save(src.state_dict(), path)
    dst = paddle.nn.LSTM(4, 5, direction="bidirect")
    dst.set_state_dict(load_state(path))
    for k, v in src.state_dict().items():
        np.testing.assert_array_equal(dst.state_dict()[k].numpy(), v.numpy(), err_msg=k)


@pytest.mark.filterwarnings("ignore:There are some unused values in state_dict")  # LinearWarmup_LR, Paddle's own
@pytest.mark.parametrize("schedule", ["piecewise", "warmup_cosine"])
def test_optimizer_state_with_lr_scheduler_loads_and_restores(tmp_path, schedule):
    def make():
        paddle.seed(1)
        layer = paddle.nn.Linear(3, 2)
        if schedule == "piecewise":
            lr = paddle.optimizer.lr.PiecewiseDecay([2, 4], [0.1, 0.01, 0.001])
        else:
            lr = paddle.optimizer.lr.LinearWarmup(paddle.optimizer.lr.CosineAnnealingDecay(0.1, 10), 3, 0.0, 0.1)
        return layer, lr, paddle.optimizer.Adam(learning_rate=lr, parameters=layer.parameters())

    layer, lr, opt = make()
    x = paddle.ones([4, 3])
    for _ in range(5):
        layer(x).sum().backward()
        opt.step()
        opt.clear_grad()
        lr.step()
    path = str(tmp_path / "opt.pdopt")
    paddle.save(opt.state_dict(), path)
    ours = assert_same_as_paddle_load(path)
    assert ours["LR_Scheduler"]["last_epoch"] == 5
    _, lr2, opt2 = make()
    opt2.set_state_dict(ours)
    assert opt2.get_lr() == opt.get_lr() and lr2.last_epoch == 5
    if schedule == "warmup_cosine":
        assert lr2.learning_rate.last_epoch == lr.learning_rate.last_epoch


def test_containers_scalars_and_ordered_dict():
    obj = {"od": collections.OrderedDict([("b", 1), ("a", [1.5, None, True])]), "t": (np.int64(3), np.float32(0.5)),
           "big_endian": np.arange(4, dtype=">i4"), "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
           "bytes": b"\x00\xff", "s": "x", "c": np.complex64(1 + 2j)}
    for protocol in (2, 4):
        out = safe_loads(pickle.dumps(obj, protocol=protocol))
        assert isinstance(out["od"], collections.OrderedDict) and list(out["od"]) == ["b", "a"]
        assert out["od"]["a"] == [1.5, None, True] and out["bytes"] == b"\x00\xff" and out["s"] == "x"
        assert type(out["t"][0]) is np.int64 and out["t"][0] == 3 and type(out["t"][1]) is np.float32
        np.testing.assert_array_equal(out["big_endian"], np.arange(4))
        np.testing.assert_array_equal(out["fortran"], obj["fortran"])
        assert out["c"] == obj["c"]


def test_shared_references_stay_linear():
    x = [1]
    for _ in range(60):  # 2**60 paths through 60 lists
        x = [x, x]
    out = safe_loads(pickle.dumps(x))
    assert out[0] is out[1]


@pytest.mark.parametrize("payload, refused", [
    (lambda m: {"weight": RunsCommand(m)}, SYSTEM),
    (lambda m: [RunsCommand(m)], SYSTEM),
    (lambda m: {"w": bytearray(8)}, "bytearray"),  # __builtin__.bytearray with protocol 2
    (lambda m: {"w": np.array([None, 1], dtype=object)}, "numpy.dtype O8"),
    (lambda m: {"w": np.zeros(2, dtype=[("a", "f4")])}, "numpy.dtype V4"),
    (lambda m: {"w": np.array(["ab"])}, "numpy.dtype U2"),
    (lambda m: {"f": os.path.join}, "posixpath.join"),
])
def test_refused_by_name_and_nothing_runs(tmp_path, payload, refused):
    marker = tmp_path / "ran"
    for protocol in (2, 4):
        path = tmp_path / f"evil{protocol}.pdparams"
        path.write_bytes(pickle.dumps(payload(str(marker)), protocol=protocol))
        with pytest.raises(CheckpointError) as e:
            load_state(str(path))
        msg = str(e.value)
        assert "\n" not in msg and str(path) in msg and refused in msg and msg.startswith("refusing to load")
        assert not marker.exists()


def test_paddle_eval_form_of_dense_tensor_is_refused(tmp_path):
    # paddle.save writes a DenseTensor outside a state dict as eval('data', {'data': array})
    class DenseLike:
        def __reduce__(self):
            return (eval, ("data", {"data": np.zeros(2)}))

    path = tmp_path / "dense.pdparams"
    path.write_bytes(pickle.dumps({"t": DenseLike()}))
    with pytest.raises(CheckpointError, match=r"refers to builtins\.eval"):
        load_state(str(path))


class _ArrayState:
    """Pickles as ndarray.__reduce__ does, but with a chosen shape and data."""

    def __init__(self, shape, data):
        self.shape, self.data = shape, data

    def __reduce__(self):
        return (np._core.multiarray._reconstruct, (np.ndarray, (0,), b"b"),
                (1, self.shape, np.dtype("float32"), False, self.data))


def _reconstruct_pickle(shape, data: bytes) -> bytes:
    return pickle.dumps(_ArrayState(shape, data), protocol=4)


def test_array_shape_must_match_its_bytes():
    good = safe_loads(_reconstruct_pickle((2,), np.array([1, 2], "float32").tobytes()))
    np.testing.assert_array_equal(good, [1, 2])
    with pytest.raises(UnsafePickleError, match=r"shape \[1099511627776\] of float32 needs 4398046511104 bytes "
                                                r"but 8 are stored"):
        safe_loads(_reconstruct_pickle((2 ** 40,), b"\x00" * 8))
    with pytest.raises(UnsafePickleError, match="bad shape"):
        safe_loads(_reconstruct_pickle((-1,), b""))


def test_declared_lengths_beyond_the_file_are_refused_before_allocating():
    for opcode in (b"\x8e", b"\x96"):  # BINBYTES8, BYTEARRAY8 of 2**40 bytes, 3 present
        with pytest.raises(pickle.UnpicklingError, match="not a complete pickle.*1099511627776"):
            safe_loads(b"\x80\x05" + opcode + struct.pack("<Q", 2 ** 40) + b"abc.")


def test_opcode_count_and_depth_limits(monkeypatch):
    monkeypatch.setattr(safe_unpickle, "MAX_OPCODES", 1000)
    with pytest.raises(UnsafePickleError, match="more than 1,000 pickle opcodes"):
        safe_loads(pickle.dumps([[] for _ in range(1000)]))
    deep = []
    for _ in range(safe_unpickle.MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(UnsafePickleError, match="deeper than 64"):
        safe_loads(pickle.dumps(deep))


BOMBS = textwrap.dedent("""
    import os, pickle, resource, struct, sys, numpy as np
    from paddlevideo.utils.checkpoint import CheckpointError, read_pickle_file
    from paddlevideo.utils.safe_unpickle import safe_loads
    class Bytearray:
        def __reduce__(self):
            return (bytearray, (2 ** 30,))
    class HugeArray:
        def __reduce__(self):
            return (np._core.multiarray._reconstruct, (np.ndarray, (0,), b"b"),
                    (1, (2 ** 28,), np.dtype("float32"), False, b"\\0" * 16))
    bombs = [pickle.dumps(Bytearray(), protocol=2), pickle.dumps(HugeArray(), protocol=4),
             b"\\x80\\x05\\x8e" + struct.pack("<Q", 2 ** 30) + b"abc.",
             b"\\x80\\x05\\x96" + struct.pack("<Q", 2 ** 30) + b"abc."]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for b in bombs:
        try:
            safe_loads(b)
        except pickle.UnpicklingError as e:
            print(type(e).__name__, str(e)[:60])
    for i, b in enumerate(bombs):  # the same from files, as checkpoints are read
        path = os.path.join(sys.argv[1], f"bomb{i}.pdparams")
        with open(path, "wb") as f:
            f.write(b)
        try:
            read_pickle_file(path)
        except CheckpointError as e:
            print("CheckpointError", str(e).replace(path, "PATH")[:100])
    print("grew_kb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
""")


def test_allocation_bombs_are_refused_without_allocating(tmp_path):
    r = subprocess.run([sys.executable, "-c", BOMBS, str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                       timeout=120, env=dict(os.environ, PYTHONPATH=ROOT))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 9, r.stdout
    assert lines[4].startswith("CheckpointError refusing to load checkpoint PATH: it refers to __builtin__.byte")
    assert lines[5].startswith("CheckpointError refusing to load checkpoint PATH: numpy.ndarray: shape [2")
    assert all(line.startswith("CheckpointError cannot read checkpoint PATH: not a complete pickle")
               for line in lines[6:8])
    del lines[4:8]
    assert lines[0].startswith("UnsafePickleError it refers to __builtin__.bytearray")  # protocol 2 name
    assert lines[1].startswith("UnsafePickleError numpy.ndarray: shape [268435456] of float32 needs")
    assert all(line.startswith("UnpicklingError not a complete pickle") for line in lines[2:4])
    assert int(lines[4].split()[1]) < 64 * 1024  # each bomb would need >= 1 GiB


def test_truncated_and_non_pickle_files_name_the_file(tmp_path):
    path = tmp_path / "w.pdparams"
    paddle.save({"w": paddle.ones([100])}, str(path))
    path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(CheckpointError, match=r"cannot read checkpoint .*w\.pdparams: not a complete pickle"):
        load_state(str(path))
    path.write_text("not a pickle at all")
    with pytest.raises(CheckpointError, match=r"w\.pdparams"):
        load_state(str(path))
    with pytest.raises(CheckpointError, match=r"training state not found: .*missing\.pdstate"):
        load_pickle_state(str(tmp_path / "missing.pdstate"))
    path.write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(CheckpointError, match=r"holds a list, not a state dict"):
        load_state(str(path))
    assert read_pickle_file(str(path)) == [1, 2]
