"""JSON Schema of the spec language, generated from the models (never drifts).

What an editor checks as the user types, so it must accept every spec that
``cnnspec validate`` accepts, as written in its file — not only resolved specs:

* a file that ``extends:`` a base needs neither ``input`` nor ``model``;
* ``~key: null`` deletes an inherited key in the mappings that merge (the top
  level, ``data:``, ``train:``);
* ``${vars.NAME}`` may stand for any value (it takes the variable's type);
* layers and components come from the installed plugins too, by name or as
  ``plugin:name``.

Names are matched case-insensitively and JSON Schema regexes have no
``(?i)``, so each name becomes a pattern such as ``^[cC][oO][nN][vV]2[dD]$``.
Component references (datasets, transforms, optimizers, losses, schedulers,
callbacks) are checked by name, and by argument where the component has an
argument model.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from cnnspec.load.extends import DELETE_PREFIX
from cnnspec.names import IDENTIFIER, RESERVED_NAMES
from cnnspec.plugins.manager import PluginSet, get_plugins
from cnnspec.spec import CONTAINERS, SpecDocument

__all__ = ["VAR_REF_PATTERN", "layer_pattern", "name_pattern", "spec_schema"]

SCHEMA_ID = "https://cnnspec.dev/schema/spec.json"

#: a string that is exactly one ``${vars...}`` reference: it takes the variable's value and type
VAR_REF_PATTERN = r"^\$\{\s*vars\.[^{}]+\}$"
_VAR_REF = {"$ref": "#/$defs/VarRef"}

#: spec section -> (component kind, where its references are in that section's schema)
_REFERENCES: dict[str, list[tuple[str, str, bool]]] = {
    "DataSpec": [("dataset", "dataset", False), ("transform", "transforms", True),
                 ("transform", "train_transforms", True), ("transform", "eval_transforms", True)],
    "TrainSpec": [("optimizer", "optimizer", False), ("loss", "loss", False), ("scheduler", "scheduler", False)],
}
#: the largest finite float: a bound that refuses ``.inf`` (specs are finite, as pydantic checks)
_FINITE = 1.7976931348623157e308
_MODULE_NAME = {"anyOf": [{"type": "string", "pattern": IDENTIFIER.pattern, "not": {"enum": sorted(RESERVED_NAMES)}},
                          {"type": "string", "pattern": r"\$\{"}],  # a template: its value is only known composed
                "description": "module name: an identifier that is not a torch.nn.Module attribute"}
_KIND_TITLES = {"dataset": "Dataset", "transform": "Transform", "optimizer": "Optimizer", "loss": "Loss",
                "scheduler": "Scheduler", "callback": "Callback"}


def _one(name: str) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else ("\\" + c if not c.isalnum() else c)
                   for c in name)


def layer_pattern(names: list[str]) -> str:
    """``^(?:[cC][oO][nN][vV]2[dD]|...)$``: any of ``names``, in any letter case."""
    return "^(?:" + "|".join(_one(n) for n in names) + ")$"


def name_pattern(names: Iterable[str], plugins: Iterable[str] = ()) -> str:
    """Like :func:`layer_pattern`, also accepting ``plugin:name`` for the given plugins."""
    names = list(names)
    prefix = "|".join(re.escape(p) for p in sorted(set(plugins)))
    qualified = f"(?:(?:{prefix}):)?" if prefix else ""
    return f"^{qualified}(?:" + "|".join(_one(n) for n in names) + ")$"


def _merge_defs(target: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    for key, value in schema.pop("$defs", {}).items():
        target.setdefault(key, value)
    return schema


def _args_schema(defs: dict[str, Any], model: Any) -> dict[str, Any]:
    """A component's or layer's arguments: its model's schema (or any mapping), or null."""
    if model is None:
        return {"anyOf": [{"type": "object"}, {"type": "null"}]}
    params = _merge_defs(defs, model.model_json_schema(ref_template="#/$defs/{model}"))
    params.pop("title", None)
    return {"anyOf": [params, {"type": "null"}]}


def _module_name(args: dict[str, Any]) -> None:
    """A layer's or block's ``name`` becomes a module name: an identifier, not a Module attribute."""
    props = args.get("properties", {})
    if "name" in props:
        props["name"] = {**{k: v for k, v in props["name"].items() if k in ("description", "default")},
                         "anyOf": [_MODULE_NAME, {"type": "null"}]}


