"""How every message cnnspec shows looks: located errors, hints, fix-its, warnings.

One renderer for the command line, the exceptions' own ``str()`` and any
other front end, so a message reads the same wherever it surfaces::

    specs/bad.yaml:8:5: model[4] conv2d 'conv3': output height would be 0: ...
      Hint: kernel_size <= 4, or padding >= 1, or a larger input.
      Fixes (each one alone makes the spec valid):
        model[4].conv2d.padding: 0 (default) -> 1

It sits in the contract, below every stage, and knows errors only by their
attributes (``location``, ``path``, ``message``, ``hint``, ``others``; a fix's
``description`` and ``location``), so it imports nothing of cnnspec.

Text that came from a file (names, keys, values, a spec stored in a
checkpoint) may hold terminal control sequences: :func:`escape` makes them
visible instead of letting them clear the screen or forge output.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

__all__ = [
    "FIXES_HEADER",
    "HINT_PREFIX",
    "escape",
    "indent",
    "render_error",
    "render_fixes",
    "render_located",
    "render_message",
    "render_warning",
]

#: what starts a hint line under a message
HINT_PREFIX = "\n  Hint: "
#: the line above a list of fix-its
FIXES_HEADER = "  Fixes (each one alone makes the spec valid):"

# C0 controls but tab and newline, DEL, C1 controls, and the bidi overrides that reorder what is shown
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def escape(text: str) -> str:
    """``text`` with control characters shown as escapes (``\\x1b``), newlines and tabs kept."""
    return _CONTROL.sub(lambda m: m.group(0).encode("unicode_escape").decode("ascii"), text)


def render_message(message: str, hint: str | None = None) -> str:
    """A message and its hint line."""
    return message + (f"{HINT_PREFIX}{hint}" if hint else "")


def render_located(error: Any) -> str:
    """One located error: ``file:line:col: path: message`` and its hint line.

    Messages that name their subject (``model[3] conv2d 'c': ...``) get no
    path prefix; an error without a location (a spec given as a Python dict)
    is located by its path alone.
    """
    location = getattr(error, "location", None)
    head = f"{location}: " if location else ""
    path = getattr(error, "path", "") or ""
    top = path.split(".")[0].split("[")[0]
    where = f"{path}: " if path and not error.message.startswith(top) else ""
    return render_message(f"{head}{where}{error.message}", getattr(error, "hint", None))


def _all_errors(error: Any) -> list[Any]:
    out = [error]
    for other in getattr(error, "others", ()):
        out.extend(_all_errors(other))
    return out


def render_fixes(fixes: Sequence[Any], here: str | None = None) -> str:
    """The fix-it lines under an error (empty without fixes).

    A fix in another file than the error (a base spec, a ``--set``) says where.
    """
    if not fixes:
        return ""
    lines = [FIXES_HEADER]
    for fix in fixes:
        loc = getattr(fix, "location", None)
        where = ""
        if loc is not None and loc.file != here:
            where = f"  [{loc.file}]" if loc.file.startswith("--set") else f"  [{loc.file}:{loc.line}]"
        lines.append(f"    {fix.description}{where}")
    return "\n".join(lines)


def render_error(error: BaseException, fixes: Sequence[Any] = (), *, prefix: str = "error: ") -> str:
    """The whole report of one error as a user sees it.

    A located error (it has ``location``) prints every problem found in the
    same pass, then its fix-its; any other error prints ``prefix`` (``error:``)
    with its message and hint. Control characters are escaped.
    """
    if hasattr(error, "location") and hasattr(error, "message"):
        text = "\n".join(render_located(e) for e in _all_errors(error))
        extra = render_fixes(fixes, getattr(getattr(error, "location", None), "file", None))
        if extra:
            text += "\n" + extra
    else:
        message = getattr(error, "message", None)
        if message is None:
            message = str(error)
        text = prefix + render_message(message, getattr(error, "hint", None))
    return escape(text)


def render_warning(message: str, hint: str | None = None) -> str:
    """A warning line (something ignored or degraded, not a failure)."""
    return escape("warning: " + render_message(message, hint))


def indent(text: str, prefix: str = "  ") -> str:
    """A nested report (a size check's error under its size): every line indented."""
    return "\n".join(prefix + line for line in text.splitlines())
