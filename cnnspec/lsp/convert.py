"""The server's answers in the protocol's types, positions in the client's units.

Everything upstream counts columns in characters; LSP clients count in
UTF-16 code units unless they negotiate otherwise, so every position goes
through the document's position codec here, with the lines of the text the
answer was computed from.
"""

from __future__ import annotations

from collections.abc import Sequence

from lsprotocol import types as T
from pygls.uris import from_fs_path
from pygls.workspace.position_codec import PositionCodec, ServerTextPosition

from cnnspec.lsp.completion import Item
from cnnspec.lsp.diagnostics import ERROR, Problem
from cnnspec.lsp.inlay import Hint
from cnnspec.lsp.navigate import Symbol
from cnnspec.lsp.text import Span

__all__ = ["SOURCE", "completion_item", "diagnostic", "document_symbol", "inlay_hint", "position", "to_range"]

SOURCE = "cnnspec"
_ITEM_KINDS = {"layer": T.CompletionItemKind.Class, "block": T.CompletionItemKind.Module,
               "argument": T.CompletionItemKind.Property, "key": T.CompletionItemKind.Field,
               "name": T.CompletionItemKind.Value, "value": T.CompletionItemKind.EnumMember,
               "variable": T.CompletionItemKind.Variable, "file": T.CompletionItemKind.File}
_SYMBOL_KINDS = {"layer": T.SymbolKind.Function, "block": T.SymbolKind.Class, "section": T.SymbolKind.Namespace}


def position(codec: PositionCodec, lines: Sequence[str], line: int, col: int) -> T.Position:
    if line >= len(lines):
        return T.Position(line=max(len(lines) - 1, 0), character=codec.client_num_units(lines[-1]) if lines else 0)
    return codec.position_to_client_units(lines, ServerTextPosition(line, min(col, len(lines[line]))))


def to_range(codec: PositionCodec, lines: Sequence[str], span: Span) -> T.Range:
    return T.Range(start=position(codec, lines, span.line, span.col),
                   end=position(codec, lines, span.end_line, span.end_col))


def diagnostic(codec: PositionCodec, lines: Sequence[str], problem: Problem,
               related_lines: dict[str, Sequence[str]]) -> T.Diagnostic:
    related = []
    for r in problem.related:
        other = related_lines.get(r.file) or [""]
        at = position(codec, other, r.line, r.col)
        related.append(T.DiagnosticRelatedInformation(
            location=T.Location(uri=from_fs_path(r.file) or r.file, range=T.Range(start=at, end=at)),
            message=r.message))
    return T.Diagnostic(
        range=to_range(codec, lines, problem.span),
        message=problem.message,
        severity=T.DiagnosticSeverity.Error if problem.severity == ERROR else T.DiagnosticSeverity.Warning,
        source=SOURCE,
        code=problem.code,
        related_information=related or None,
        data={"index": problem.index, "fixable": problem.fixable},
    )


def inlay_hint(codec: PositionCodec, lines: Sequence[str], hint: Hint) -> T.InlayHint:
    return T.InlayHint(position=position(codec, lines, hint.line, hint.col), label=hint.label,
                       kind=T.InlayHintKind.Type, padding_left=True, tooltip=hint.tooltip)


def completion_item(item: Item, edit_range: T.Range) -> T.CompletionItem:
    return T.CompletionItem(
        label=item.label,
        kind=_ITEM_KINDS.get(item.kind, T.CompletionItemKind.Text),
        detail=item.detail or None,
        documentation=T.MarkupContent(kind=T.MarkupKind.Markdown, value=item.documentation)
        if item.documentation else None,
        sort_text=item.sort or None,
        insert_text_format=T.InsertTextFormat.Snippet if item.snippet else T.InsertTextFormat.PlainText,
        text_edit=T.TextEdit(range=edit_range, new_text=item.insert or item.label),
    )


def document_symbol(codec: PositionCodec, lines: Sequence[str], symbol: Symbol) -> T.DocumentSymbol:
    return T.DocumentSymbol(
        name=symbol.name or "?",
        detail=symbol.detail or None,
        kind=_SYMBOL_KINDS.get(symbol.kind, T.SymbolKind.Object),
        range=to_range(codec, lines, symbol.span),
        selection_range=to_range(codec, lines, symbol.selection),
        children=[document_symbol(codec, lines, c) for c in symbol.children] or None,
    )
