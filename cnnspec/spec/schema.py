"""JSON Schema of the spec language, generated from the models (never drifts).

Layer entries are one-key mappings whose key is matched case-insensitively;
JSON Schema regexes have no ``(?i)``, so each name becomes a pattern such as
``^[cC][oO][nN][vV]2[dD]$``. Plugin layers are included.
"""

from __future__ import annotations

from typing import Any

from cnnspec.plugins.manager import PluginSet, get_plugins
from cnnspec.spec import CONTAINERS, SpecDocument

__all__ = ["layer_pattern", "spec_schema"]

SCHEMA_ID = "https://cnnspec.dev/schema/spec.json"


def layer_pattern(names: list[str]) -> str:
    def one(name: str) -> str:
        return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else ("\\" + c if not c.isalnum() else c)
                       for c in name)

    return "^(?:" + "|".join(one(n) for n in names) + ")$"


def _merge_defs(target: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    for key, value in schema.pop("$defs", {}).items():
        target.setdefault(key, value)
    return schema


def spec_schema(plugins: PluginSet | None = None) -> dict[str, Any]:
    plugins = plugins or get_plugins()
    defs: dict[str, Any] = {}
    top = _merge_defs(defs, SpecDocument.model_json_schema(ref_template="#/$defs/{model}"))
    layer_ref = {"$ref": "#/$defs/Layer"}
    options: list[dict[str, Any]] = []
    bare: list[str] = []
    for entry in sorted(plugins.layers(), key=lambda e: e.name.lower()):
        lt = entry.obj
        params = _merge_defs(defs, lt.params.model_json_schema(ref_template="#/$defs/{model}"))
        params.pop("title", None)
        options.append({
            "type": "object",
            "title": lt.name,
            "description": (lt.doc + f" (from {entry.provider})").strip(),
            "patternProperties": {layer_pattern([lt.name]): {"anyOf": [params, {"type": "null"}]}},
            "additionalProperties": False,
            "minProperties": 1,
            "maxProperties": 1,
        })
        if not params.get("required"):
            bare.append(lt.name)
    for kind, (model, _) in CONTAINERS.items():
        args = _merge_defs(defs, model.model_json_schema(ref_template="#/$defs/{model}"))
        args.pop("title", None)
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
    options.insert(0, {"type": "string", "pattern": layer_pattern(bare),
                       "description": "a layer without arguments, e.g. relu"})
    defs["Layer"] = {"anyOf": options}
    top["properties"]["model"]["items"] = layer_ref
    top["properties"]["callbacks"]["items"] = {"anyOf": [{"type": "string"}, {"type": "object"}]}
    props = top["properties"]
    props["extends"] = {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
                        "description": "base spec file(s) to deep-merge under this one"}
    props["vars"] = {"type": "object", "description": "values for ${vars.NAME} interpolation"}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID,
            "title": "cnnspec spec", **top, "$defs": defs}
