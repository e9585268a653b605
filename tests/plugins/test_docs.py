"""docs/plugins.md is followed literally: its files make a plugin that installs,
is listed, validates specs, and passes its own tests; its console transcripts
are what cnnspec prints; its hook reference is the one in cnnspec/hookspec.py."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cnnspec.cli.commands.plugins import hooks_markdown
from tests.plugins.conftest import shared_once
from tests.plugins.distributions import ROOT, pip_install

DOC = ROOT / "docs" / "plugins.md"
FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```$", re.S | re.M)


def _section(title_prefix: str) -> str:
    text = DOC.read_text()
    start = text.index(f"\n## {title_prefix}")
    end = text.find("\n## ", start + 1)
    return text[start:end if end >= 0 else None]


def _blocks(text: str) -> list[tuple[str, dict[str, str], str]]:
    out = []
    for lang, info, body in FENCE.findall(text):
        attrs = dict(re.findall(r"(\w+)=(\S+)", info))
        out.append((lang, attrs, body))
    return out


def _transcripts() -> list[tuple[str, list[str]]]:
    """``(command, expected output lines)`` for each ``$ cnnspec ...`` in part 1."""
    out = []
    for lang, _, body in _blocks(_section("1.")):
        if lang != "console":
            continue
        command, expected = None, []
        for line in body.splitlines():
            if line.startswith("$ "):
                if command:
                    out.append((command, expected))
                command, expected = line[2:], []
            else:
                expected.append(line)
        if command:
            out.append((command, expected))
    return out


def _matches(expected: list[str], actual: list[str]) -> bool:
    """Line by line; a line ``...`` stands for any lines, a line ending in `` ...`` for any ending."""
    if not expected:
        return not actual
    head, rest = expected[0], expected[1:]
    if head == "...":
        return any(_matches(rest, actual[i:]) for i in range(len(actual) + 1))
    if not actual:
        return False
    ok = actual[0].startswith(head[:-3]) if head.endswith(" ...") else actual[0] == head
    return ok and _matches(rest, actual[1:])


@pytest.fixture(scope="module")
def tutorial(tmp_path_factory, worker_id) -> dict[str, Path]:
    """The tutorial's files, written exactly as the doc shows them, and pip-installed."""

    def make(root: Path) -> dict[str, str]:
        project = root / "cnnspec-spacetodepth"
        for _, attrs, body in _blocks(_section("1.")):
            if "file" in attrs:
                path = project / attrs["file"]
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(body)
        build = root / "build-copy"
        shutil.copytree(project, build)
        pip_install([build], root / "site")
        return {"project": str(project), "site": str(root / "site")}

    made = shared_once(tmp_path_factory, worker_id, "cnnspec-doc-tutorial", make)
    return {k: Path(v) for k, v in made.items()}


def _run(tutorial: dict[str, Path], command: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CNNSPEC_DISABLE_PLUGIN_AUTOLOAD"}
    env["PYTHONPATH"] = str(tutorial["site"])
    argv = command.split()
    if argv[0] == "cnnspec":
        argv = [sys.executable, "-m", "cnnspec", *argv[1:]]
    elif argv[0] == "pytest":
        argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *argv[1:]]
    return subprocess.run(argv, capture_output=True, text=True, env=env, cwd=tutorial["project"], timeout=600)


def test_the_doc_holds_a_whole_plugin():
    files = {attrs["file"] for _, attrs, _ in _blocks(_section("1.")) if "file" in attrs}
    assert files == {"pyproject.toml", "src/cnnspec_spacetodepth/__init__.py", "tests/test_spacetodepth.py",
                     "spec.yaml", "bad.yaml"}
    commands = [c for c, _ in _transcripts()]
    assert commands == ["pip install -e .", "cnnspec plugins", "cnnspec validate spec.yaml",
                        "cnnspec validate bad.yaml", "pytest -q tests"]


@pytest.mark.parametrize("command", ["cnnspec plugins", "cnnspec validate spec.yaml", "cnnspec validate bad.yaml"])
def test_transcripts_are_what_cnnspec_prints(tutorial, command):
    (expected,) = [lines for c, lines in _transcripts() if c == command]
    done = _run(tutorial, command)
    actual = (done.stdout + done.stderr).splitlines()
    assert _matches(expected, actual), "\n".join(actual)
    assert done.returncode == (2 if "bad" in command else 0)


def test_the_tutorial_plugin_is_listed_as_json(tutorial):
    import json

    report = json.loads(_run(tutorial, "cnnspec plugins --format json").stdout)
    (plugin,) = [p for p in report["plugins"] if p["name"] == "spacetodepth"]
    assert plugin["status"] == "loaded"
    assert (plugin["distribution"], plugin["version"]) == ("cnnspec-spacetodepth", "0.1.0")
    assert plugin["registers"] == {"layer": ["SpaceToDepth"]}


def test_the_tutorial_layer_agrees_with_torch(tutorial, monkeypatch):
    from cnnspec.testing import check_layer

    monkeypatch.syspath_prepend(str(tutorial["site"]))
    from cnnspec_spacetodepth import SPACE_TO_DEPTH

    report = check_layer(SPACE_TO_DEPTH, trials=100, seed=3)
    assert report.accepted > 0


@pytest.mark.slow
def test_the_tutorial_tests_pass(tutorial):
    (expected,) = [lines for c, lines in _transcripts() if c == "pytest -q tests"]
    done = _run(tutorial, "pytest -q tests")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[0] == expected[0]


def test_hook_reference_is_generated_from_hookspec():
    text = DOC.read_text()
    start = text.index("<!-- hooks:start -->\n") + len("<!-- hooks:start -->\n")
    end = text.index("<!-- hooks:end -->")
    assert text[start:end] == hooks_markdown(), "regenerate with `cnnspec plugins --hooks`"


def test_every_hook_is_documented_in_hookspec():
    from cnnspec import hookspec
    from cnnspec.plugins.manager import KINDS, hook_names

    assert set(KINDS.values()) <= set(hook_names())
    for name in hook_names():
        assert len((getattr(hookspec, name).__doc__ or "").split()) > 30, name
