"""The optional VisualDL writer: a no-op with one warning when visualdl cannot be imported, nothing on
ranks > 0, and the scalars in VisualDL's event file when it is installed."""
import logging
import sys

import pytest

from paddlevideo.utils.logger import LOGGER_NAME
from paddlevideo.utils.visualdl import ScalarWriter, visualdl_available


class _Capture(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.fixture
def captured():
    logger = logging.getLogger(LOGGER_NAME)
    h = _Capture()
    logger.addHandler(h)
    old = logger.level
    logger.setLevel(logging.INFO)
    yield h.messages
    logger.removeHandler(h)
    logger.setLevel(old)


def test_without_visualdl_it_warns_once_and_does_nothing(monkeypatch, tmp_path, captured):
    monkeypatch.setitem(sys.modules, "visualdl", None)     # makes `import visualdl` raise ImportError
    assert not visualdl_available()
    w = ScalarWriter(str(tmp_path / "vdl"), enabled=True, rank=0)
    assert not w.active
    w.add_scalar("train/loss", 1.0, 1)
    w.add_scalars("valid", {"gap": 0.5}, 1)
    w.close()
    assert not (tmp_path / "vdl").exists()
    assert len(captured) == 1 and "pip install visualdl" in captured[0]


def test_disabled_or_other_rank_writes_nothing(tmp_path, captured):
    for enabled, rank in ((False, 0), (True, 1)):
        w = ScalarWriter(str(tmp_path / f"vdl{rank}"), enabled=enabled, rank=rank)
        w.add_scalar("a", 1.0, 1)
        w.close()
        assert not w.active and not (tmp_path / f"vdl{rank}").exists()
    assert captured == []


def test_scalars_are_written_when_installed(tmp_path):
    visualdl = pytest.importorskip("visualdl")   # optional dependency
    with ScalarWriter(str(tmp_path / "vdl"), enabled=True, rank=0) as w:
        assert w.active
        w.add_scalars("valid", {"gap": 0.25, "num_videos": 10, "name": "x", "flag": True}, 3)
        w.add_scalar("train/loss", float("nan"), 4)            # skipped, not written
        w.add_scalar("train/loss", 0.5, 5)
    files = list((tmp_path / "vdl").glob("vdlrecords.*.log"))
    assert len(files) == 1
    reader = visualdl.LogReader(file_path=str(files[0]))
    assert set(reader.get_tags()["scalar"]) == {"valid/gap", "valid/num_videos", "train/loss"}
    assert [(r.id, r.value) for r in reader.get_data("scalar", "valid/gap")] == [(3, 0.25)]
    assert [(r.id, r.value) for r in reader.get_data("scalar", "train/loss")] == [(5, 0.5)]
