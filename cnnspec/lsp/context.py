"""Where the cursor is in a half-typed spec: the key path around it and what may be typed there.

Completion runs on text that often does not parse (``- conv2d: {out_``),
so the structure is read from the text itself, tolerantly: the block
structure from indentation (each less-indented ``key:`` or ``- `` above is a
parent), the flow structure of the current line from its brackets. The
result is a path such as ``["model", ITEM, "conv2d"]`` and whether a key, a
value (of which key) or a list item is being typed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["ITEM", "Context", "context_at"]

#: a list item in a context path
ITEM = "[]"


@dataclass
class Context:
    """``path`` leads to the mapping or list being typed in; ``kind`` is ``key``, ``value`` or ``item``."""

    path: list[str] = field(default_factory=list)
    kind: str = "key"
    key: str = ""  # the key whose value is typed (kind == "value")
    prefix: str = ""  # the partial word before the cursor
    start: int = 0  # its column
    flow: bool = False  # inside [...] or {...} on this line
    siblings: set[str] = field(default_factory=set)  # keys already written in this flow mapping


def _parent_tokens(line: str) -> list[tuple[int, str]]:
    """``(column, token)`` a line can open: a ``- `` item per dash, and ``key:`` without an inline value."""
    out: list[tuple[int, str]] = []
    i = len(line) - len(line.lstrip(" "))
    while line[i:i + 2] in ("- ", "-") and (line[i:i + 2] == "- " or i + 1 == len(line.rstrip())):
        out.append((i, ITEM))
        i += 2
        while i < len(line) and line[i] == " ":
            i += 1
    rest = line[i:].split(" #", 1)[0].rstrip()
    if rest.endswith(":") and rest[:-1].strip() and not any(c in rest for c in "{}[],"):
        out.append((i, rest[:-1].strip().strip("\"'")))
    elif ": " in rest:  # `key: value` opens nothing, but `- key: value` starts an item's mapping
        out.append((i, "\0" + rest.split(":", 1)[0].strip()))
    return out


def _block_path(lines: Sequence[str], line: int, limit: int) -> list[str]:
    """The block ancestors of a position at column ``limit`` on ``line``."""
    path: list[str] = []
    for ln in range(line - 1, -1, -1):
        if limit <= 0:
            break
        text = lines[ln]
        stripped = text.strip()
        if not stripped or stripped.startswith("#") or stripped in ("---", "..."):
            continue
        tokens = [(c, t) for c, t in _parent_tokens(text) if c < limit]
        if not tokens:
            continue
        # a `- key: value` sibling above shares its item; `key: value` at this indent opens nothing
        tokens = [(c, t) for c, t in tokens if not t.startswith("\0")]
        if not tokens:
            indent = len(text) - len(text.lstrip(" "))
            limit = min(limit, indent + 1) if indent < limit else limit
            continue
        path[:0] = [t for _, t in tokens]
        limit = tokens[0][0]
    return path


def context_at(lines: Sequence[str], line: int, col: int) -> Context:
    """The completion context at ``(line, col)``."""
    text = lines[line] if line < len(lines) else ""
    before = text[:col]
    ctx = Context()
    i = indent = len(before) - len(before.lstrip(" "))
    local: list[str] = []
    kind = "key"
    while before[i:i + 2] == "- " or before[i:] == "-":
        local.append(ITEM)
        kind = "item"
        i += 2
        while i < len(before) and before[i] == " ":
            i += 1
    # ancestors are less indented than this line's first token (its own dash, if it has one)
    ctx.path = _block_path(lines, line, indent if before.strip() else col)
    stack: list[tuple[str, int]] = []  # ("map" | "seq", number of path parts it added)
    word_start, key, quote = i, "", ""
    j = i
    while j < len(before):
        ch = before[j]
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'" and j == word_start:
            quote = ch
        elif ch == "{":
            added = [key] if key else []
            local += added
            stack.append(("map", len(added)))
            kind, key, ctx.siblings = "key", "", set()
            word_start = j + 1
        elif ch == "[":
            added = ([key] if key else []) + [ITEM]
            local += added
            stack.append(("seq", len(added)))
            kind, key = "item", ""
            word_start = j + 1
        elif ch in "}]":
            if stack:
                _, n = stack.pop()
                del local[len(local) - n:]
            kind, key = "after", ""
            word_start = j + 1
        elif ch == ",":
            kind = "item" if stack and stack[-1][0] == "seq" else "key"
            key = ""
            word_start = j + 1
        elif ch == ":" and before[j + 1:j + 2] in (" ", ""):
            key = before[word_start:j].strip().strip("\"'")
            if stack and stack[-1][0] == "map":
                ctx.siblings.add(key)
            kind = "value"
            word_start = j + 1
        j += 1
    ctx.flow = bool(stack)
    ctx.path += local
    ctx.kind = kind if kind != "after" else "key"
    ctx.key = key if kind == "value" else ""
    word = before[word_start:]
    stripped = word.lstrip(" \"'")
    ctx.prefix = stripped
    ctx.start = len(before) - len(stripped)
    return ctx
