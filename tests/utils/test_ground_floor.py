"""``paddlevideo.utils`` is the ground floor: importing any of its modules loads nothing of ``loader``,
``tasks``, ``modeling`` or ``inference`` (each checked in a fresh interpreter)."""
from __future__ import annotations

import json
import os
import pkgutil
import subprocess
import sys

import pytest

import paddlevideo.utils

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
UPPER = ("paddlevideo.loader", "paddlevideo.tasks", "paddlevideo.modeling", "paddlevideo.inference")
MODULES = sorted(f"paddlevideo.utils.{m.name}" for m in pkgutil.iter_modules(paddlevideo.utils.__path__))

_PROBE = """
import importlib, json, sys
importlib.import_module(sys.argv[1])
print(json.dumps(sorted(m for m in sys.modules if m.startswith(tuple(sys.argv[2:])))))
"""


def test_the_utils_modules_are_all_probed():
    # an independent list: the files of the package folder
    files = sorted(f[:-3] for f in os.listdir(os.path.dirname(paddlevideo.utils.__file__))
                   if f.endswith(".py") and f != "__init__.py")
    assert MODULES == [f"paddlevideo.utils.{f}" for f in files] and "paddlevideo.utils.dist" in MODULES


@pytest.mark.parametrize("module", ["paddlevideo.utils"] + MODULES)
def test_importing_a_utils_module_loads_no_upper_layer(module):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", _PROBE, module, *UPPER], capture_output=True, text=True,
                          timeout=120, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == [], f"{module} loads an upper layer"
