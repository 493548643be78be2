"""The worked examples of docs/contributing.md, read by the tests that run them (so the page cannot drift)."""
from __future__ import annotations

import os
import re

from tests.tasks.tiny_setup import ROOT

DOC = os.path.join(ROOT, "docs", "contributing.md")


def doc_blocks(section: str) -> dict[str, str]:
    """``{language: code}`` of the fenced blocks under the ``## <section>`` heading of docs/contributing.md.

    Raises:
        AssertionError: the section is missing, or holds two blocks of one language.
    """
    with open(DOC, encoding="utf-8") as f:
        text = f.read()
    m = re.search(rf"^## {re.escape(section)}\n(.*?)(?=^## |\Z)", text, flags=re.MULTILINE | re.DOTALL)
    assert m, f"no '## {section}' section in {DOC}"
    blocks: dict[str, str] = {}
    for lang, code in re.findall(r"^```(\w+)\n(.*?)^```", m.group(1), flags=re.MULTILINE | re.DOTALL):
        assert lang not in blocks, f"two {lang} blocks under '## {section}'"
        blocks[lang] = code
    return blocks
