"""One list-file rule for the pkl dataset and predict's inputs: ``data_prefix`` when given, else the list
file's own directory (never the working directory)."""
from __future__ import annotations

import os

import pytest

from paddlevideo.inference.inputs import expand_inputs
from paddlevideo.loader.datasets.yt8m_pkl import read_list_file as dataset_reader
from paddlevideo.loader.yt8m.list_file import read_list_file


@pytest.fixture
def tree(tmp_path, monkeypatch):
    lists = tmp_path / "lists"
    data = tmp_path / "data"
    lists.mkdir()
    data.mkdir()
    for d in (lists, data):
        (d / "a.pkl").write_bytes(b"x")
    (tmp_path / "abs.pkl").write_bytes(b"x")
    (lists / "x.list").write_text(f"# a comment\na.pkl 1\n\n{tmp_path / 'abs.pkl'}\n")
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    (elsewhere / "b.pkl").write_bytes(b"x")
    monkeypatch.chdir(elsewhere)      # the working directory must play no part
    return tmp_path


def test_relative_to_the_list_files_directory_by_default(tree):
    expected = [str(tree / "lists" / "a.pkl"), str(tree / "abs.pkl")]
    assert read_list_file(str(tree / "lists" / "x.list")) == expected
    assert dataset_reader is read_list_file
    assert [f for _, f in expand_inputs(str(tree / "lists" / "x.list"))] == expected


def test_data_prefix_when_given(tree):
    assert read_list_file(str(tree / "lists" / "x.list"), str(tree / "data")) == [str(tree / "data" / "a.pkl"),
                                                                                 str(tree / "abs.pkl")]


def test_missing_entries_raise_together_or_go_to_the_callback(tree):
    lst = tree / "lists" / "y.list"
    lst.write_text("a.pkl\nb.pkl\nc.pkl\n")          # b.pkl exists only in the working directory
    with pytest.raises(FileNotFoundError, match=r"y\.list: listed files not found .*line 2: .*lists/b\.pkl; "
                                                r"line 3: .*lists/c\.pkl$"):
        read_list_file(str(lst))
    seen = []
    found = read_list_file(str(lst), on_missing=lambda n, tok, p: seen.append((n, tok)))
    assert found == [str(tree / "lists" / "a.pkl")]
    assert seen == [(2, "b.pkl"), (3, "c.pkl")]
    with pytest.raises(FileNotFoundError, match=r"y\.list: line 2: b\.pkl not found \(.*lists/b\.pkl does not exist\)"):
        expand_inputs(str(lst))


def test_an_empty_list_is_an_error(tree):
    lst = tree / "lists" / "empty.list"
    lst.write_text("\n# nothing\n")
    with pytest.raises(ValueError, match="names no file"):
        read_list_file(str(lst))
    assert os.getcwd().endswith("cwd")
