"""The laid-out picture as SVG text: no font engine, no graphviz, nothing to install.

Every box is a group with a ``<title>`` (its qualified module name, shown
as a tooltip by browsers) and ``data-key``, so the file is also easy to
search and to post-process.
"""

from __future__ import annotations

from xml.sax.saxutils import escape as xml_escape
from xml.sax.saxutils import quoteattr

from cnnspec.draw.layout import CHAR_W, FONT_PX, FRAME_TITLE, PAD_X, Scene
from cnnspec.draw.style import ARROW, FONT_FAMILY, FRAME, PALETTE, TEXT, arrowhead, baseline
from cnnspec.render import escape

__all__ = ["svg"]


def _n(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _text(text: str) -> str:
    return xml_escape(escape(text))


def svg(scene: Scene, *, title: str = "") -> str:
    """The SVG document of ``scene``."""
    w, h = _n(scene.width), _n(scene.height)
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
        f'font-family="{FONT_FAMILY}, Menlo, Consolas, monospace" font-size="{_n(FONT_PX)}">',
    ]
    if title:
        out.append(f"<title>{_text(title)}</title>")
    out.append(f'<rect width="{w}" height="{h}" fill="#ffffff"/>')
    fill, stroke, ink = FRAME
    for f in scene.frames:
        dash = ' stroke-dasharray="4 3"' if f.dashed else ""
        out.append(f'<rect x="{_n(f.x)}" y="{_n(f.y)}" width="{_n(f.w)}" height="{_n(f.h)}" rx="6" '
                   f'fill="{fill}" fill-opacity="0.6" stroke="{stroke}"{dash}/>')
        label = f.title + (f"  → {f.subtitle}" if f.subtitle else "")
        if len(label) * CHAR_W > f.w - 2 * PAD_X:
            label = f.title
        out.append(f'<text x="{_n(f.x + PAD_X)}" y="{_n(f.y + FRAME_TITLE - 6)}" fill="{ink}" '
                   f'font-weight="bold">{_text(label)}</text>')
    for edge in scene.edges:
        points = " ".join(f"{_n(x)},{_n(y)}" for x, y in edge.points)
        out.append(f'<polyline points="{points}" fill="none" stroke="{ARROW}" stroke-width="1.2"/>')
        if edge.arrow and len(edge.points) >= 2:
            head = " ".join(f"{_n(x)},{_n(y)}" for x, y in arrowhead(edge.points[-2], edge.points[-1]))
            out.append(f'<polygon points="{head}" fill="{ARROW}"/>')
    for placed in scene.boxes:
        fill, stroke = PALETTE.get(placed.box.category, PALETTE["other"])
        out.append(f"<g data-key={quoteattr(placed.box.key)}><title>{_text(placed.box.key)}</title>")
        out.append(f'<rect x="{_n(placed.x)}" y="{_n(placed.y)}" width="{_n(placed.w)}" height="{_n(placed.h)}" '
                   f'rx="4" fill="{fill}" stroke="{stroke}" stroke-width="1.2"/>')
        for i, line in enumerate(placed.lines):
            weight = ' font-weight="bold"' if i == 0 else ""
            out.append(f'<text x="{_n(placed.x + PAD_X)}" y="{_n(baseline(placed.y, i))}" '
                       f'fill="{TEXT[0] if i == 0 else TEXT[1]}"{weight} xml:space="preserve">{_text(line)}</text>')
        out.append("</g>")
    for m in scene.merges:
        if m.kind == "+":
            out.append(f'<circle cx="{_n(m.cx)}" cy="{_n(m.cy)}" r="{_n(m.h / 2)}" fill="#ffffff" stroke="{ARROW}" '
                       'stroke-width="1.2"/>')
            out.append(f'<text x="{_n(m.cx)}" y="{_n(m.cy + 4.5)}" text-anchor="middle" font-weight="bold" '
                       f'fill="{TEXT[0]}">+</text>')
        else:
            out.append(f'<rect x="{_n(m.cx - m.w / 2)}" y="{_n(m.cy - m.h / 2)}" width="{_n(m.w)}" '
                       f'height="{_n(m.h)}" rx="9" fill="#ffffff" stroke="{ARROW}" stroke-width="1.2"/>')
            out.append(f'<text x="{_n(m.cx)}" y="{_n(m.cy + 4)}" text-anchor="middle" fill="{TEXT[0]}">concat</text>')
        out.append(f'<text x="{_n(m.cx + m.w / 2 + 6)}" y="{_n(m.cy + 4)}" fill="{TEXT[1]}">{_text(m.label)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
