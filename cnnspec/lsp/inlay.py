"""Inlay hints: the output shape at the end of every layer's line, as the file is written.

A layer of a ``repeat`` block shows its last copy's shape and how many
copies there are; a block (``sequential``, ``residual``, ``concat``...)
shows what it gives on its own line. Several layers on one line (a flow
list) each get the hint right after their own text.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from cnnspec.layer import fmt_shape
from cnnspec.lsp.analysis import Analysis
from cnnspec.lsp.index import layer_infos
from cnnspec.lsp.text import token_end
from cnnspec.render import escape

__all__ = ["MAX_LABEL", "Hint", "inlay_hints"]

#: longest label shown (symbolic shapes can be long); the hover has the whole shape
MAX_LABEL = 60


@dataclass(frozen=True)
class Hint:
    line: int
    col: int
    label: str
    tooltip: str


def _label(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[:MAX_LABEL - 1] + "…"


def inlay_hints(analysis: Analysis, first_line: int = 0, last_line: int | None = None) -> list[Hint]:
    """The hints for lines ``first_line..last_line`` (inclusive)."""
    trace = analysis.any_trace
    if trace is None:
        return []
    lines = analysis.lines
    last_line = len(lines) - 1 if last_line is None else min(last_line, len(lines) - 1)
    placed: list[tuple[int, int, str, str]] = []
    for infos in layer_infos(trace).values():
        info = infos[-1]
        loc = info.location
        if loc is None or not analysis.here(loc) or not first_line <= loc.line - 1 <= last_line:
            continue
        shape = fmt_shape(info.output_shape)
        times = f" ×{len(infos)}" if len(infos) > 1 else ""  # noqa: RUF001 - the multiplication sign is meant
        tooltip = f"{info.qualname}: {info.type} → {shape}" + (f" (last of {len(infos)} copies)" if times else "")
        placed.append((loc.line - 1, loc.column - 1, f"→ {shape}{times}", tooltip))
    per_line = Counter(line for line, *_ in placed)
    out = []
    for line, col, label, tooltip in placed:
        if per_line[line] > 1:
            _, end = token_end(lines, line, col)
        else:
            text = lines[line]
            end = len(text.rstrip())
        out.append(Hint(line, end, escape(_label(label)), escape(tooltip)))
    return sorted(out, key=lambda h: (h.line, h.col))
