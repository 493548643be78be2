"""An allow-list unpickler for checkpoint files (``.pdparams``, ``.pdopt``, ``.pdstate``).

``paddle.load`` and ``pickle.load`` run whatever a pickle names: a crafted ``.pdparams`` whose
``__reduce__`` returns ``(os.system, ("...",))`` executes its command on load. This module reads the
same files while constructing nothing but data, following the "Restricting Globals" recipe of the
Python ``pickle`` documentation:

* globals: only the names in :data:`ALLOWED_GLOBALS`. Each resolves to a checking function of this
  module, never to the real callable, so no constructor runs with caller-chosen arguments. Anything
  else is refused **by name** before it is imported (:class:`UnsafePickleError`).
* values: ``dict``, ``list``, ``tuple``, ``str``, ``bytes``, ``int``, ``float``, ``bool``, ``None``
  (pickle opcodes, no globals), ``collections.OrderedDict``, numpy arrays and scalars of bool, integer,
  float and complex dtypes. Object, string and structured dtypes are refused.
* sizes: the byte stream is first walked with :func:`pickletools.genops`, reading at most the bytes
  left in the file, which checks every declared length (``BINBYTES8``, ``BYTEARRAY8``, ``LONG4`` ...)
  against the bytes present before the C unpickler would allocate it, and counts the opcodes
  (:data:`MAX_OPCODES`). An array's shape must account for exactly the bytes it carries, so nothing
  allocates more than the file holds.

What ``paddle.save`` writes (Paddle 3.3, ``paddle/framework/io.py``): a state dict of a layer or an
optimizer goes through ``_legacy_save``, which turns every Tensor into a numpy array (bfloat16 as
``uint16``) and adds ``StructuredToParameterName@@`` (name table, a dict of str) and, for protocols
2-3 and tensors over 1 GiB, ``UnpackBigParamInfor@@`` (slices to re-join). The pickle then names
only ``numpy.dtype``, ``numpy.ndarray`` and ``numpy._core.multiarray._reconstruct`` (``numpy.core`` with
numpy 1.x). An optimizer's ``LR_Scheduler`` entry is a dict of numbers. Other objects go through
``_pickle_save``, which writes a Tensor as ``builtins.tuple`` of ``(name, array)``; a ``DenseTensor``
there is written as a call of ``builtins.eval``, which is refused. Python 3 pickles ``bytes`` with
protocol 2 as ``_codecs.encode(str, "latin1")``, allowed for that codec only.

Imports numpy and the standard library only (no PaddlePaddle).
"""
from __future__ import annotations

import collections
import io
import math
import pickle
import pickletools
from collections.abc import Callable
from typing import Any, BinaryIO

import numpy as np

__all__ = ["ALLOWED_GLOBALS", "MAX_DEPTH", "MAX_OPCODES", "UnsafePickleError", "safe_load", "safe_loads"]

#: Most opcodes a checkpoint pickle may hold. A real one needs ~30 per tensor (a 1,000-tensor model:
#: ~30,000); the cap keeps a small file from building millions of tiny objects (each opcode byte can
#: make a ~60-byte Python object).
MAX_OPCODES = 2_000_000
#: Deepest nesting of containers accepted in the result.
MAX_DEPTH = 64
#: Most dimensions of an array (numpy's own limit is 64).
MAX_NDIM = 32

