"""The laid-out picture as a PNG, through matplotlib's Agg renderer and its bundled font.

No system package is needed (no graphviz, no cairo): matplotlib ships the
DejaVu fonts the layout is measured for. Very tall pictures are drawn at a
lower resolution so no side passes matplotlib's limit.
"""

from __future__ import annotations

import io
from typing import Any

from cnnspec.draw.layout import CHAR_W, FONT_PX, FRAME_TITLE, PAD_X, Scene
from cnnspec.draw.style import ARROW, FONT_FAMILY, FRAME, PALETTE, TEXT, arrowhead, baseline
from cnnspec.render import escape

__all__ = ["MAX_PIXELS", "png", "rgb"]

DPI = 100.0
#: the longest side of a PNG, in pixels (matplotlib refuses 2**16)
MAX_PIXELS = 30000


def _figure(scene: Scene, scale: float) -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure
    from matplotlib.patches import Circle, FancyBboxPatch, Polygon

    dpi = DPI * scale
    fig = Figure(figsize=(scene.width / DPI, scene.height / DPI), dpi=dpi)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, scene.width)
    ax.set_ylim(scene.height, 0)
    ax.axis("off")
    size = FONT_PX * 72.0 / DPI  # points, at the figure's own dpi scale
    font = {"family": FONT_FAMILY, "size": size}
    fill, stroke, ink = FRAME
    for f in scene.frames:
        ax.add_patch(FancyBboxPatch((f.x, f.y), f.w, f.h, boxstyle="round,pad=0,rounding_size=6", facecolor=fill,
                                    edgecolor=stroke, linestyle="--" if f.dashed else "-", linewidth=0.9,
                                    alpha=0.9))
        label = f.title + (f"  → {f.subtitle}" if f.subtitle else "")
        if len(label) * CHAR_W > f.w - 2 * PAD_X:
            label = f.title
        ax.text(f.x + PAD_X, f.y + FRAME_TITLE - 6, escape(label), color=ink, fontweight="bold", **font)
    for edge in scene.edges:
        xs, ys = zip(*edge.points)
        ax.plot(xs, ys, color=ARROW, linewidth=0.9, solid_joinstyle="miter")
        if edge.arrow:
            ax.add_patch(Polygon(arrowhead(edge.points[-2], edge.points[-1]), closed=True, facecolor=ARROW,
                                 edgecolor="none"))
    for placed in scene.boxes:
        fill, stroke = PALETTE.get(placed.box.category, PALETTE["other"])
        ax.add_patch(FancyBboxPatch((placed.x, placed.y), placed.w, placed.h,
                                    boxstyle="round,pad=0,rounding_size=4", facecolor=fill, edgecolor=stroke,
                                    linewidth=0.9))
        for i, line in enumerate(placed.lines):
            ax.text(placed.x + PAD_X, baseline(placed.y, i), line, color=TEXT[0] if i == 0 else TEXT[1],
                    fontweight="bold" if i == 0 else "normal", va="baseline", **font)
    for m in scene.merges:
        if m.kind == "+":
            ax.add_patch(Circle((m.cx, m.cy), m.h / 2, facecolor="#ffffff", edgecolor=ARROW, linewidth=0.9))
            ax.text(m.cx, m.cy, "+", ha="center", va="center", fontweight="bold", color=TEXT[0], **font)
        else:
            ax.add_patch(FancyBboxPatch((m.cx - m.w / 2, m.cy - m.h / 2), m.w, m.h,
                                        boxstyle="round,pad=0,rounding_size=9", facecolor="#ffffff",
                                        edgecolor=ARROW, linewidth=0.9))
            ax.text(m.cx, m.cy, "concat", ha="center", va="center", color=TEXT[0], **font)
        ax.text(m.cx + m.w / 2 + 6, m.cy, escape(m.label), va="center", color=TEXT[1], **font)
    return fig


def _scale(scene: Scene) -> float:
    longest = max(scene.width, scene.height)
    return min(1.5, MAX_PIXELS / longest)


def png(scene: Scene) -> bytes:
    """The PNG file's bytes (1.5 pixels per layout unit, less for very large pictures)."""
    fig = _figure(scene, _scale(scene))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi, facecolor="#ffffff")
    return buf.getvalue()


def rgb(scene: Scene, *, max_side: int = 4096) -> Any:
    """The picture as an ``H x W x 3`` uint8 array (for TensorBoard), at most ``max_side`` pixels a side."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    scale = min(1.0, max_side / max(scene.width, scene.height))
    fig = _figure(scene, scale)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()
