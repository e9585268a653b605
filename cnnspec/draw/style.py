"""How the picture looks, shared by every renderer: colours by layer kind, arrowheads, baselines.

Colours say what a layer does at a glance (convolutions blue, normalisation
green, activations amber, pooling violet, linear layers red); the SVG and PNG
renderers read them from here so both pictures are the same picture.
"""

from __future__ import annotations

import math

from cnnspec.draw.layout import LINE_H, PAD_Y, Point

__all__ = ["ARROW", "FONT_FAMILY", "FRAME", "PALETTE", "TEXT", "arrowhead", "baseline"]

#: category -> (fill, stroke)
PALETTE: dict[str, tuple[str, str]] = {
    "conv": ("#dbeafe", "#2563eb"),
    "norm": ("#dcfce7", "#16a34a"),
    "activation": ("#fef3c7", "#d97706"),
    "pool": ("#ede9fe", "#7c3aed"),
    "linear": ("#fee2e2", "#dc2626"),
    "dropout": ("#f3f4f6", "#9ca3af"),
    "shape": ("#f3f4f6", "#6b7280"),
    "block": ("#e0f2fe", "#0369a1"),
    "io": ("#ffffff", "#111827"),
    "other": ("#f5f5f4", "#78716c"),
}
#: frame fill, stroke, title colour
FRAME = ("#f8fafc", "#94a3b8", "#334155")
#: first line, other lines
TEXT = ("#111827", "#374151")
ARROW = "#475569"
FONT_FAMILY = "DejaVu Sans Mono"
#: arrowhead length and half width
_HEAD = (7.0, 3.5)


def arrowhead(before: Point, tip: Point) -> list[Point]:
    """The triangle at ``tip`` of a segment coming from ``before``."""
    dx, dy = tip[0] - before[0], tip[1] - before[1]
    length = math.hypot(dx, dy) or 1.0
    ux, uy = dx / length, dy / length
    back = (tip[0] - ux * _HEAD[0], tip[1] - uy * _HEAD[0])
    return [tip, (back[0] - uy * _HEAD[1], back[1] + ux * _HEAD[1]), (back[0] + uy * _HEAD[1], back[1] - ux * _HEAD[1])]


def baseline(top: float, line: int) -> float:
    """The text baseline of line ``line`` (0-based) in a box whose top is ``top``."""
    return top + PAD_Y + (line + 1) * LINE_H - 3.5
