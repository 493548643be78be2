"""Data errors cross the loader boundary as JSON descriptions (paddlevideo.loader.yt8m.errors): each comes back
as the same class with the same message, also a subclass a contributor defines outside the package; a
description that cannot be rebuilt keeps path, record, offset and reason."""
from __future__ import annotations

import json

from paddlevideo.loader.yt8m import CorruptRecordError, DataReadError
from paddlevideo.loader.yt8m.errors import describe_error, error_from_description


class ShortVideoError(DataReadError):
    """A contributor's own error (defined here, not in the package)."""

    def __init__(self, path: str, frames: int) -> None:
        self.frames = int(frames)
        super().__init__(path, f"only {self.frames} frames")

    def __reduce__(self):
        return (type(self), (self.path, self.frames))


def _round_trip(e):
    return error_from_description(json.loads(json.dumps(describe_error(e))))


def test_package_and_contributor_errors_come_back_as_themselves():
    for e in (CorruptRecordError("/d/a.tfrecord", 3, 120, "data CRC mismatch"),
              DataReadError("/d/b.npz", "cannot read the file: Is a directory"),
              ShortVideoError("/d/c.npz", 2)):
        back = _round_trip(e)
        assert type(back) is type(e) and str(back) == str(e)
    assert _round_trip(ShortVideoError("/d/c.npz", 2)).frames == 2


def test_an_unbuildable_description_keeps_the_message_parts():
    d = describe_error(CorruptRecordError("/d/a.tfrecord", 3, 120, "data CRC mismatch"))
    d["type"], d["args"] = "NoSuchError", []
    back = error_from_description(d)
    assert type(back) is DataReadError
    assert str(back) == "/d/a.tfrecord: record 3 at byte 120: data CRC mismatch"