#: dtype codes an array or scalar may have: bool, signed and unsigned integers, floats (bfloat16 is
#: saved as uint16 by Paddle), complex.
ALLOWED_DTYPES = frozenset({"b1", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8", "c8", "c16"})
_BYTEORDERS = ("<", ">", "|", "=")
_LATIN1 = ("latin1", "latin-1", "latin_1", "iso-8859-1", "iso8859-1", "l1")


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle names a global outside :data:`ALLOWED_GLOBALS`, or calls an allowed one with data it
    does not accept (object dtype, a shape that does not match the bytes, too many opcodes ...).
    The message says which; the caller adds the file name."""


class _PendingDtype:
    """``numpy.dtype(code, align, copy)`` as pickled: the byte order arrives later through BUILD."""

    __slots__ = ("code", "dtype")

    def __init__(self, code: str) -> None:
        self.code = code
        self.dtype: Any = None

    def __setstate__(self, state: Any) -> None:
        # numpy's dtype state: (version, byteorder, subarray, names, fields, elsize, alignment, flags[, metadata])
        if (not isinstance(state, tuple) or len(state) not in (8, 9) or state[0] not in (3, 4)
                or state[1] not in _BYTEORDERS or any(x is not None for x in state[2:5])):
            raise UnsafePickleError(f"numpy.dtype {self.code!r}: unexpected state {str(state)[:80]} "
                                    "(only plain numeric dtypes are accepted)")
        dt = np.dtype(self.code)
        self.dtype = dt.newbyteorder(state[1]) if state[1] in "<>" else dt

    def resolve(self) -> np.dtype:
        if self.dtype is None:
            raise UnsafePickleError(f"numpy.dtype {self.code!r} was never given its state")
        return self.dtype


def _as_dtype(value: Any, what: str) -> np.dtype:
    if isinstance(value, _PendingDtype):
        return value.resolve()
    raise UnsafePickleError(f"{what}: expected a numpy dtype, got {type(value).__name__}")


class _PendingArray:
    """``numpy.ndarray`` as pickled (``_reconstruct(ndarray, (0,), b'b')`` then BUILD with its state);
    replaced by the real array once the state is checked."""

    __slots__ = ("array",)

    def __init__(self) -> None:
        self.array: Any = None

    def __setstate__(self, state: Any) -> None:
        if self.array is not None:
            raise UnsafePickleError("numpy.ndarray: state given twice")
        if not isinstance(state, tuple) or len(state) != 5 or state[0] != 1:
            raise UnsafePickleError(f"numpy.ndarray: unexpected state of {type(state).__name__}")
        _, shape, dtype, fortran, data = state
        dtype = _as_dtype(dtype, "numpy.ndarray")
        if (not isinstance(shape, tuple) or len(shape) > MAX_NDIM
                or not all(type(d) is int and d >= 0 for d in shape)):
            raise UnsafePickleError(f"numpy.ndarray: bad shape {str(shape)[:80]}")
        if isinstance(data, str):  # Python 2 str data read with encoding="latin1"
            data = data.encode("latin1")
        if not isinstance(data, (bytes, bytearray)):
            raise UnsafePickleError(f"numpy.ndarray of {dtype}: data is a {type(data).__name__}, not bytes "
                                    "(object arrays are refused)")
        if math.prod(shape) * dtype.itemsize != len(data):
            raise UnsafePickleError(f"numpy.ndarray: shape {list(shape)} of {dtype} needs "
                                    f"{math.prod(shape) * dtype.itemsize} bytes but {len(data)} are stored")
        arr = np.empty(0, dtype=np.uint8)
        arr.__setstate__((1, shape, dtype, bool(fortran), data))
        self.array = arr

    def resolve(self) -> np.ndarray:
        if self.array is None:
            raise UnsafePickleError("numpy.ndarray was never given its state")
        return self.array


def _reconstruct(cls: Any, shape: Any, typecode: Any) -> _PendingArray:
    """``numpy._core.multiarray._reconstruct`` as ``ndarray.__reduce__`` calls it."""
    if cls is not _NDARRAY or shape != (0,) or typecode not in (b"b", "b"):
        raise UnsafePickleError(f"numpy _reconstruct called with {type(cls).__name__}, {str(shape)[:40]}, "
                                f"{str(typecode)[:20]} (only plain numpy.ndarray is accepted)")
    return _PendingArray()


def _dtype(code: Any, align: Any = False, copy: Any = True) -> _PendingDtype:
    """``numpy.dtype`` as ``dtype.__reduce__`` calls it: numeric codes only."""
    if not isinstance(code, str) or code not in ALLOWED_DTYPES or align not in (False, 0):
        raise UnsafePickleError(f"numpy.dtype {str(code)[:40]!s} is not allowed (allowed: {sorted(ALLOWED_DTYPES)})")
    return _PendingDtype(code)


def _scalar(dtype: Any, data: Any = None) -> Any:
    """``numpy._core.multiarray.scalar(dtype, bytes)``: a numpy scalar such as ``numpy.float32(0.5)``."""
    dt = _as_dtype(dtype, "numpy scalar")
    if isinstance(data, str):
        data = data.encode("latin1")
    if not isinstance(data, bytes) or len(data) != dt.itemsize:
        raise UnsafePickleError(f"numpy scalar of {dt}: expected {dt.itemsize} bytes")
    return np.frombuffer(data, dtype=dt)[0]


def _ordered_dict(*args: Any) -> collections.OrderedDict:
    """``collections.OrderedDict()`` or ``OrderedDict(list of pairs)``."""
    if len(args) > 1 or (args and not isinstance(args[0], (list, tuple, dict))):
        raise UnsafePickleError("collections.OrderedDict: only empty or from a list of pairs")
    return collections.OrderedDict(*args)


def _tuple(*args: Any) -> tuple:
    """``builtins.tuple(list or tuple)`` (how ``paddle.save`` writes a Tensor outside a state dict)."""
    if len(args) != 1 or not isinstance(args[0], (list, tuple)):
        raise UnsafePickleError("builtins.tuple: only from a list or tuple")
    return tuple(args[0])


def _codecs_encode(text: Any, encoding: Any = "utf-8", *rest: Any) -> bytes:
    """``_codecs.encode(str, "latin1")``: how protocol 2 stores ``bytes`` (same length out as in)."""
    if rest or not isinstance(text, str) or encoding not in _LATIN1:
        raise UnsafePickleError("_codecs.encode: only a str with the latin1 codec")
    return text.encode("latin1")


class _Global:
    """What :meth:`_AllowListUnpickler.find_class` hands out for an allowed name: calls the checking
    function; refuses attribute changes (a pickle's BUILD on it) so no load can alter the next one."""

    __slots__ = ("name", "_fn")

    def __init__(self, name: str, fn: Callable[..., Any] | None) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "_fn", fn)

    def __call__(self, *args: Any) -> Any:
        if self._fn is None:
            raise UnsafePickleError(f"{self.name} may not be called")
        return self._fn(*args)

    def __setattr__(self, key: str, value: Any) -> None:
        raise UnsafePickleError(f"{self.name} may not be changed")

    def __setstate__(self, state: Any) -> None:
        raise UnsafePickleError(f"{self.name} may not be given a state")

    def __reduce__(self) -> Any:
        raise TypeError(f"{self.name} stand-in is not picklable")


#: Stands for ``numpy.ndarray`` as the first argument of ``_reconstruct``.
_NDARRAY = _Global("numpy.ndarray", None)

_NUMPY_CORE = ("numpy.core.multiarray", "numpy._core.multiarray")


def _allowed() -> dict[tuple[str, str], _Global]:
    table: dict[tuple[str, str], Callable[..., Any]] = {
        **{(m, "_reconstruct"): _reconstruct for m in _NUMPY_CORE},
        **{(m, "scalar"): _scalar for m in _NUMPY_CORE},
        ("numpy", "dtype"): _dtype,
        ("collections", "OrderedDict"): _ordered_dict,
        ("builtins", "tuple"): _tuple,
        ("__builtin__", "tuple"): _tuple,
        ("_codecs", "encode"): _codecs_encode,
    }
    out = {key: _Global(".".join(key), fn) for key, fn in table.items()}
    out[("numpy", "ndarray")] = _NDARRAY
    return out


#: Every ``(module, name)`` a checkpoint pickle may reference, and the checking stand-in it resolves to.
#: numpy 1.x pickles name ``numpy.core``, numpy 2 ``numpy._core``; Python 3 protocol 2 names ``__builtin__``.
ALLOWED_GLOBALS: dict[tuple[str, str], _Global] = _allowed()


class _AllowListUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` that resolves only :data:`ALLOWED_GLOBALS`; no persistent ids."""

    def find_class(self, module: str, name: str) -> Any:
        """Return the checking stand-in for an allowed ``module.name``.

        Raises:
            UnsafePickleError: for any other global, naming it (nothing is imported).
        """
        target = ALLOWED_GLOBALS.get((module, name))
        if target is None:
            raise UnsafePickleError(f"it refers to {module}.{name}, which a checkpoint may not hold "
                                    "(allowed: numpy arrays and scalars of numeric dtypes, dicts, lists, "
                                    "tuples, OrderedDict, numbers, strings)")
        return target

    def persistent_load(self, pid: Any) -> Any:
        """Refuse persistent ids (no checkpoint of this kind uses them)."""
        raise UnsafePickleError("it uses a persistent id, which a checkpoint may not hold")


class _Bounded:
    """A read-only view of a binary file whose ``read(n)`` never asks for more than the bytes left, so
    :func:`pickletools.genops` finds a length past the end without allocating it."""

    def __init__(self, f: BinaryIO) -> None:
        self._f = f
        start = f.tell()
        self._end = f.seek(0, io.SEEK_END)
        f.seek(start)

    def read(self, n: int = -1) -> bytes:
        left = max(self._end - self._f.tell(), 0)
        return self._f.read(left if n is None or n < 0 else min(n, left))

    def readline(self) -> bytes:
        return self._f.readline()


def _prescan(f: BinaryIO) -> None:
    """Walk the opcodes from the current position of ``f`` and go back there: every declared length
    must fit in the file and there must not be too many opcodes."""
    start = f.tell()
    try:
        for count, _ in enumerate(pickletools.genops(_Bounded(f)), 1):
            if count > MAX_OPCODES:
                raise UnsafePickleError(f"it holds more than {MAX_OPCODES:,} pickle opcodes")
    except UnsafePickleError:
        raise
    except Exception as e:  # ValueError for a length past the end, an unknown opcode, no STOP ...
        raise pickle.UnpicklingError(f"not a complete pickle ({e})") from None
    f.seek(start)


def _finish(obj: Any, depth: int, memo: dict[int, Any]) -> Any:
    """Replace the pending arrays and dtypes by real ones, checking the nesting depth (shared objects
    are converted once, so a pickle of many references to one list stays linear)."""
    key = id(obj)
    if key in memo:
        return memo[key]
    if depth > MAX_DEPTH:
        raise UnsafePickleError(f"it nests containers deeper than {MAX_DEPTH} levels")
    if isinstance(obj, (_PendingArray, _PendingDtype)):
        out: Any = obj.resolve()
    elif type(obj) in (dict, collections.OrderedDict):
        out = type(obj)()
        memo[key] = out
        for k, v in obj.items():
            out[_finish(k, depth + 1, memo)] = _finish(v, depth + 1, memo)
    elif type(obj) is list:
        out = []
        memo[key] = out
        out.extend(_finish(v, depth + 1, memo) for v in obj)
    elif type(obj) is tuple:
        out = tuple(_finish(v, depth + 1, memo) for v in obj)
    elif isinstance(obj, _Global) or callable(obj):
        raise UnsafePickleError(f"it holds {getattr(obj, 'name', type(obj).__name__)} itself as a value, not data")
    else:
        out = obj  # str, bytes, int, float, bool, None, complex, numpy scalars
    memo[key] = out
    return out


def safe_load(f: BinaryIO) -> Any:
    """Unpickle the pickle at the current position of the seekable binary file ``f``, allowing only the
    globals of :data:`ALLOWED_GLOBALS` (see the module docstring). The file is read twice (the opcode
    walk, then the unpickling), each time as a stream: memory stays about the size of the result.

    Returns:
        The object, made of dicts, OrderedDicts, lists, tuples, numbers, strings, bytes, numpy arrays
        (writable, their own memory) and numpy scalars.

    Raises:
        UnsafePickleError: a global that is not allowed (named), an allowed one used with other data,
            too many opcodes or too deep a nesting. No code of the pickle runs.
        pickle.UnpicklingError: the data is not a complete pickle (truncated, not a pickle).
        OSError: ``f`` cannot be read or is not seekable.
    """
    _prescan(f)
    try:
        obj = _AllowListUnpickler(f, encoding="latin1").load()
    except (UnsafePickleError, MemoryError, OSError):
        raise
    except Exception as e:  # malformed stream: stack underflow, bad BUILD target, ...
        raise pickle.UnpicklingError(f"not a valid pickle: {type(e).__name__}: {e}") from None
    try:
        return _finish(obj, 0, {})
    except TypeError as e:  # e.g. an array as a dict key
        raise UnsafePickleError(f"it holds an unusable value: {e}") from None


def safe_loads(data: bytes) -> Any:
    """:func:`safe_load` of a pickle held in memory."""
    return safe_load(io.BytesIO(data))
