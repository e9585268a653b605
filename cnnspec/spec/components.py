"""Static checks of component references: names and arguments, located.

Every ``{name: {args}}`` outside ``model:`` (dataset, transforms, optimizer,
loss, scheduler, callbacks) is looked up in its registry when the spec is
loaded, so a typo gets "did you mean" with file:line before anything runs.
Arguments are validated against the component's params model when it has one
(without importing torch); otherwise against the factory's signature when the
component is built (:func:`cnnspec.component.check_signature`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import ValidationError

from cnnspec.component import Component, split_ref
from cnnspec.exceptions import SpecError
from cnnspec.load.reader import Document, PathKey, format_path
from cnnspec.plugins.manager import PluginSet
from cnnspec.plugins.registry import Entry, RegistryError
from cnnspec.spec.errors import translate

__all__ = ["component_refs", "resolve_ref", "validate_components"]


def component_refs(data: dict[str, Any]) -> Iterator[tuple[str, PathKey, Any]]:
    """``(kind, path, ref)`` for every component reference in a spec's data."""
    section = data.get("data")
    if isinstance(section, dict):
        if "dataset" in section:
            yield "dataset", ("data", "dataset"), section["dataset"]
        for key in ("transforms", "train_transforms", "eval_transforms"):
            for i, ref in enumerate(section.get(key) or []):
                yield "transform", ("data", key, i), ref
    section = data.get("train")
    if isinstance(section, dict):
        for key in ("optimizer", "loss", "scheduler"):
            if section.get(key) is not None:
                yield key, ("train", key), section[key]
    for i, ref in enumerate(data.get("callbacks") or []):
        yield "callback", ("callbacks", i), ref


def resolve_ref(kind: str, ref: Any, path: PathKey, doc: Document,
                plugins: PluginSet) -> tuple[Entry[Component], dict[str, Any], PathKey]:
    """The registry entry and arguments for a reference, or a located error."""
    if not (isinstance(ref, str) or (isinstance(ref, dict) and len(ref) == 1
                                     and isinstance(next(iter(ref.values())), (dict, type(None))))):
        raise doc.error(f"{format_path(path)}: expected a {kind} name or {{name: {{args}}}}", path,
                        hint=f"e.g. {kind}: name  or  {kind}: {{name: {{arg: value}}}}")
    name, args = split_ref(ref)
    name_path = path if isinstance(ref, str) else (*path, name)
    try:
        entry = plugins.registry(kind).entry(name)
    except RegistryError as exc:
        raise doc.error(f"{format_path(path)}: {exc.message}", name_path, hint=exc.hint,
                        key=not isinstance(ref, str)) from None
    return entry, args, name_path


def validate_components(data: dict[str, Any], doc: Document, plugins: PluginSet) -> list[SpecError]:
    """Every problem with the spec's component references (empty if none)."""
    errors: list[SpecError] = []
    for kind, path, ref in component_refs(data):
        try:
            entry, args, args_path = resolve_ref(kind, ref, path, doc, plugins)
        except SpecError as exc:
            errors.append(exc)
            continue
        model = entry.obj.params
        if model is None:
            continue
        try:
            model.model_validate(args)
        except ValidationError as exc:
            label = f"{format_path(path)} {entry.name}"
            errors.extend(translate(exc, doc, args_path, args, model, owner=label))
    return errors
