"""pydantic ``ValidationError`` → located :class:`SpecError`\\ s in our style.

pydantic reports ``loc`` tuples; the document knows the position of every
path, so each error is mapped back to ``file:line:col``. Messages are
rewritten to say what was expected and what was found, unknown keys get "did
you mean", and the several errors one union mistake produces become one.
"""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from cnnspec.argtypes import describe_value
from cnnspec.exceptions import SpecError
from cnnspec.load.reader import Document, PathKey, format_path
from cnnspec.names import suggest

__all__ = ["model_fields_at", "translate"]


def _unwrap(tp: Any) -> list[Any]:
    """The concrete types inside Optional/Union/Annotated/list/dict."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        out = []
        for arg in typing.get_args(tp):
            out.extend(_unwrap(arg))
        return out
    return [tp]


def model_fields_at(model: type[BaseModel] | None, loc: tuple[Any, ...]) -> list[str]:
    """Field names of the model reached by following ``loc`` (for suggestions)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            nxt = [a for t in _unwrap(current) for a in typing.get_args(t)[:1]]
        elif isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(part)
            if field is None:
                return []
            nxt = [field.annotation]
        else:
            nxt = [a for t in _unwrap(current) if typing.get_origin(t) is dict for a in typing.get_args(t)[1:]]
        candidates = [t for n in nxt for t in _unwrap(n)]
        models = [t for t in candidates if isinstance(t, type) and issubclass(t, BaseModel)]
        current = models[0] if models else (candidates[0] if candidates else None)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _data_prefix(data: Any, loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """The longest prefix of ``loc`` that exists in ``data``; drops union tags."""
    out: list[Any] = []
    current = data
    for part in loc:
        if isinstance(current, dict) and isinstance(part, str) and part in current:
            current = current[part]
        elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            current = current[part]
        else:
            break
        out.append(part)
    return tuple(out)


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text else text


def translate(
    exc: ValidationError,
    doc: Document,
    base: PathKey,
    data: Any,
    model: type[BaseModel] | None,
    *,
    owner: str | None = None,
) -> list[SpecError]:
    """One located SpecError per distinct problem in ``exc``.

    ``data`` is what was validated (found at ``base`` in ``doc``); ``owner``
    names the thing validated (``model[3] conv2d``) in messages about its own
    arguments; deeper values are named by their dotted path.
    """

    def name_of(path: PathKey) -> str:
        return owner if owner and len(path) <= len(base) else format_path(path)
    grouped: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        if err["type"] in ("missing", "extra_forbidden"):
            key = loc
        else:
            key = _data_prefix(data, loc)
        grouped.setdefault(key, []).append(err)
    # an unknown key that is a misspelling of a missing one is one mistake, not two
    misspelled: set[tuple[Any, ...]] = set()
    # suggestions cost a fuzzy match each: only for the errors that will be shown
    shown = SpecError.MAX_REPORTED
    for n, (loc, errs) in enumerate(grouped.items()):
        if errs[0]["type"] == "extra_forbidden" and loc and n < shown:
            for close in suggest(str(loc[-1]), model_fields_at(model, loc[:-1])):
                misspelled.add((*loc[:-1], close))
    out: list[SpecError] = []
    for loc, errs in grouped.items():
        if errs[0]["type"] == "missing" and loc in misspelled:
            continue
        err = errs[0]
        kind = err["type"]
        field = str(loc[-1]) if loc else ""
        parent = (*base, *loc[:-1])
        # at the top of a spec there is no owner to name: say "key" instead
        what = f"{name_of(parent)}: " if parent else ""
        noun = "argument" if parent else "top-level key"
        if kind == "missing":
            out.append(doc.error(f"{what}missing required {noun} '{field}'", parent,
                                 hint=f"add {field}: ..."))
            continue
        if kind == "extra_forbidden":
            known = model_fields_at(model, loc[:-1])
            close = suggest(field, known) if len(out) < shown else []
            message = f"{what}unknown {noun} '{field}'"
            if close:
                message += "; did you mean " + " or ".join(f"'{c}'" for c in close) + "?"
            hint = ("known: " + ", ".join(known)) if known and not close else None
            path = (*base, *loc)
            # a top-level key names itself; its message needs no path in front
            out.append(SpecError(message, location=doc.locate(path, key=True),
                                 path=format_path(path) if parent else "", hint=hint))
            continue
        messages = []
        for e in errs:
            text = e["msg"]
            if e["type"] in ("size", "padding", "value_error", "assertion_error"):
                text = text.removeprefix("Value error, ")
            else:
                text = _lower_first(text)
                if "got" not in text:
                    text += f", got {describe_value(e['input'])}"
            if text not in messages:
                messages.append(text)
        path = (*base, *loc)
        if owner and len(loc) == 1:
            where = f"{owner} {field}"
        else:
            where = format_path(path)
        out.append(doc.error(f"{where}: " + "; or ".join(messages), path))
    return out
