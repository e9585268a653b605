"""docs/sweeps.md never drifts: every command it shows parses, and its sweeps pass the static checks."""

from __future__ import annotations

import re

import pytest

from tests.conftest import ROOT
from tools.docgen import console_blocks

PAGE = ROOT / "docs" / "sweeps.md"


def _commands() -> list[str]:
    return [b.command for b in console_blocks(PAGE.read_text(encoding="utf-8")) if b.argv[0] == "cnnspec"]


def test_the_page_shows_commands():
    assert len(_commands()) >= 3


@pytest.mark.parametrize("command", _commands())
def test_every_command_parses_and_its_space_is_valid(command, monkeypatch, tmp_path, capsys):
    from cnnspec.cli import build_parser, main

    monkeypatch.chdir(ROOT)
    import shlex

    argv = shlex.split(command)[1:]
    args = build_parser().parse_args(argv)
    assert args.command == "sweep"
    if args.storage is None:  # a shared storage is not there to reach; the rest is checked statically
        assert main([*argv, "--check", "--dir", str(tmp_path / "s")]) == 0, capsys.readouterr().err
    else:
        cut = argv.index("--storage")
        assert main([*argv[:cut], *argv[cut + 2:], "--check", "--dir", str(tmp_path / "s")]) == 0


def test_every_quoted_message_is_one_the_code_prints():
    """The error lines quoted on the page are pinned by tests/sweep/test_checks.py and test_space.py."""
    text = PAGE.read_text(encoding="utf-8")
    tests = (ROOT / "tests" / "sweep" / "test_checks.py").read_text() + \
        (ROOT / "tests" / "sweep" / "test_space.py").read_text()
    for quoted in re.findall(r"--sweep\[0\]:1:\d+: [^`\n]+", text):
        assert quoted.split(": ", 1)[1][:50] in tests, quoted
