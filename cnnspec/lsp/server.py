"""``cnnspec lsp``: the language server (pygls, JSON-RPC over stdio).

Each feature is a thin handler: bring the document's analysis up to date
(:mod:`cnnspec.lsp.documents`), ask the pure module that knows the answer,
convert positions for the client (:mod:`cnnspec.lsp.convert`). Every handler
is guarded: whatever goes wrong while answering — a bug, a plugin that
raises — is logged and answered with nothing, and the server stays up.

Python's own ``print`` goes to stderr while the server runs (stdout carries
the protocol; a plugin printing at import would otherwise corrupt it).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from lsprotocol import types as T
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

from cnnspec._version import __version__
from cnnspec.analysis.fixits import fixes_for
from cnnspec.load.document import MAX_BYTES
from cnnspec.lsp import convert
from cnnspec.lsp.actions import fix_edits
from cnnspec.lsp.analysis import same_file
from cnnspec.lsp.completion import complete
from cnnspec.lsp.diagnostics import problems
from cnnspec.lsp.documents import DocState, Documents, looks_like_spec
from cnnspec.lsp.hover import hover
from cnnspec.lsp.index import variables
from cnnspec.lsp.inlay import inlay_hints
from cnnspec.lsp.navigate import definition, symbols
from cnnspec.lsp.text import Span
from cnnspec.plugins.manager import PluginSet
from cnnspec.render import escape

__all__ = ["STATUS_COMMAND", "create_server", "serve"]

log = logging.getLogger("cnnspec.lsp")
#: a workspace command answering the server's own state (for tests and troubleshooting)
STATUS_COMMAND = "cnnspec.status"
F = TypeVar("F", bound=Callable[..., Any])


def guarded(fn: F) -> F:
    """Answer ``None`` (and log) instead of letting an exception reach the protocol."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception:
            log.exception("cnnspec lsp: %s failed", fn.__name__)
            return None

    return wrapper  # type: ignore[return-value]


class CnnspecServer(LanguageServer):
    def __init__(self, plugins: PluginSet) -> None:
        super().__init__("cnnspec", __version__)
        self.plugins = plugins
        self.docs = Documents(plugins, self._text_of, self.publish)
        self.fix_cache: dict[int, list[Any]] = {}

    # -- text and files ----------------------------------------------------------------
    def _text_of(self, uri: str) -> tuple[str, int | None]:
        doc = self.workspace.get_text_document(uri)
        return doc.source, doc.version

    def lines_of(self, path: str) -> Sequence[str] | None:
        """A file's lines: the open document's, else the file on disk (a base spec)."""
        uri = from_fs_path(path)
        for state in self.docs.states.values():
            if uri and state.uri == uri and state.latest is not None:
                return state.latest.lines
        try:
            with open(path, encoding="utf-8-sig") as fh:
                return fh.read(MAX_BYTES).split("\n")
        except (OSError, UnicodeDecodeError):
            return None

    def codec(self, uri: str) -> Any:
        return self.workspace.get_text_document(uri).position_codec

    def cursor(self, uri: str, pos: T.Position) -> tuple[int, int]:
        doc = self.workspace.get_text_document(uri)
        server = doc.position_codec.position_from_client_units(doc.lines, pos)
        return server.line, server.character

    # -- diagnostics -------------------------------------------------------------------
    @guarded
    def publish(self, state: DocState) -> None:
        latest = state.latest
        if latest is None:
            return
        shown = state.answer
        if shown is None or not looks_like_spec(shown):
            self.text_document_publish_diagnostics(T.PublishDiagnosticsParams(uri=state.uri, diagnostics=[]))
            return
        found = [(shown, p) for p in problems(shown)]
        if shown is not latest:  # the last good parse's problems stay, with what stops this one
            found += [(latest, p) for p in problems(latest)]
        codec = self.codec(state.uri)
        related = {r.file: self.lines_of(r.file) or [""] for _, p in found for r in p.related}
        diagnostics = [convert.diagnostic(codec, a.lines, p, related) for a, p in found]
        self.text_document_publish_diagnostics(T.PublishDiagnosticsParams(
            uri=state.uri, diagnostics=diagnostics, version=latest.version))

    # -- code actions ------------------------------------------------------------------
    def fixes(self, state: DocState) -> list[Any]:
        analysis = state.latest
        if analysis is None or analysis.error is None:
            return []
        key = id(analysis)
        if key not in self.fix_cache:
            self.fix_cache.clear()  # one document's latest search is kept
            self.fix_cache[key] = fixes_for(None, analysis.error)
        return self.fix_cache[key]

    def code_actions(self, state: DocState, diagnostics: Sequence[T.Diagnostic], fixes: list[Any]) -> list[Any]:
        analysis = state.latest
        if analysis is None:
            return []
        target = next((d for d in diagnostics if d.source == convert.SOURCE and isinstance(d.data, dict)
                       and d.data.get("fixable")), None)
        actions = []
        for n, fix in enumerate(fixes):
            edits = fix_edits(analysis, fix, self.lines_of)
            if not edits:
                continue
            changes: dict[str, list[T.TextEdit]] = {}
            for edit in edits:
                here = same_file(edit.file, analysis.file)
                uri = state.uri if here else (from_fs_path(os.path.abspath(edit.file)) or "")
                lines = analysis.lines if uri == state.uri else (self.lines_of(edit.file) or [""])
                changes.setdefault(uri, []).append(T.TextEdit(
                    range=convert.to_range(self.codec(state.uri), lines, edit.span), new_text=edit.new_text))
            actions.append(T.CodeAction(title=f"Fix: {escape(fix.description)}", kind=T.CodeActionKind.QuickFix,
                                        diagnostics=[target] if target else None, is_preferred=n == 0,
                                        edit=T.WorkspaceEdit(changes=changes)))
        return actions


