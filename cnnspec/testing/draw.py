"""Random valid arguments for a params model, drawn from its JSON Schema.

Why the schema and not the annotations: layer arguments use custom types
(``Size(2)`` is ``Annotated[Any, PlainValidator]``) whose only machine-readable
description is the schema they publish for ``cnnspec schema``. Drawing from
it covers integers with bounds, booleans, literals, numbers, ``a | None``,
lists and the size/padding types, for built-in and plugin layers alike.
Values are small on purpose: shape rules go wrong at the edges (kernel equal
to the input, padding at half the kernel), not at 10,000.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel

__all__ = ["CannotDraw", "ParamDrawer"]


class CannotDraw(Exception):
    """A field whose values cannot be generated from its schema (a free string)."""


class ParamDrawer:
    """Draws argument mappings for ``model``.

    Required fields are always drawn; optional ones with probability
    ``optional_rate`` (else their default applies), fields listed in the
    model's ``inferred`` class variable with ``inferred_rate`` (they are
    normally left to the shape rule). ``choices`` restricts a field to given
    values, ``fixed`` pins it; ``name`` is never drawn.
    """

    def __init__(self, model: type[BaseModel], *, choices: Mapping[str, Sequence[Any]] | None = None,
                 fixed: Mapping[str, Any] | None = None, optional_rate: float = 0.5,
                 inferred_rate: float = 0.15) -> None:
        schema = model.model_json_schema()
        self.model = model
        self.defs: dict[str, Any] = schema.get("$defs", {})
        self.properties: dict[str, Any] = schema.get("properties", {})
        self.required = set(schema.get("required", []))
        self.inferred = set(getattr(model, "inferred", ()))
        self.choices = dict(choices or {})
        self.fixed = dict(fixed or {})
        self.optional_rate = optional_rate
        self.inferred_rate = inferred_rate
        unknown = (set(self.choices) | set(self.fixed)) - set(self.properties)
        if unknown:
            raise ValueError(f"{model.__name__} has no field(s) {sorted(unknown)}; fields: {sorted(self.properties)}")

    def draw(self, rng: random.Random) -> dict[str, Any]:
        args: dict[str, Any] = {}
        for name, prop in self.properties.items():
            if name == "name":
                continue
            if name in self.fixed:
                args[name] = self.fixed[name]
                continue
            if name not in self.required:
                rate = self.inferred_rate if name in self.inferred else self.optional_rate
                if rng.random() >= rate:
                    continue
            if name in self.choices:
                args[name] = rng.choice(list(self.choices[name]))
            else:
                try:
                    args[name] = self.value(prop, rng)
                except CannotDraw as exc:
                    if name in self.required:
                        raise CannotDraw(f"{self.model.__name__}.{name}: {exc}; "
                                         f"pass choices={{'{name}': [...]}}") from None
        return args

    # -- one value ----------------------------------------------------------------------
    def value(self, schema: Mapping[str, Any], rng: random.Random, depth: int = 0) -> Any:
        if depth > 8:
            raise CannotDraw("schema nested too deeply")
        schema = self._resolve(schema)
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return rng.choice(list(schema["enum"]))
        for key in ("anyOf", "oneOf"):
            if key in schema:
                options = list(schema[key])
                rng.shuffle(options)
                for option in options:
                    try:
                        return self.value(option, rng, depth + 1)
                    except CannotDraw:
                        continue
                raise CannotDraw(f"no drawable branch in {key}")
        if "allOf" in schema and len(schema["allOf"]) == 1:
            return self.value({**schema["allOf"][0], **{k: v for k, v in schema.items() if k != "allOf"}},
                              rng, depth + 1)
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = rng.choice(kind)
        if kind == "null":
            return None
        if kind == "boolean":
            return rng.random() < 0.5
        if kind == "integer":
            return _integer(schema, rng)
        if kind == "number":
            return _number(schema, rng)
        if kind == "array":
            return self._array(schema, rng, depth)
        raise CannotDraw(f"cannot draw a value of schema {dict(schema)!r}")

    def _resolve(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return self.defs[ref.split("/")[-1]]
        return schema

    def _array(self, schema: Mapping[str, Any], rng: random.Random, depth: int) -> list[Any]:
        prefix = schema.get("prefixItems")
        if prefix:
            return [self.value(s, rng, depth + 1) for s in prefix]
        lo = int(schema.get("minItems", 1))
        hi = int(schema.get("maxItems", lo + 2))
        items = schema.get("items", {"type": "integer", "minimum": 1})
        return [self.value(items, rng, depth + 1) for _ in range(rng.randint(lo, max(lo, hi)))]


def _integer(schema: Mapping[str, Any], rng: random.Random) -> int:
    lo = schema.get("minimum")
    if "exclusiveMinimum" in schema:
        lo = int(schema["exclusiveMinimum"]) + 1
    hi = schema.get("maximum")
    if "exclusiveMaximum" in schema:
        hi = int(schema["exclusiveMaximum"]) - 1
    if lo is None:
        lo = -4 if hi is None else min(int(hi), 0) - 4
    lo = int(lo)
    hi = int(hi) if hi is not None else max(lo, 0) + 8
    if rng.random() < 0.6:  # favour the edges, where rules go wrong
        return rng.randint(lo, min(hi, lo + 3))
    return rng.randint(lo, hi)


def _number(schema: Mapping[str, Any], rng: random.Random) -> float:
    lo = schema.get("minimum", schema.get("exclusiveMinimum"))
    hi = schema.get("maximum", schema.get("exclusiveMaximum"))
    lo = float(lo) if lo is not None else (float(hi) - 2 if hi is not None else -2.0)
    hi = float(hi) if hi is not None else lo + 2
    value = round(rng.uniform(lo, hi), 4)
    if "exclusiveMinimum" in schema and value <= float(schema["exclusiveMinimum"]):
        value = float(schema["exclusiveMinimum"]) + 1e-3
    if "exclusiveMaximum" in schema and value >= float(schema["exclusiveMaximum"]):
        value = float(schema["exclusiveMaximum"]) - 1e-3
    return value
