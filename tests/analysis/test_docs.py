"""The outputs shown in docs/composition.md and docs/analysis.md are real: re-run each."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from cnnspec.cli import main

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "docs" / "composition.md", ROOT / "docs" / "analysis.md"]
BLOCK = re.compile(r"```console\n\$ (cnnspec [^\n]*)\n(.*?)```", re.S)


def _blocks() -> list[tuple[str, str, str]]:
    out = []
    for doc in DOCS:
        for m in BLOCK.finditer(doc.read_text()):
            out.append((doc.name, m.group(1), m.group(2)))
    return out


def _normal(text: str) -> list[str]:
    """Lines without trailing blanks; defaults filled in by other sections' models are not pinned here."""
    return [line.rstrip() for line in text.strip("\n").splitlines() if not line.endswith("# (default)")]


def test_docs_have_examples():
    assert len(_blocks()) >= 6


@pytest.mark.parametrize("doc, command, expected", _blocks(), ids=[c for _, c, _ in _blocks()])
def test_doc_example_output(doc, command, expected, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    main(shlex.split(command)[1:])
    captured = capsys.readouterr()
    assert _normal(captured.out + captured.err) == _normal(expected)