def create_server(plugins: PluginSet) -> CnnspecServer:
    """The server with every feature registered (not started)."""
    server = CnnspecServer(plugins)

    @server.feature(T.INITIALIZED)
    @guarded
    def initialized(ls: CnnspecServer, params: T.InitializedParams) -> None:
        for broken in ls.plugins.broken:
            ls.window_show_message(T.ShowMessageParams(
                type=T.MessageType.Warning,
                message=escape(f"cnnspec: {broken.describe()}; specs that need it show an error")))

    @server.feature(T.TEXT_DOCUMENT_DID_OPEN)
    @guarded
    def did_open(ls: CnnspecServer, params: T.DidOpenTextDocumentParams) -> None:
        uri = params.text_document.uri
        ls.docs.open(uri, to_fs_path(uri) or uri)

    @server.feature(T.TEXT_DOCUMENT_DID_CHANGE)
    @guarded
    def did_change(ls: CnnspecServer, params: T.DidChangeTextDocumentParams) -> None:
        ls.docs.changed(params.text_document.uri)

    @server.feature(T.TEXT_DOCUMENT_DID_SAVE)
    @guarded
    def did_save(ls: CnnspecServer, params: T.DidSaveTextDocumentParams) -> None:
        path = to_fs_path(params.text_document.uri) or ""
        for uri in ls.docs.dependents(path):  # specs extending the saved file see its new text
            ls.docs.run(uri)

    @server.feature(T.TEXT_DOCUMENT_DID_CLOSE)
    @guarded
    def did_close(ls: CnnspecServer, params: T.DidCloseTextDocumentParams) -> None:
        ls.docs.close(params.text_document.uri)
        ls.text_document_publish_diagnostics(T.PublishDiagnosticsParams(uri=params.text_document.uri,
                                                                        diagnostics=[]))

    @server.feature(T.TEXT_DOCUMENT_HOVER)
    @guarded
    def on_hover(ls: CnnspecServer, params: T.HoverParams) -> T.Hover | None:
        state = ls.docs.current(params.text_document.uri)
        if state is None or state.answer is None:
            return None
        found = hover(state.answer, *ls.cursor(params.text_document.uri, params.position))
        if found is None:
            return None
        md, span = found
        return T.Hover(contents=T.MarkupContent(kind=T.MarkupKind.Markdown, value=md),
                       range=convert.to_range(ls.codec(params.text_document.uri), state.answer.lines, span))

    @server.feature(T.TEXT_DOCUMENT_INLAY_HINT)
    @guarded
    def on_inlay(ls: CnnspecServer, params: T.InlayHintParams) -> list[T.InlayHint] | None:
        state = ls.docs.current(params.text_document.uri)
        if state is None or state.answer is None:
            return None
        a = state.answer
        hints = inlay_hints(a, params.range.start.line, params.range.end.line)
        codec = ls.codec(params.text_document.uri)
        return [convert.inlay_hint(codec, a.lines, h) for h in hints]

    @server.feature(T.TEXT_DOCUMENT_COMPLETION,
                    T.CompletionOptions(trigger_characters=[":", " ", "{", ",", "-", "."]))
    @guarded
    def on_completion(ls: CnnspecServer, params: T.CompletionParams) -> T.CompletionList | None:
        uri = params.text_document.uri
        state = ls.docs.states.get(uri)
        doc = ls.workspace.get_text_document(uri)
        line, col = ls.cursor(uri, params.position)
        lines = [ln.rstrip("\r\n") for ln in doc.lines] or [""]
        if line >= len(lines):
            lines.append("")
        known = variables(state.answer) if state is not None and state.answer is not None else {}
        caps = ls.client_capabilities.text_document
        snippets = bool(caps and caps.completion and caps.completion.completion_item
                        and caps.completion.completion_item.snippet_support)
        items, start = complete(lines, line, col, ls.plugins, file=to_fs_path(uri) or "",
                                variables={k: v.value for k, v in known.items()}, snippets=snippets)
        edit = convert.to_range(doc.position_codec, lines, Span(line, start, line, col))
        return T.CompletionList(is_incomplete=False, items=[convert.completion_item(i, edit) for i in items])

    @server.feature(T.TEXT_DOCUMENT_DEFINITION)
    @guarded
    def on_definition(ls: CnnspecServer, params: T.DefinitionParams) -> T.Location | None:
        state = ls.docs.current(params.text_document.uri)
        if state is None or state.answer is None:
            return None
        found = definition(state.answer, *ls.cursor(params.text_document.uri, params.position))
        if found is None:
            return None
        file, line, col = found
        lines = ls.lines_of(file) or [""]
        at = convert.position(ls.codec(params.text_document.uri), lines, line, col)
        return T.Location(uri=from_fs_path(file) or file, range=T.Range(start=at, end=at))

    @server.feature(T.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    @guarded
    def on_symbols(ls: CnnspecServer, params: T.DocumentSymbolParams) -> list[T.DocumentSymbol] | None:
        state = ls.docs.current(params.text_document.uri)
        if state is None or state.answer is None:
            return None
        a = state.answer
        codec = ls.codec(params.text_document.uri)
        return [convert.document_symbol(codec, a.lines, s) for s in symbols(a)]

    @server.feature(T.TEXT_DOCUMENT_CODE_ACTION,
                    T.CodeActionOptions(code_action_kinds=[T.CodeActionKind.QuickFix]))
    async def on_code_action(ls: CnnspecServer, params: T.CodeActionParams) -> list[T.CodeAction] | None:
        try:
            wanted = [d for d in params.context.diagnostics if d.source == convert.SOURCE
                      and isinstance(d.data, dict) and d.data.get("fixable")]
            state = ls.docs.current(params.text_document.uri)
            if not wanted or state is None:
                return None
            # the search validates candidate specs for up to a second: off the loop, so edits keep flowing
            fixes = await asyncio.get_running_loop().run_in_executor(None, ls.fixes, state)
            return ls.code_actions(state, wanted, fixes) or None
        except Exception:
            log.exception("cnnspec lsp: code actions failed")
            return None

    @server.command(STATUS_COMMAND)
    @guarded
    def status(ls: CnnspecServer, *args: Any) -> dict[str, Any]:
        return {
            "version": __version__,
            "torch_imported": "torch" in sys.modules,
            "documents": len(ls.docs.states),
            "analyses": ls.docs.analyses,
            "slowest_analysis_ms": round(ls.docs.slowest * 1000, 1),
            "rss_kb": _rss_kb(),
            "broken_plugins": [b.name for b in ls.plugins.broken],
        }

    return server


def _rss_kb() -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    try:
        import resource

        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    except Exception:
        return None


def serve(plugins: PluginSet | Callable[[], PluginSet]) -> None:
    """Run the server on stdin/stdout until the client says exit.

    ``plugins`` may be a function making the plugin set: it is then called
    after stdout is taken over, so a plugin printing as it is imported
    cannot corrupt the protocol stream.
    """
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(name)s: %(message)s")
    protocol_out = sys.stdout.buffer
    sys.stdout = sys.stderr  # print() from anywhere must not corrupt the protocol stream
    chosen = plugins() if callable(plugins) else plugins
    chosen.all_registries()  # load the plugins once, before the first request
    create_server(chosen).start_io(sys.stdin.buffer, protocol_out)
