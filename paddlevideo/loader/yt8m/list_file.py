"""PaddleVideo list files: one video file per line, read the same way by the pkl dataset and ``predict.py``.

The rule (PaddleVideo's ``FeatureDataset``, docs/youtube8m_format.md#list-files-and-the-data-prefix): each
line's first whitespace-separated token is a path; blank lines and lines starting with ``#`` are left
out; ``~`` is expanded; an absolute path is kept; a relative path is joined to ``data_prefix`` when one is
given, else to the directory of the list file itself (where PaddleVideo keeps its lists, e.g.
``data/yt8m/train.list`` with ``data_prefix: data/yt8m``, and where ``data/yt8m/tf2pkl.py`` writes them).
The working directory plays no part.
"""
from __future__ import annotations

import os
from collections.abc import Callable

__all__ = ["read_list_file"]


def read_list_file(file_path: str, data_prefix: str | None = None,
                   on_missing: Callable[[int, str, str], None] | None = None) -> list[str]:
    """Paths of the files a list file names, resolved by the module's rule.

    Args:
        file_path: the list file (``~`` is expanded).
        data_prefix: directory relative paths are joined to; None: the list file's own directory.
        on_missing: called as ``on_missing(line_number, token, resolved_path)`` for each listed path that
            does not exist, which is then left out; None: missing paths raise together (see below).

    Returns:
        The existing paths (all of them when ``on_missing`` is None), in list order.

    Raises:
        FileNotFoundError: the list file is missing; or, without ``on_missing``, listed files are missing
            (the message names the list file, the line numbers and up to five missing paths).
        ValueError: the list names no file.
        OSError / UnicodeDecodeError: the list file cannot be read.
    """
    list_path = os.path.expanduser(file_path)
    if not os.path.isfile(list_path):
        raise FileNotFoundError(f"list file {file_path!r} not found (working directory {os.getcwd()})")
    prefix = os.path.dirname(os.path.abspath(list_path)) if data_prefix is None else os.path.expanduser(data_prefix)
    paths: list[str] = []
    missing: list[str] = []
    entries = 0
    with open(list_path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            tokens = line.split()
            if not tokens or tokens[0].startswith("#"):
                continue
            entries += 1
            path = os.path.join(prefix, os.path.expanduser(tokens[0]))
            if os.path.lexists(path):
                paths.append(path)
            elif on_missing is not None:
                on_missing(number, tokens[0], path)
            else:
                missing.append(f"line {number}: {path}")
    if missing:
        shown = "; ".join(missing[:5]) + (f"; ... ({len(missing)} in all)" if len(missing) > 5 else "")
        raise FileNotFoundError(f"{file_path}: listed files not found (data_prefix {prefix!r}): {shown}")
    if not entries:
        raise ValueError(f"list file {file_path!r} names no file")
    return paths
