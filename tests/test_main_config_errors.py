"""main.py on bad config values and hostile YAML: the whole stderr is one ``error:`` line naming the key,
the value and what was expected, exit code 2, within a timeout; measured without any quieting variables
in the environment, so no warning may slip through either."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from tests.tasks.tiny_setup import ROOT

DEMO = os.path.join(ROOT, "configs", "recognition", "attention_lstm", "attention_lstm_youtube8m_demo.yaml")


def plain_env():
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PADDLE_") and k not in ("PYTHONWARNINGS", "GLOG_minloglevel")}
    env.update(OMP_NUM_THREADS="1", PYTHONPATH=ROOT + os.pathsep + env.get("PYTHONPATH", ""))
    return env


def main_py(*args, timeout=120, cwd=ROOT):
    return subprocess.run([sys.executable, os.path.join(ROOT, "main.py"), *map(str, args)], cwd=cwd, env=plain_env(),
                          capture_output=True, text=True, timeout=timeout)


def assert_one_error_line(r, *parts):
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    for part in parts:
        assert part in lines[0], (part, lines[0])
    return lines[0]


CASES = [  # (override, the exact error line)
    ("epochs=abc", "error: -o epochs='abc': should be a valid integer, unable to parse string as an integer"),
    ("seed=abc", "error: -o seed='abc': should be a valid integer, unable to parse string as an integer"),
    ("DATASET.batch_size=abc",
     "error: -o DATASET.batch_size='abc': should be a valid integer, unable to parse string as an integer"),
    ("MODEL.head.num_classes=abc",
     "error: -o MODEL.head.num_classes='abc': should be a valid integer, unable to parse string as an integer"),
    ("DATASET.num_workers=-3", "error: -o DATASET.num_workers=-3: should be greater than or equal to 0"),
    ("MODEL.backbone.embedding_size=-4",
     "error: -o MODEL.backbone.embedding_size=-4: should be greater than or equal to 1"),
    ("epochs=[1,2]", "error: -o epochs=[1, 2]: should be a valid integer"),
    ("output_dir=[a]", "error: -o output_dir=['a']: should be a valid string"),
    ("epochs=0", "error: -o epochs=0: should be greater than or equal to 1"),
    ("OPTIMIZER.learning_rate=abc",
     "error: -o OPTIMIZER.learning_rate='abc': should be a valid number, unable to parse string as a number"),
]


@pytest.mark.parametrize("override,line", CASES, ids=[c[0] for c in CASES])
def test_bad_value_is_one_line_naming_key_value_and_expectation(override, line, tmp_path):
    r = main_py("-c", DEMO, "-o", override, cwd=tmp_path)
    assert assert_one_error_line(r) == line
    assert r.stdout == "" and os.listdir(tmp_path) == []     # refused before anything ran or was written


def test_alias_bomb_and_recursive_alias_end_in_one_line_fast(tmp_path):
    from tests.utils.test_config import BOMB

    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(BOMB)
    start = time.perf_counter()
    r = main_py("-c", bomb, timeout=60)
    assert time.perf_counter() - start < 60
    assert_one_error_line(r, str(bomb), "refused: its aliases expand to more than 100000 nodes")
    rec = tmp_path / "rec.yaml"
    rec.write_text("model_name: A\nMODEL: &m {framework: Recognizer1D, self: *m}\n")
    r = main_py("-c", rec, timeout=60)
    assert_one_error_line(r, str(rec), "refused: an alias refers to the node of line 2 from inside it")
