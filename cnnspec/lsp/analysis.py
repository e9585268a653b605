"""One look at a document: everything ``cnnspec validate`` finds, kept for every question an editor asks.

:func:`analyze` runs the same stages as ``validate`` — read, compose
(``extends:`` from disk, ``vars:``), validate, infer shapes, check the model
against its data and loss — on the editor's text, and keeps what each stage
produced, so hover, inlay hints, symbols and completion read the results
instead of recomputing them. It never raises: a user's mistake is an error in
the result, and so is a bug in a plugin (a shape rule that crashes), which
must not take the server down.

When a shape error stops inference at a top-level layer, the layers before
it are still inferred (a trace of the prefix), so their shapes stay visible
while the user fixes the one that does not fit.
"""

from __future__ import annotations

import dataclasses
import os
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

from cnnspec.exceptions import Location, ShapeError, SpecError
from cnnspec.load.compose import Composed, compose_document
from cnnspec.load.document import Document
from cnnspec.load.reader import parse_text
from cnnspec.plugins.manager import PluginSet
from cnnspec.shapes.trace import ShapeTrace
from cnnspec.shapes.walker import infer_shapes
from cnnspec.spec import Spec, parse_spec

__all__ = ["Analysis", "analyze", "same_file"]


@dataclass
class Analysis:
    """What one pass over a document's text found.

    ``parsed`` is false when the text is not readable data (a YAML syntax
    error, a NUL byte, too large): then only ``errors`` is set. ``trace`` is
    the whole network's trace, or ``partial`` holds the trace of the layers
    before a shape error.
    """

    file: str
    text: str
    version: int | None = None
    parsed: bool = False
    document: Document | None = None
    composed: Composed | None = None
    spec: Spec | None = None
    trace: ShapeTrace | None = None
    partial: ShapeTrace | None = None
    error: SpecError | None = None
    errors: list[SpecError] = field(default_factory=list)
    internal: str | None = None
    seconds: float = 0.0
    cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def lines(self) -> list[str]:
        if "lines" not in self.cache:
            self.cache["lines"] = self.text.split("\n")
        return self.cache["lines"]

    @property
    def json_file(self) -> bool:
        return self.file.lower().endswith(".json")

    @property
    def any_trace(self) -> ShapeTrace | None:
        return self.trace or self.partial

    def here(self, location: Location | None) -> bool:
        """Whether ``location`` is in this document (not in a base it extends)."""
        return location is not None and same_file(location.file, self.file)


def same_file(a: str, b: str) -> bool:
    return os.path.abspath(a) == os.path.abspath(b)


def _copy(doc: Document) -> Document:
    """Composition edits the document it is given; the raw one is kept for positions."""
    return Document(doc.data, doc.file, dict(doc.positions), dict(doc.key_positions))


def _prefix_trace(spec: Spec, error: SpecError) -> ShapeTrace | None:
    """The trace of the top-level layers before the one that failed."""
    key = error.key or ()
    if len(key) < 2 or key[0] != "model" or not isinstance(key[1], int) or key[1] == 0:
        return None
    kept = tuple(n for n in spec.layers if isinstance(n.path[1], int) and n.path[1] < key[1])
    if not kept:
        return None
    try:
        return infer_shapes(dataclasses.replace(spec, layers=kept), input_shape=spec.input)
    except Exception:
        return None


def analyze(text: str, file: str, plugins: PluginSet, *, version: int | None = None) -> Analysis:
    """Every stage of ``validate`` on ``text`` (named ``file``, whose folder holds its bases)."""
    start = time.perf_counter()
    result = Analysis(file, text, version)
    try:
        _run(result, plugins)
    except Exception as exc:  # a bug (a plugin's, or ours): reported, never fatal
        frames = traceback.extract_tb(exc.__traceback__)
        where = f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""
        result.internal = f"{type(exc).__name__}: {exc}{where}"
    result.seconds = time.perf_counter() - start
    return result


def _run(result: Analysis, plugins: PluginSet) -> None:
    try:
        doc = parse_text(result.text, result.file)
    except SpecError as exc:
        result.errors = exc.all_errors()
        result.error = exc
        return
    result.parsed = True
    result.document = doc
    try:
        result.composed = compose_document(_copy(doc))
        result.spec = parse_spec(result.composed.document, plugins=plugins)
        result.trace = infer_shapes(result.spec)
        from cnnspec.analysis.consistency import check_spec

        check_spec(result.spec, result.trace)
    except SpecError as exc:
        result.error = exc
        result.errors = exc.all_errors()
        if isinstance(exc, ShapeError) and result.spec is not None and result.trace is None:
            result.partial = _prefix_trace(result.spec, exc)
