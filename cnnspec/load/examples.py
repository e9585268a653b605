"""The example specs that ship with cnnspec: ``cnnspec examples`` and ``cnnspec train digits``.

A wheel carries them as ``cnnspec/examples/*.yaml`` (copied from the
repository's ``specs/`` when it is built); a source checkout reads
``specs/`` itself. A spec argument that names no file but names an example
(``digits``, ``digits.yaml``, or ``specs/digits.yaml`` outside the
repository) is that example, so the commands in the documentation work
after a plain ``pip install``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["Example", "examples_dir", "find_example", "list_examples", "resolve_spec_argument"]

_PACKAGE = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Example:
    """One shipped spec: its name (the file stem), file and first comment line."""

    name: str
    path: Path
    summary: str


def examples_dir() -> Path | None:
    """Where the example specs are: inside the installed package, else the checkout's ``specs/``."""
    for candidate in (_PACKAGE / "examples", _PACKAGE.parent / "specs"):
        if candidate.is_dir() and any(candidate.glob("*.yaml")):
            return candidate
    return None


def _summary(path: Path) -> str:
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        text = line.strip()
        if text.startswith("#"):
            return text.lstrip("#").strip()
        if text:
            break
    return ""


def list_examples() -> list[Example]:
    """Every example spec, by name."""
    directory = examples_dir()
    if directory is None:
        return []
    return [Example(p.stem, p, _summary(p)) for p in sorted(directory.glob("*.yaml"), key=lambda p: p.stem)]


def find_example(name: str) -> Example | None:
    """The example called ``name`` (``digits`` or ``digits.yaml``), if there is one."""
    stem = name[:-5] if name.endswith(".yaml") else name
    return next((e for e in list_examples() if e.name == stem), None)


def resolve_spec_argument(argument: str) -> tuple[str, Example | None]:
    """``(path, example)``: ``argument`` itself when it is a file (or YAML text), else the example it names."""
    path = Path(argument)
    if "\n" in argument or path.exists():
        return argument, None
    if path.parent not in (Path("."), Path("specs")):
        return argument, None
    example = find_example(path.name)
    return (str(example.path), example) if example is not None else (argument, None)