def _finite(node: Any) -> Any:
    """Every ``number`` bounded by the largest float, so ``.inf`` is refused as validate refuses it."""
    if isinstance(node, dict):
        if node.get("type") == "number":
            node.setdefault("maximum", _FINITE)
            node.setdefault("minimum", -_FINITE)
        for value in node.values():
            _finite(value)
    elif isinstance(node, list):
        for value in node:
            _finite(value)
    return node


def _reference_schema(defs: dict[str, Any], kind: str, plugins: PluginSet) -> dict[str, Any]:
    """``name`` or ``{name: {args}}`` for one registry, every registered name allowed."""
    entries = sorted(plugins.registry(kind), key=lambda e: e.name.lower())
    by_name = [{
        "type": "object",
        "title": e.name,
        "description": (e.obj.doc + f" (from {e.provider})").strip(),
        "patternProperties": {name_pattern([e.name], [e.provider.plugin]): _args_schema(defs, e.obj.params)},
        "additionalProperties": False,
        "minProperties": 1,
        "maxProperties": 1,
    } for e in entries]
    bare = name_pattern([e.name for e in entries], [e.provider.plugin for e in entries]) if entries else "^$"
    return {"anyOf": [{"type": "string", "pattern": bare, "description": f"a {kind} name"}, *by_name],
            "description": f"a {kind} name, or {{name: {{args}}}}"}


def _layer_schema(defs: dict[str, Any], plugins: PluginSet) -> dict[str, Any]:
    layer_ref = {"$ref": "#/$defs/Layer"}
    options: list[dict[str, Any]] = []
    bare: list[str] = []
    providers: list[str] = []
    for entry in sorted(plugins.layers(), key=lambda e: e.name.lower()):
        lt = entry.obj
        args = _args_schema(defs, lt.params)
        _module_name(args["anyOf"][0])
        options.append({
            "type": "object",
            "title": lt.name,
            "description": (lt.doc + f" (from {entry.provider})").strip(),
            "patternProperties": {name_pattern([lt.name], [entry.provider.plugin]): args},
            "additionalProperties": False,
            "minProperties": 1,
            "maxProperties": 1,
        })
        if not args["anyOf"][0].get("required"):
            bare.append(lt.name)
            providers.append(entry.provider.plugin)
    for kind, (model, _) in CONTAINERS.items():
        args = _merge_defs(defs, model.model_json_schema(ref_template="#/$defs/{model}"))
        args.pop("title", None)
        _module_name(args)
        for key in ("layers", "shortcut"):
            if key in args.get("properties", {}):
                prop = args["properties"][key]
                if "anyOf" in prop:
                    prop["anyOf"] = [{"type": "array", "items": layer_ref} if a.get("type") == "array" else a
                                     for a in prop["anyOf"]]
                else:
                    prop["items"] = layer_ref
        if "branches" in args.get("properties", {}):
            args["properties"]["branches"]["items"] = {"type": "array", "items": layer_ref}
        options.append({
            "type": "object",
            "title": kind,
            "properties": {kind: args},
            "required": [kind],
            "additionalProperties": False,
        })
    options.insert(0, {"type": "string", "pattern": name_pattern(bare, providers),
                       "description": "a layer without arguments, e.g. relu"})
    return {"anyOf": options}


def _allow_deletes(schema: dict[str, Any]) -> None:
    """``~key: null`` next to the keys of a mapping that merges with its base."""
    schema.setdefault("patternProperties", {})[f"^{re.escape(DELETE_PREFIX)}"] = {
        "type": "null", "description": "delete this key inherited from a base spec (extends:)"}


_VALUE_KEYS = ("properties", "patternProperties")
#: keywords that constrain a value beside an ``anyOf`` (adding an option to it would not lift them)
_CONSTRAINTS = {"type", "properties", "patternProperties", "additionalProperties", "items", "required", "enum",
                "const", "pattern", "minimum", "maximum", "minItems", "maxItems", "allOf", "oneOf", "not", "$ref"}


def _with_vars(node: Any) -> Any:
    """``node`` (a schema of one value) also accepting a ``${vars...}`` reference, recursively."""
    if not isinstance(node, dict):
        return node
    inner = _inside(node)
    if isinstance(inner.get("anyOf"), list) and not set(inner) & _CONSTRAINTS:
        # already a choice: one more option (keeps ``anyOf[params, null, ref]`` flat for readers)
        return inner if _VAR_REF in inner["anyOf"] else {**inner, "anyOf": [*inner["anyOf"], _VAR_REF]}
    return {"anyOf": [inner, _VAR_REF]}


