"""The one error guard of main.py and the tools: one ``error:`` line, exit 2 (3 for a diverged loss)."""
from __future__ import annotations

import argparse
import errno

import pytest

from paddlevideo.inference.cli import run_tool
from paddlevideo.loader.yt8m import CorruptRecordError
from paddlevideo.tasks.cli import describe_os_error
from paddlevideo.tasks.loop import TrainingDiverged
from paddlevideo.utils.checkpoint import CheckpointError
from paddlevideo.utils.cli import run_guarded
from paddlevideo.utils.config import ConfigError


def _raise(e):
    def body(args):
        raise e
    return body


@pytest.mark.parametrize("guard", [run_guarded, run_tool])
@pytest.mark.parametrize("exc, code, line", [
    (ConfigError("bad key x"), 2, "error: bad key x"),
    (CheckpointError("w.pdparams: not a checkpoint"), 2, "error: w.pdparams: not a checkpoint"),
    (CorruptRecordError("f.tfrecord", 3, 120, "data CRC mismatch"), 2, None),
    (KeyError("no DATASET.valid section"), 2, "error: no DATASET.valid section"),
    (FileNotFoundError(errno.ENOENT, "No such file or directory", "m.json"), 2,
     "error: m.json: No such file or directory"),
    (RuntimeError("model file unusable\n  C++ trace line 1\n  line 2"), 2, "error: model file unusable"),
    (TrainingDiverged("loss is nan at epoch 2 step 3"), 3, "error: loss is nan at epoch 2 step 3"),
])
def test_user_errors_end_as_one_line(guard, exc, code, line, capsys):
    assert guard(_raise(exc), argparse.Namespace(verbose=False)) == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    if line is not None:
        assert err == line + "\n"
    else:
        assert "f.tfrecord" in err and "record 3" in err


def test_success_and_programming_errors_pass_through(capsys):
    assert run_guarded(lambda a: 0, argparse.Namespace()) == 0
    with pytest.raises(ZeroDivisionError):
        run_guarded(_raise(ZeroDivisionError("bug")), argparse.Namespace())
    assert capsys.readouterr().err == ""


def test_main_describes_a_full_disk(capsys):
    e = OSError(errno.ENOSPC, "No space left on device", "/out/x.pdopt")
    assert run_guarded(_raise(e), argparse.Namespace(), lambda err: describe_os_error(err)) == 2
    assert capsys.readouterr().err == ("error: disk full while writing /out/x.pdopt (No space left on device); "
                                       "nothing already written was changed\n")
