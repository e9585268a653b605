"""Safe YAML/JSON loading that remembers where every value came from.

``yaml.safe_load`` forgets positions, keeps the last of two duplicate keys,
reads ``1e-3`` as a string (YAML 1.1) and expands a 342-byte alias bomb into
hundreds of millions of nodes. Here documents are *composed* (not
constructed), and the node tree is turned into plain data by our own code:

* only plain data: any explicit tag (``!!python/object``...) is refused;
* YAML 1.2 core scalars: ``1e-3`` is a float, ``yes``/``no``/``on`` are
  strings, ``true``/``false`` booleans, ``0x1f``/``0o17`` ints;
* duplicate keys are an error naming both lines;
* limits on size, nesting depth, expanded node count and integer digits;
* every value's and key's :class:`~cnnspec.exceptions.Location` is recorded
  under its path (``("model", 3, "conv2d", "kernel_size")``).

The C parser is used when the text cannot nest deeply (it crashes the
interpreter on ~50,000 levels); otherwise the pure-Python one, whose recursion
limit turns deep nesting into an ordinary error.
"""

from __future__ import annotations

import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cnnspec.exceptions import Location, SpecError
from cnnspec.load.document import MAX_BYTES, MAX_DEPTH, MAX_INT_DIGITS, MAX_NODES, Document, PathKey, format_path
from cnnspec.load.json_reader import parse_json
from cnnspec.load.yaml_reader import parse_yaml

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_INT_DIGITS",
    "MAX_NODES",
    "Document",
    "PathKey",
    "format_path",
    "load_document",
    "parse_text",
    "read_text",
]


def parse_text(text: str, file: str = "<string>", *, fmt: str | None = None) -> Document:
    """Parse spec text; ``fmt`` is ``"yaml"`` or ``"json"`` (default: by file name)."""
    if len(text) > MAX_BYTES:
        raise SpecError(
            f"the spec is {len(text)} bytes; at most {MAX_BYTES} are read",
            location=Location(file, 1, 1),
        )
    if fmt is None:
        fmt = "json" if file.lower().endswith(".json") else "yaml"
    if "\x00" in text:
        at = text.index("\x00")
        line = text.count("\n", 0, at) + 1
        raise SpecError("the spec contains a NUL byte; is it a binary file?",
                        location=Location(file, line, at - (text.rfind("\n", 0, at) + 1) + 1))
    return parse_json(text, file) if fmt == "json" else parse_yaml(text, file)


def read_text(path: Path) -> str:
    """The file's text, or a located error (missing, unreadable, not UTF-8)."""
    name = str(path)
    try:
        mode = path.stat().st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError
        if not stat.S_ISREG(mode):
            # a device or a FIFO: /dev/zero never ends, a FIFO may block forever
            raise SpecError(f"{name} is not a regular file (a device, a pipe or a socket)")
        with path.open("rb") as fh:
            raw = fh.read(MAX_BYTES + 1)  # the file may grow after stat()
        if len(raw) > MAX_BYTES:
            raise SpecError(f"the spec is larger than {MAX_BYTES} bytes, the most that is read",
                            location=Location(name, 1, 1))
    except FileNotFoundError:
        raise SpecError(f"no such spec file: {name}") from None
    except IsADirectoryError:
        raise SpecError(f"{name} is a directory, not a spec file") from None
    except OSError as exc:
        raise SpecError(f"cannot read {name}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise SpecError("the spec is not valid UTF-8 text", location=Location(name, line, col)) from None
    return text


def _looks_like_path(source: str) -> bool:
    """A one-line string naming a spec file (by extension, or because it exists) rather than spec text."""
    if "\n" in source or not source.strip():
        return False
    if source.strip().lower().endswith((".yaml", ".yml", ".json")):
        return True
    try:
        return Path(source).exists()
    except (OSError, ValueError):
        return False


def load_document(source: str | Path | Mapping[str, Any]) -> Document:
    """A :class:`Document` from a path, spec text, or an already-parsed mapping."""
    if isinstance(source, Mapping):
        return Document(dict(source), "<dict>")
    if isinstance(source, Path) or _looks_like_path(source):
        path = Path(source)
        return parse_text(read_text(path), str(source))
    return parse_text(source, "<string>")
