"""Arguments of layers and components, with types and defaults — without importing what they belong to.

Layers and most components have an argument model (pydantic): its fields
are the arguments. Components without one name their factory as a string
(``"torch.optim:SGD"``), which the engine checks against the real signature
when it builds it; importing torch here would cost the editor seconds, so
the signature is read from the factory's *source* instead: the module file is
found on ``sys.path`` without executing anything, parsed with :mod:`ast`,
re-exports (``from .sgd import SGD``) followed, and the class's ``__init__``
(or the function) read. Arguments the engine passes itself (an optimizer's
parameters, a scheduler's optimizer) are left out.
"""

from __future__ import annotations

import ast
import importlib.util
import os
from dataclasses import dataclass
from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

__all__ = ["Argument", "component_arguments", "model_arguments", "source_signature", "type_text"]

#: component kind -> positional arguments the engine passes before the spec's
ENGINE_ARGS = {"optimizer": 1, "scheduler": 1}
_MAX_HOPS = 6


@dataclass(frozen=True)
class Argument:
    """One keyword argument: ``default`` is its text, ``None`` when it is required."""

    name: str
    type: str
    default: str | None
    doc: str = ""
    inferred: bool = False

    @property
    def required(self) -> bool:
        return self.default is None and not self.inferred

    def describe(self) -> str:
        default = "inferred" if self.inferred else ("required" if self.default is None else f"default {self.default}")
        return f"{self.type}, {default}" if self.type else default


def type_text(schema: dict[str, Any], defs: dict[str, Any] | None = None) -> str:
    """A short reading of a JSON Schema: ``int >= 1 or list of 2 int``."""
    defs = defs or {}
    if "$ref" in schema:
        return type_text(defs.get(schema["$ref"].rsplit("/", 1)[-1], {}), defs)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            texts: list[str] = []
            for option in schema[key]:
                text = type_text(option, defs)
                if text not in texts:
                    texts.append(text)
            return " or ".join(texts)
    if "enum" in schema:
        return " | ".join(repr(v) if isinstance(v, str) else str(v) for v in schema["enum"])
    if "const" in schema:
        return repr(schema["const"])
    kind = schema.get("type")
    bounds = "".join(f" {op} {schema[k]}" for k, op in (("minimum", ">="), ("exclusiveMinimum", ">"),
                                                          ("maximum", "<="), ("exclusiveMaximum", "<"))
                     if k in schema and abs(schema[k]) < 1e300)
    names = {"integer": "int", "number": "float", "boolean": "bool", "string": "str", "null": "null",
             "object": "mapping"}
    if kind in names:
        return names[kind] + bounds
    if kind == "array":
        items = type_text(schema.get("items", {}), defs) if schema.get("items") else "any"
        lo, hi = schema.get("minItems"), schema.get("maxItems")
        count = f" of {lo}" if lo is not None and lo == hi else ""
        return f"list{count} of {items}"
    return "any"


def _literal(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, str) else str(value)


@cache
def model_arguments(model: type[BaseModel], inferred: tuple[str, ...] = ()) -> tuple[Argument, ...]:
    """The fields of an argument model (``name`` aside), in declaration order."""
    schema = model.model_json_schema(ref_template="#/$defs/{model}")
    defs, props = schema.get("$defs", {}), schema.get("properties", {})
    out = []
    for name, info in model.model_fields.items():
        if name == "name":
            continue
        if info.default is not PydanticUndefined:
            default: str | None = _literal(info.default)
        elif info.default_factory is not None:
            default = "computed"
        else:
            default = None
        out.append(Argument(name, type_text(props.get(name, {}), defs), default, info.description or "",
                            name in inferred))
    return tuple(out)


def component_arguments(component: Any, kind: str) -> tuple[Argument, ...] | None:
    """A component's arguments: its model's, or its factory's signature read from source (``None``: unknown)."""
    if component.params is not None:
        return model_arguments(component.params)
    if isinstance(component.factory, str):
        return source_signature(component.factory, ENGINE_ARGS.get(kind, 0))
    return None


# -- signatures from source -----------------------------------------------------------------

def _module_file(module: str) -> str | None:
    """The source file of ``module``, found without importing it (or any package above it)."""
    top, *rest = module.split(".")
    try:
        spec = importlib.util.find_spec(top)  # a top-level name: nothing is executed
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin:
        return None
    if not rest:
        return spec.origin if spec.origin.endswith(".py") else None
    base = spec.submodule_search_locations
    if not base:
        return None
    for folder in base:
        path = os.path.join(folder, *rest)
        for candidate in (path + ".py", os.path.join(path, "__init__.py")):
            if os.path.isfile(candidate):
                return candidate
    return None


