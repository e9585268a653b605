"""Completion: layer types, their torch keyword arguments, registry names with their arguments, variables.

What is offered depends on where the cursor is (:mod:`cnnspec.lsp.context`):

* a ``model:`` / ``layers:`` / ``shortcut:`` / ``branches:`` item: every
  layer type the plugins register (plugin layers too) and the containers;
  with snippets, a layer's required arguments come along;
* inside a layer's arguments: its keyword arguments not yet written, each
  with its type, default and meaning; an argument's value: its choices;
* ``dataset:``, ``transforms:``, ``optimizer:``, ``loss:``, ``scheduler:``,
  ``callbacks:``: the registry's names, each documented with its arguments
  (read from the argument model or from the factory's source, torch unimported);
* ``${vars.``: the variables in scope; ``extends:``: the spec files beside this one;
* the keys of the top level and of ``data:`` / ``train:``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnnspec.lsp.context import ITEM, Context, context_at
from cnnspec.lsp.signatures import Argument, component_arguments, model_arguments
from cnnspec.plugins.discovery import BUILTIN_PLUGINS
from cnnspec.plugins.manager import PluginSet
from cnnspec.spec.layers import CONTAINERS
from cnnspec.spec.model import SpecDocument
from cnnspec.spec.sections import DataSpec, TrainSpec

__all__ = ["Item", "complete"]

LAYER_LISTS = {"model", "layers", "shortcut"}
#: (section, key) -> registry kind of the reference written there
_VALUE_REFS = {("data", "dataset"): "dataset", ("train", "optimizer"): "optimizer", ("train", "loss"): "loss",
               ("train", "scheduler"): "scheduler"}
_LIST_REFS = {("data", "transforms"): "transform", ("data", "train_transforms"): "transform",
              ("data", "eval_transforms"): "transform", ("callbacks",): "callback"}
_TOP_EXTRA = {"extends": "base spec file(s) to deep-merge under this one", "vars": "values for ${vars.NAME}"}


@dataclass(frozen=True)
class Item:
    label: str
    kind: str  # layer, block, argument, key, name, value, variable, file
    detail: str = ""
    documentation: str = ""
    insert: str = ""
    snippet: bool = False
    sort: str = ""


def _args_doc(args: tuple[Argument, ...] | None) -> str:
    if args is None:
        return "arguments: checked against the factory's signature when built"
    if not args:
        return "no arguments"
    return "\n".join(f"- `{a.name}`: {a.describe()}" + (f" — {a.doc}" if a.doc else "") for a in args)


def _provider(entry: Any) -> str:
    """`` (plugin NAME)`` for what a third-party plugin registers; nothing for cnnspec's own."""
    return "" if entry.provider.plugin in BUILTIN_PLUGINS else f" (plugin {entry.provider.plugin})"


def _layer_items(plugins: PluginSet, ctx: Context, snippets: bool) -> list[Item]:
    out = []
    for entry in plugins.layers():
        lt = entry.obj
        args = model_arguments(lt.params, tuple(getattr(lt.params, "inferred", ())))
        required = [a for a in args if a.required]
        name = lt.name.lower()
        provider = _provider(entry)
        insert = name
        if required and snippets and not ctx.flow and ctx.kind == "item":
            fields = ", ".join(f"{a.name}: ${{{i + 1}}}" for i, a in enumerate(required))
            insert = f"{name}: {{{fields}}}"
        doc = f"{lt.doc}\n\n{_args_doc(args)}".strip()
        out.append(Item(name, "layer", f"{lt.name}{provider}", doc, insert, insert != name, "1" + name))
    for kind, (model, _) in CONTAINERS.items():
        args = model_arguments(model)
        out.append(Item(kind, "block", f"container: {model.__doc__.splitlines()[0] if model.__doc__ else ''}",
                        _args_doc(args), kind, False, "0" + kind))
    return out


def _argument_items(args: tuple[Argument, ...], written: set[str]) -> list[Item]:
    return [Item(a.name, "argument", a.describe(), a.doc, f"{a.name}: ", False, f"{0 if a.required else 1}{i:03}")
            for i, a in enumerate(args) if a.name not in written]


def _name_items(plugins: PluginSet, kind: str) -> list[Item]:
    out = []
    for entry in plugins.registry(kind):
        comp = entry.obj
        args = component_arguments(comp, kind)
        provider = _provider(entry)
        out.append(Item(entry.name.lower(), "name", f"{kind}{provider}", f"{comp.doc}\n\n{_args_doc(args)}".strip(),
                        entry.name.lower()))
    return out


def _enum_items(arg: Argument) -> list[Item]:
    if arg.type == "bool" or arg.type.startswith("bool "):
        return [Item(v, "value", arg.name, "", v) for v in ("true", "false")]
    if "'" in arg.type and "|" in arg.type:
        values = [v.strip().strip("'") for v in arg.type.split("|") if v.strip().startswith("'")]
        return [Item(v, "value", arg.name, "", v) for v in values]
    return []


def _section_model(path: list[str]) -> Any:
    return {("data",): DataSpec, ("train",): TrainSpec}.get(tuple(path))


def _layer_type(plugins: PluginSet, name: str) -> Any:
    try:
        return plugins.layers().get(name)
    except Exception:
        return None