def _inside(node: dict[str, Any]) -> dict[str, Any]:
    """The same schema with every value it holds (properties, items...) accepting references."""
    out = dict(node)
    for key in _VALUE_KEYS:
        if isinstance(out.get(key), dict):
            out[key] = {k: _with_vars(v) for k, v in out[key].items()}
    for key in ("items", "additionalProperties"):
        if isinstance(out.get(key), dict):
            out[key] = _with_vars(out[key])
    if isinstance(out.get("prefixItems"), list):
        out["prefixItems"] = [_with_vars(v) for v in out["prefixItems"]]
    for key in ("anyOf", "oneOf", "allOf"):
        if isinstance(out.get(key), list):
            out[key] = [_inside(v) if isinstance(v, dict) else v for v in out[key]]
    return out


def _partial(node: Any, renames: dict[str, str]) -> Any:
    """A copy with nothing required and references renamed: what a file that extends a base may write.

    Its ``data:`` and ``train:`` merge key by key with the base's, and a
    component reference with the same name merges its arguments, so any part
    of them may be left to the base.
    """
    if isinstance(node, dict):
        out = {k: _partial(v, renames) for k, v in node.items() if k != "required"}
        if out.get("$ref") in renames:
            out["$ref"] = renames[out["$ref"]]
        return out
    if isinstance(node, list):
        return [_partial(v, renames) for v in node]
    return node


def spec_schema(plugins: PluginSet | None = None) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of spec files, with the plugins' layers and components."""
    plugins = plugins or get_plugins()
    defs: dict[str, Any] = {}
    top = _merge_defs(defs, SpecDocument.model_json_schema(ref_template="#/$defs/{model}"))
    defs["Layer"] = _layer_schema(defs, plugins)
    for kind, title in _KIND_TITLES.items():
        defs[title] = _reference_schema(defs, kind, plugins)
    for section, refs in _REFERENCES.items():
        props = defs[section]["properties"]
        for kind, key, is_list in refs:
            ref = {"$ref": f"#/$defs/{_KIND_TITLES[kind]}"}
            old = props[key]
            new: dict[str, Any] = {"type": "array", "items": ref} if is_list else ref
            if any(a.get("type") == "null" for a in old.get("anyOf", [])):
                new = {"anyOf": [new, {"type": "null"}]}
            props[key] = {**{k: v for k, v in old.items() if k in ("description", "default", "title")}, **new}
        _allow_deletes(defs[section])
    # the sections and references that merge with a base's, as a file that extends one may write them
    renames = {f"#/$defs/{name}": f"#/$defs/{name}Partial"
               for name in ("DataSpec", "TrainSpec", "Dataset", "Optimizer", "Loss", "Scheduler")}
    for ref, partial in renames.items():
        defs[partial.rsplit("/", 1)[1]] = _partial(defs[ref.rsplit("/", 1)[1]], renames)
    props = top["properties"]
    props["model"]["items"] = {"$ref": "#/$defs/Layer"}
    props["input"]["items"] = {"anyOf": [{"type": "integer", "minimum": 1},
                                         {"type": "string", "pattern": IDENTIFIER.pattern}]}
    props["callbacks"]["items"] = {"$ref": "#/$defs/Callback"}
    props["extends"] = {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
                        "description": "base spec file(s) to deep-merge under this one"}
    props["vars"] = {"type": "object", "description": "values for ${vars.NAME} interpolation"}
    # a file that extends a base may leave input, model and any part of data: and train: to it
    complete = {key: props[key] for key in ("data", "train")}
    for key in ("data", "train"):
        props[key] = _partial(props[key], renames)
    top["anyOf"] = [{"required": ["extends"]}, {"required": top.pop("required", []), "properties": complete}]
    _allow_deletes(top)
    top = _inside(top)
    # bases are found before variables exist; variables hold plain values (references inside are resolved)
    top["properties"]["extends"] = props["extends"]
    top["properties"]["vars"] = props["vars"]
    defs = {name: _inside(schema) for name, schema in defs.items()}
    defs["VarRef"] = {"type": "string", "pattern": VAR_REF_PATTERN,
                      "description": "${vars.NAME}: the value of a variable defined under vars:"}
    return _finite({"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID,
                    "title": "cnnspec spec", **top, "$defs": defs})
