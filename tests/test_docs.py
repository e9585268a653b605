"""The docs never drift from the code.

``docs/spec-reference.md`` is regenerated and compared with the committed
file; every spec the docs quote must exist and validate, every ``cnnspec``
command they show must parse, and the output shown for the static commands
(validate, summary, sizes, diff, resolve) must be what they print today.
"""

from __future__ import annotations

import re

import pytest

from cnnspec import load_spec
from cnnspec.shapes.walker import infer_shapes
from tests.conftest import ROOT
from tools.docgen import DEFAULT_OUTPUT, console_blocks, render_reference, run_cli


def test_spec_reference_is_up_to_date():
    committed = (ROOT / DEFAULT_OUTPUT).read_text(encoding="utf-8")
    if committed != render_reference():
        pytest.fail("docs/spec-reference.md is out of date; regenerate it with: python -m tools.docgen")


def test_reference_lists_every_builtin_layer_and_argument():
    from cnnspec.plugins.manager import PluginSet

    text = (ROOT / DEFAULT_OUTPUT).read_text(encoding="utf-8")
    for entry in PluginSet(autoload=False).layers():
        section = text.split(f"\n### {entry.name.lower()}\n", 1)[1].split("\n### ", 1)[0]
        for field in entry.obj.params.model_fields:
            if field != "name":
                assert f"| `{field}` |" in section, (entry.name, field)


# -- tutorials -----------------------------------------------------------------------------------

TUTORIAL_DIR = ROOT / "docs" / "tutorials"
PAGES = sorted(TUTORIAL_DIR.glob("[0-9][0-9][0-9]-*.md"))
SPEC_PATH = re.compile(r"[\w./-]*specs/[\w./-]+\.ya?ml")


def page_id(page):
    return page.stem


def test_there_is_a_walkthrough_for_each_seed():
    assert [p.name[:3] for p in PAGES] == ["000", "001", "002", "003", "004"]


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_shown_outputs_are_what_the_commands_print(page, monkeypatch):
    monkeypatch.chdir(ROOT)
    text = page.read_text(encoding="utf-8")
    blocks = [b for b in console_blocks(text) if b.refreshed]
    assert blocks, "each walkthrough shows at least one checked command"
    for block in blocks:
        assert block.output == run_cli(block.argv[1:]), (
            f"{page.name}: the output of `{block.command}` changed; refresh with: python -m tools.docgen")


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_quoted_spec_exists_and_validates(page, monkeypatch):
    monkeypatch.chdir(ROOT)
    found = set(SPEC_PATH.findall(page.read_text(encoding="utf-8")))
    assert found
    for quoted in sorted(found):
        path = next((p for p in (ROOT / quoted, page.parent / quoted) if p.is_file()), None)
        assert path is not None, f"{page.name} quotes {quoted}, which does not exist"
        infer_shapes(load_spec(path))


def _spec_args(args) -> list[str]:
    files = list(getattr(args, "files", None) or [])
    for attr in ("file", "spec", "a", "b"):
        value = getattr(args, attr, None)
        if isinstance(value, str):
            files.append(value)
    return files


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_command_parses_and_its_spec_validates(page, monkeypatch):
    """Commands whose output is not regenerated (train, evaluate, export, explain)
    must still be accepted by the CLI, with specs that validate under their --set."""
    from cnnspec.cli import build_parser

    monkeypatch.chdir(ROOT)
    parser = build_parser()
    commands = [b for b in console_blocks(page.read_text(encoding="utf-8")) if b.argv[0] == "cnnspec"]
    assert commands
    for block in commands:
        try:
            args = parser.parse_args(block.argv[1:])
        except SystemExit:
            pytest.fail(f"{page.name}: `{block.command}` is not a valid command line")
        if block.refreshed:
            continue  # checked by its output
        for file in _spec_args(args):
            infer_shapes(load_spec(file, overrides=getattr(args, "overrides", [])))
