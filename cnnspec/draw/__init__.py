"""Pictures of a network from its static trace: SVG and PNG with nothing to install, DOT for graphviz.

It reads only the :class:`~cnnspec.shapes.trace.ShapeTrace` — no torch —
so it sits just above the shape stage: ``cnnspec draw`` uses it, and so does
a training run, which leaves ``architecture.svg`` in its run directory and
the picture in TensorBoard.

    picture = render(trace, "svg", depth=3)
"""

from __future__ import annotations

import warnings
from pathlib import Path

from cnnspec.atomic import atomic_write
from cnnspec.draw.diagram import Box, Element, Parallel, Series, diagram, elements
from cnnspec.draw.dot import dot
from cnnspec.draw.layout import Scene, layout
from cnnspec.draw.svg import svg
from cnnspec.shapes.trace import ShapeTrace

__all__ = [
    "FORMATS",
    "RUN_PICTURE",
    "Box",
    "Element",
    "Parallel",
    "Scene",
    "Series",
    "diagram",
    "elements",
    "layout",
    "render",
    "write_picture",
    "write_run_picture",
]

#: file suffix -> format
FORMATS = {".svg": "svg", ".png": "png", ".dot": "dot", ".gv": "dot"}
#: what a training run leaves in its run directory
RUN_PICTURE = "architecture.svg"


def render(trace: ShapeTrace, fmt: str, *, depth: int | None = None) -> bytes:
    """The picture of ``trace`` as ``svg``, ``png`` or ``dot`` bytes."""
    root = diagram(trace, depth)
    title = trace.spec.name
    if fmt == "dot":
        return dot(root, title=title).encode()
    scene = layout(root)
    if fmt == "svg":
        return svg(scene, title=title).encode()
    if fmt == "png":
        from cnnspec.draw.raster import png

        return png(scene)
    raise ValueError(f"unknown picture format {fmt!r}; formats: svg, png, dot")


def write_picture(trace: ShapeTrace, path: str | Path, *, depth: int | None = None) -> Path:
    """Write the picture to ``path``, its format from the suffix (``.svg``, ``.png``, ``.dot``)."""
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"{path}: unknown picture format; write .svg, .png or .dot")
    atomic_write(path, render(trace, fmt, depth=depth))
    return path


def write_run_picture(trace: ShapeTrace, run_dir: str | Path) -> Path | None:
    """``architecture.svg`` in a run directory; a failure warns and the run goes on (it is a convenience)."""
    try:
        return write_picture(trace, Path(run_dir) / RUN_PICTURE)
    except Exception as exc:
        warnings.warn(f"could not draw the architecture ({type(exc).__name__}: {exc})", RuntimeWarning,
                      stacklevel=2)
        return None
