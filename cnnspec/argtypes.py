"""Argument types shared by layer parameter models (built-in and plugin).

torch accepts ``kernel_size=3`` or ``kernel_size=(3, 5)``; the spec accepts
``3`` or ``[3, 5]``. A plain ``int | list[int]`` union would give pydantic's
two-branch error for one mistake, so these types validate by hand and say in
one sentence what was expected and what was found.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

__all__ = ["Padding", "RelativePath", "Size", "describe_value"]


def describe_value(value: Any) -> str:
    """``'3' (a string)``: the value as the user wrote it, with its YAML type."""
    kinds = {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a mapping",
        type(None): "null",
    }
    kind = kinds.get(type(value), type(value).__name__)
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{text} ({kind})" if value is not None else "null"


def _int_ok(v: Any, minimum: int) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= minimum


def Size(n: int, minimum: int = 1, *, allow_none: bool = False) -> Any:
    """An int ``>= minimum`` or a list of ``n`` of them (``None`` entries if allowed)."""
    noun = f"integer >= {minimum}"
    entry = "such integers or nulls" if allow_none else "such integers"
    expected = f"an {noun} or a list of {n} {entry}" if n > 1 else f"an {noun}"

    def validate(value: Any) -> Any:
        if _int_ok(value, minimum):
            return value
        if isinstance(value, (list, tuple)) and n > 1 and len(value) == n:
            if all(_int_ok(v, minimum) or (allow_none and v is None) for v in value):
                return list(value)
        raise PydanticCustomError(
            "size", "expected {expected}, got {got}", {"expected": expected, "got": describe_value(value)}
        )

    item: dict[str, Any] = {"type": "integer", "minimum": minimum}
    if allow_none:
        item = {"anyOf": [item, {"type": "null"}]}
    schema: dict[str, Any] = {
        "anyOf": [
            {"type": "integer", "minimum": minimum},
            {"type": "array", "items": item, "minItems": n, "maxItems": n},
        ]
    }
    if n == 1:
        schema = {"type": "integer", "minimum": minimum}
    return Annotated[Any, PlainValidator(validate), WithJsonSchema(schema)]


def Padding(n: int) -> Any:
    """Convolution padding: ``same``, ``valid``, an int >= 0, or a list of ``n``."""
    expected = f"'same', 'valid', an integer >= 0 or a list of {n} integers >= 0"

    def validate(value: Any) -> Any:
        if value in ("same", "valid") and isinstance(value, str):
            return value
        if _int_ok(value, 0):
            return value
        if isinstance(value, (list, tuple)) and len(value) == n and all(_int_ok(v, 0) for v in value):
            return list(value)
        raise PydanticCustomError(
            "padding", "expected {expected}, got {got}", {"expected": expected, "got": describe_value(value)}
        )

    schema = {
        "anyOf": [
            {"enum": ["same", "valid"]},
            {"type": "integer", "minimum": 0},
            {"type": "array", "items": {"type": "integer", "minimum": 0}, "minItems": n, "maxItems": n},
        ]
    }
    return Annotated[Any, PlainValidator(validate), WithJsonSchema(schema)]


def _inside(value: Any) -> Any:
    if not isinstance(value, str) or not value.strip():
        raise PydanticCustomError("relative_path", "expected a folder name, got {got}", {"got": describe_value(value)})
    parts = value.replace("\\", "/").split("/")
    if value.startswith(("/", "~")) or (len(value) > 1 and value[1] == ":") or ".." in parts:
        raise PydanticCustomError(
            "relative_path",
            "expected a path inside the run directory (relative, without '..'), got {got}",
            {"got": describe_value(value)},
        )
    return value


#: a path that stays inside the run directory: relative, no ``..`` component
RelativePath = Annotated[Any, PlainValidator(_inside), WithJsonSchema({"type": "string"})]