def _in_layer_list(path: list[str]) -> bool:
    """``path`` ends at an item of a layer list (``model[]``, ``layers[]``, ``branches[][]``...)."""
    if len(path) >= 2 and path[-1] == ITEM and path[-2] in LAYER_LISTS:
        return True
    return len(path) >= 3 and path[-1] == ITEM and path[-2] == ITEM and path[-3] == "branches"


def complete(lines: list[str], line: int, col: int, plugins: PluginSet, *, file: str = "",
             variables: dict[str, Any] | None = None, snippets: bool = False) -> tuple[list[Item], int]:
    """The items for the cursor at ``(line, col)`` and the column where the replaced word starts."""
    ctx = context_at(lines, line, col)
    before = lines[line][:col] if line < len(lines) else ""
    ref = before.rfind("${")
    if ref != -1 and "}" not in before[ref:]:
        word = before[ref + 2:]
        start = col - len(word)
        names = sorted(variables or {})
        return [Item(f"vars.{n}", "variable", repr((variables or {})[n])[:60], "", f"vars.{n}}}") for n in names], start
    path = [p for p in ctx.path if p]
    if (ctx.kind == "value" and path == [] and ctx.key == "extends") or path[:2] == ["extends", ITEM]:
        return _spec_files(file), ctx.start
    if _in_layer_list(path) and ctx.kind in ("item", "key"):
        return _layer_items(plugins, ctx, snippets), ctx.start
    if len(path) >= 3 and _in_layer_list(path[:-1]):
        type_name = path[-1]
        if type_name.lower() in CONTAINERS:
            model = CONTAINERS[type_name.lower()][0]
            args = model_arguments(model)
        else:
            lt = _layer_type(plugins, type_name)
            if lt is None:
                return [], ctx.start
            args = model_arguments(lt.params, tuple(getattr(lt.params, "inferred", ())))
        if ctx.kind == "value":
            arg = next((a for a in args if a.name == ctx.key), None)
            return (_enum_items(arg) if arg else []), ctx.start
        return _argument_items(args, ctx.siblings), ctx.start
    items = _references(plugins, ctx, path)
    if items is not None:
        return items, ctx.start
    if ctx.kind == "key":
        model = SpecDocument if not path else _section_model(path)
        if model is not None:
            written = _written_keys(lines, line, path)
            keys = [Item(a.name, "key", a.describe(), a.doc, f"{a.name}: ") for a in model_arguments(model)
                    if a.name not in written]
            if not path:
                keys += [Item(k, "key", "", d, f"{k}: ") for k, d in _TOP_EXTRA.items() if k not in written]
            return keys, ctx.start
    if ctx.kind == "value" and path in (["data"], ["train"]):
        model = _section_model(path)
        arg = next((a for a in model_arguments(model) if a.name == ctx.key), None)
        return (_enum_items(arg) if arg else []), ctx.start
    return [], ctx.start


def _references(plugins: PluginSet, ctx: Context, path: list[str]) -> list[Item] | None:
    """Registry names where a component is referred to, and a component's arguments inside its mapping."""
    if ctx.kind == "value" and (*path, ctx.key) in _VALUE_REFS:
        return _name_items(plugins, _VALUE_REFS[(*path, ctx.key)])
    if len(path) == 2 and tuple(path) in _VALUE_REFS and ctx.kind == "key":  # optimizer: {|
        return _name_items(plugins, _VALUE_REFS[tuple(path)])
    if path and path[-1] == ITEM and tuple(path[:-1]) in _LIST_REFS and ctx.kind in ("item", "key"):
        return _name_items(plugins, _LIST_REFS[tuple(path[:-1])])
    owner = None
    if len(path) == 3 and tuple(path[:2]) in _VALUE_REFS:
        owner = _VALUE_REFS[tuple(path[:2])], path[2]
    elif len(path) >= 3 and path[-2] == ITEM and tuple(path[:-2]) in _LIST_REFS:
        owner = _LIST_REFS[tuple(path[:-2])], path[-1]
    if owner is None or ctx.kind != "key":
        return None
    kind, name = owner
    try:
        component = plugins.registry(kind).get(name)
    except Exception:
        return []
    args = component_arguments(component, kind) or ()
    return _argument_items(args, ctx.siblings)


def _written_keys(lines: list[str], line: int, path: list[str]) -> set[str]:
    """Keys already written at the indentation of ``line`` in its block (not offered again)."""
    text = lines[line]
    indent = len(text) - len(text.lstrip(" "))
    found: set[str] = set()
    for step in (-1, 1):
        ln = line + step
        while 0 <= ln < len(lines):
            other = lines[ln]
            if other.strip() and not other.lstrip().startswith("#"):
                own = len(other) - len(other.lstrip(" "))
                if own < indent:
                    break
                if own == indent and ":" in other:
                    found.add(other.strip().split(":", 1)[0].strip("\"'"))
            ln += step
    return found


def _spec_files(file: str) -> list[Item]:
    folder = Path(file).parent if file else Path.cwd()
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return []
    own = Path(file).name
    return [Item(n, "file", "spec file", "", n) for n in names
            if n.lower().endswith((".yaml", ".yml", ".json")) and n != own][:200]