@cache
def _parse(path: str) -> ast.Module | None:
    try:
        with open(path, encoding="utf-8") as fh:
            return ast.parse(fh.read(), path)
    except (OSError, SyntaxError, ValueError):
        return None


Found = tuple[str, ast.ClassDef | ast.FunctionDef]


def _find(module: str, name: str, hops: int = 0) -> Found | None:
    """Where ``name`` is defined, starting from ``module``: the defining module and the definition."""
    path = _module_file(module)
    tree = _parse(path) if path else None
    if tree is None or hops > _MAX_HOPS:
        return None
    package = module if path and path.endswith("__init__.py") else module.rpartition(".")[0]
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)) and node.name == name:
            return module, node
    stars = []
    for node in tree.body:  # a re-export: from .sgd import SGD (or from .modules import *)
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            target = f"{base}.{node.module}" if node.module else base
        else:
            target = node.module or ""
        if any((a.asname or a.name) == name for a in node.names):
            real = next(a.name for a in node.names if (a.asname or a.name) == name)
            return _find(target, real, hops + 1)
        if any(a.name == "*" for a in node.names):
            stars.append(target)
    for target in stars:
        found = _find(target, name, hops + 1)
        if found is not None:
            return found
    return None


_FOLD = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
         ast.Div: lambda a, b: a / b, ast.Pow: lambda a, b: a**b if abs(b) < 64 else None}


def _constant(node: ast.expr, names: dict[str, ast.expr], depth: int = 0) -> Any:
    """The value of a default written as a literal, a module constant or arithmetic on them (never executed)."""
    if depth > 8:
        raise ValueError
    if isinstance(node, ast.Name) and node.id in names:
        return _constant(names[node.id], names, depth + 1)
    if isinstance(node, ast.BinOp) and type(node.op) in _FOLD:
        value = _FOLD[type(node.op)](_constant(node.left, names, depth + 1), _constant(node.right, names, depth + 1))
        if value is None:
            raise ValueError
        return value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_constant(node.operand, names, depth + 1)
    return ast.literal_eval(node)


def _default_text(node: ast.expr, names: dict[str, ast.expr]) -> str:
    try:
        return repr(_constant(node, names))
    except (ValueError, TypeError, SyntaxError, ZeroDivisionError, OverflowError, RecursionError):
        return ast.unparse(node)


def _module_constants(tree: ast.Module) -> dict[str, ast.expr]:
    out: dict[str, ast.expr] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            out[node.targets[0].id] = node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            out[node.target.id] = node.value
    return out


def _arguments(fn: ast.FunctionDef, skip: int, names: dict[str, ast.expr] | None = None) -> tuple[Argument, ...]:
    names = names or {}
    args = fn.args
    positional = [*args.posonlyargs, *args.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    out = []
    for arg, default in list(zip(positional, defaults))[skip:]:
        if arg in args.posonlyargs:
            continue
        out.append(Argument(arg.arg, ast.unparse(arg.annotation) if arg.annotation else "",
                            _default_text(default, names) if default is not None else None))
    for arg, kw_default in zip(args.kwonlyargs, args.kw_defaults):
        out.append(Argument(arg.arg, ast.unparse(arg.annotation) if arg.annotation else "",
                            _default_text(kw_default, names) if kw_default is not None else None))
    return tuple(out)


def _init(module: str, node: ast.ClassDef, hops: int = 0) -> tuple[str, ast.FunctionDef] | None:
    """A class's ``__init__`` and the module it is written in: its own, or the first base's that has one."""
    init = next((n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None)
    if init is not None:
        return module, init
    if hops > _MAX_HOPS:
        return None
    for base in node.bases:
        if isinstance(base, ast.Name):
            found = _find(module, base.id)
            if found is not None and isinstance(found[1], ast.ClassDef):
                inherited = _init(found[0], found[1], hops + 1)
                if inherited is not None:
                    return inherited
    return None


def _constants_of(module: str) -> dict[str, ast.expr]:
    path = _module_file(module)
    tree = _parse(path) if path else None
    return _module_constants(tree) if tree is not None else {}


@cache
def source_signature(target: str, skip: int = 0) -> tuple[Argument, ...] | None:
    """The keyword arguments of ``"module:attr"`` read from its source; ``skip`` leading ones left out."""
    module, _, attr = target.partition(":")
    found = _find(module, attr) if attr and "." not in attr else None
    if found is None:
        return None
    where, node = found
    if isinstance(node, ast.FunctionDef):
        return _arguments(node, skip, _constants_of(where))
    init = _init(where, node)
    if init is None:
        return None
    return _arguments(init[1], skip + 1, _constants_of(init[0]))  # + self
