"""Open documents, their analyses, and how often they are re-analysed.

Each open document keeps two analyses: the latest, and the last whose text
parsed. While the text does not parse (half a line typed, a file cut off),
the problems and answers of the last good parse stay, with the syntax error
added, until the next good parse.

Edits arriving faster than the analysis runs (a client sending a change
per keystroke, 100 a second) are not each analysed: an edit after a quiet
moment is analysed at once, and during a burst at most once per interval —
twice the time the last analysis took, at least :data:`MIN_INTERVAL` — so
the work per second stays bounded whatever the client sends, and every
request first brings its document up to date. What hovers need beyond the
analysis (each layer's shape as a formula of the input size) is computed in
the first quiet moment after it. Memory is bounded too: the
text (at most the reader's 2 MB) and two analyses per open document.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from cnnspec.lsp.analysis import Analysis, analyze, same_file
from cnnspec.lsp.index import symbolic_shapes
from cnnspec.plugins.manager import PluginSet

__all__ = ["MIN_INTERVAL", "WARM_DELAY", "DocState", "Documents", "looks_like_spec"]

#: the least time between two analyses of one document during a burst of edits (seconds)
MIN_INTERVAL = 0.05
#: how long after an analysis, the text unchanged, what hovers need is computed (seconds)
WARM_DELAY = 0.03

_MARKERS = ("model", "input", "extends")


def looks_like_spec(analysis: Analysis) -> bool:
    """Whether a document is a spec (not some other YAML an editor also sends to this server)."""
    if analysis.parsed and analysis.document is not None:
        data = analysis.document.data
        return (isinstance(data, dict) and any(k in data for k in _MARKERS)) or data is None
    head = analysis.text[:20_000]
    return "cnnspec" in head[:200] or any(f"{k}:" in head or f'"{k}"' in head for k in _MARKERS)


@dataclass
class DocState:
    uri: str
    path: str
    latest: Analysis | None = None
    good: Analysis | None = None
    pending: asyncio.TimerHandle | None = None
    last_end: float = 0.0

    @property
    def answer(self) -> Analysis | None:
        """The analysis questions are answered from: the latest, or the last that parsed."""
        if self.latest is not None and self.latest.parsed:
            return self.latest
        return self.good or self.latest


class Documents:
    """The open documents; ``text_of(uri)`` reads the editor's current text and version."""

    def __init__(self, plugins: PluginSet, text_of: Callable[[str], tuple[str, int | None]],
                 published: Callable[[DocState], None]) -> None:
        self.plugins = plugins
        self.text_of = text_of
        self.published = published
        self.states: dict[str, DocState] = {}
        self.analyses = 0
        self.slowest = 0.0

    def open(self, uri: str, path: str) -> DocState:
        state = self.states.get(uri) or DocState(uri, path)
        self.states[uri] = state
        self.run(uri)
        return state

    def close(self, uri: str) -> None:
        state = self.states.pop(uri, None)
        if state is not None and state.pending is not None:
            state.pending.cancel()

    def run(self, uri: str) -> Analysis | None:
        """Analyse the document's current text now and publish."""
        state = self.states.get(uri)
        if state is None:
            return None
        if state.pending is not None:
            state.pending.cancel()
            state.pending = None
        text, version = self.text_of(uri)
        result = analyze(text, state.path, self.plugins, version=version)
        self.analyses += 1
        self.slowest = max(self.slowest, result.seconds)
        state.latest = result
        if result.parsed:
            state.good = result
        state.last_end = time.monotonic()
        self.published(state)
        self._warm_later(uri, result)
        return result

    def _warm_later(self, uri: str, result: Analysis) -> None:
        """Compute what hovers need (the symbolic shapes) in the next quiet moment, not in the next hover."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        loop.call_later(WARM_DELAY, self._warm, uri, result)

    def _warm(self, uri: str, result: Analysis) -> None:
        state = self.states.get(uri)
        if state is None or state.latest is not result or state.pending is not None:
            return  # the text moved on: this analysis will not be asked
        try:
            symbolic_shapes(result)
        except Exception:  # a hover will meet the same problem and report it
            pass

    def changed(self, uri: str) -> None:
        """An edit: analyse now after a quiet moment, else once the interval has passed."""
        state = self.states.get(uri)
        if state is None or state.pending is not None:
            return
        seconds = state.latest.seconds if state.latest is not None else 0.0
        due = state.last_end + max(MIN_INTERVAL, 2 * seconds)
        now = time.monotonic()
        if now >= due:
            self.run(uri)
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (called directly): analyse now
            self.run(uri)
            return
        state.pending = loop.call_later(due - now, self._due, uri)

    def _due(self, uri: str) -> None:
        state = self.states.get(uri)
        if state is not None:
            state.pending = None
            self.run(uri)

    def current(self, uri: str) -> DocState | None:
        """The state with an analysis of the current text (analysing it first if an edit is pending)."""
        state = self.states.get(uri)
        if state is None:
            return None
        _, version = self.text_of(uri)
        if state.latest is None or state.pending is not None or state.latest.version != version:
            self.run(uri)
        return state

    def dependents(self, path: str) -> list[str]:
        """Open documents that extend ``path`` (directly or through other bases)."""
        out = []
        for uri, state in self.states.items():
            composed = state.latest.composed if state.latest else None
            if composed is not None and any(same_file(f, path) for f in composed.files[1:]):
                out.append(uri)
        return out
