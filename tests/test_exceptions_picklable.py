"""Every exception class the package defines survives pickling (a DataLoader worker, a process pool or
``all_gather_object`` sends errors between processes): type, message and attributes are kept.

The classes are discovered by walking every module of ``paddlevideo``, so a class added later is checked
too; its sample arguments are derived from its constructor's signature.
"""
from __future__ import annotations

import importlib
import inspect
import pickle
import pkgutil

import pytest

import paddlevideo

# Sample values by parameter name; other parameters get a string. Any class whose constructor needs
# something else fails below with a message saying to add it here.
SAMPLES = {"index": 3, "offset": 1234, "path": "a/b.tfrecord", "reason": "why", "global_name": "posix.system"}


def _package_exceptions():
    found = {}
    for info in pkgutil.walk_packages(paddlevideo.__path__, "paddlevideo."):
        module = importlib.import_module(info.name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, BaseException) and obj.__module__.startswith("paddlevideo"):
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return found


EXCEPTIONS = _package_exceptions()


def _sample_args(cls):
    params = [p for p in inspect.signature(cls.__init__).parameters.values()][1:]
    if any(p.kind is p.VAR_POSITIONAL for p in params) or not params:
        return ["something went wrong"]
    return [SAMPLES.get(p.name, f"sample {p.name}") for p in params
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty]


def test_discovery_finds_the_known_exceptions():
    names = {n.rsplit(".", 1)[1] for n in EXCEPTIONS}
    assert {"CorruptRecordError", "BadPklError", "UnsafePickleError", "DataReadError", "RecordTypeError",
            "DataError", "TrainingDiverged", "ConfigError", "CheckpointError"} <= names, names


@pytest.mark.parametrize("name", sorted(EXCEPTIONS))
def test_exception_round_trips_through_pickle(name):
    cls = EXCEPTIONS[name]
    try:
        err = cls(*_sample_args(cls))
    except Exception as e:  # pragma: no cover - only for a class this test cannot build yet
        pytest.fail(f"cannot build {name} from {_sample_args(cls)} ({e}); add its parameters to SAMPLES")
    for protocol in (2, pickle.HIGHEST_PROTOCOL):
        back = pickle.loads(pickle.dumps(err, protocol=protocol))
        assert type(back) is cls
        assert str(back) == str(err)
        assert back.args == err.args
        assert vars(back) == vars(err)
