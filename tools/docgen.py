"""The spec reference (``docs/spec-reference.md``), generated from the code.

Everything in it comes from the pydantic models and the registries: field
names, types (read from each model's JSON Schema, as editors see them),
defaults, descriptions, every layer type with its arguments and doc, the
containers, and every dataset, transform, optimizer, loss, scheduler and
callback. Only the built-in plugins are listed, so the file does not depend
on what else happens to be installed. A test regenerates it and fails when
the committed copy differs, so the reference cannot drift from the code.

The tutorials (``docs/tutorials/*.md``) get the same treatment for the
commands they show: in a ```` ```console ```` block, a ``$ cnnspec ...`` line
of a static command (validate, summary, sizes, diff, resolve) is followed by
exactly what that command prints, rerun here from the repository root.

Run ``python -m tools.docgen`` to rewrite both, ``--check`` to only compare.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import shlex
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from cnnspec.plugins.manager import KINDS, PluginSet
from cnnspec.spec import CONTAINERS, SpecDocument
from cnnspec.spec.schema import spec_schema
from cnnspec.spec.sections import DataSpec, SweepSpec, TrainSpec

__all__ = [
    "DEFAULT_OUTPUT",
    "REFRESHED",
    "TUTORIALS",
    "ConsoleBlock",
    "console_blocks",
    "main",
    "refresh_markdown",
    "render_reference",
    "run_cli",
    "type_text",
]

DEFAULT_OUTPUT = Path("docs") / "spec-reference.md"
TUTORIALS = Path("docs") / "tutorials"
#: guides besides the tutorials whose console blocks are real command outputs
GUIDES = (Path("docs") / "analysis.md", Path("docs") / "composition.md")

#: subcommands whose output is deterministic and cheap: shown outputs are regenerated
REFRESHED = ("validate", "summary", "sizes", "diff", "resolve")

#: registry kind -> (section title, where a spec uses it)
_COMPONENTS = {
    "dataset": ("Datasets", "`data: {dataset: NAME}` or `data: {dataset: {NAME: {args}}}`"),
    "transform": ("Transforms", "items of `data.transforms` / `data.train_transforms`"),
    "optimizer": ("Optimizers", "`train: {optimizer: {NAME: {args}}}`"),
    "loss": ("Losses", "`train: {loss: NAME}` or `{NAME: {args}}`"),
    "scheduler": ("Schedulers", "`train: {scheduler: {NAME: {args}}}`"),
    "callback": ("Callbacks", "items of `callbacks:`"),
}

_CONTAINER_DOCS = {
    "sequential": "A named block of layers, run in order (a nested `nn.Sequential`; its name prefixes its "
                  "layers' module names).",
    "repeat": "The same layers `times` times; repetitions are named `0`, `1`, ... and each infers its own "
              "input channels.",
    "residual": "`layers(x) + shortcut(x)` (torch broadcasting); the shortcut is the identity when omitted. "
                "Built as modules `body` and `shortcut`.",
    "concat": "`torch.cat([branch(x) for each branch], dim)`; branches are named `branch1`, `branch2`, ...; "
              "all sizes but `dim` must agree.",
}


# -- types, from JSON Schema ------------------------------------------------------------------


def _bounds(schema: Mapping[str, Any]) -> str:
    parts = []
    for key, op in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="), ("exclusiveMaximum", "<")):
        if key in schema:
            parts.append(f"{op} {schema[key]}")
    return (" " + ", ".join(parts)) if parts else ""


def type_text(schema: Mapping[str, Any], defs: Mapping[str, Any] | None = None) -> str:
    """A short, human reading of a JSON Schema: ``int >= 1 or list of 2 (int >= 1)``."""
    defs = defs or {}
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        target = defs.get(name, {})
        return name if target.get("type") == "object" or "properties" in target else type_text(target, defs)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            texts: list[str] = []
            for option in schema[key]:
                text = type_text(option, defs)
                if text not in texts:
                    texts.append(text)
            return " or ".join(texts)
    if "enum" in schema:
        return " or ".join(f"`{v}`" if isinstance(v, str) else _literal(v) for v in schema["enum"])
    if "const" in schema:
        return _literal(schema["const"])
    kind = schema.get("type")
    if isinstance(kind, list):
        return " or ".join(type_text({**schema, "type": k}, defs) for k in kind)
    if kind == "integer":
        return "int" + _bounds(schema)
    if kind == "number":
        return "float" + _bounds(schema)
    if kind == "boolean":
        return "bool"
    if kind == "string":
        return "str"
    if kind == "null":
        return "null"
    if kind == "array":
        items = type_text(schema.get("items", {}), defs) if schema.get("items") else "any"
        lo, hi = schema.get("minItems"), schema.get("maxItems")
        count = f" of {lo}" if lo is not None and lo == hi else (f" of >= {lo}" if lo else "")
        return f"list{count} ({items})"
    if kind == "object":
        return "mapping"
    return "any"


def _literal(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"`{value}`" if value else '`""`'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_literal(v).strip("`") for v in value) + "]"
    if isinstance(value, dict):
        return "{}" if not value else "{" + ", ".join(f"{k}: {_literal(v).strip('`')}" for k, v in value.items()) + "}"
    return str(value)


def _cell(text: str) -> str:
    """Markdown table cells: no pipes, no line breaks."""
    return " ".join(text.replace("|", "\\|").split())


def _default(info: Any) -> str:
    if info.default is not PydanticUndefined:
        return _literal(info.default)
    if info.default_factory is not None:
        try:
            return _literal(info.default_factory())
        except TypeError:  # a factory that wants the validated data
            return "computed"
    return "**required**"


def field_rows(model: type[BaseModel], *, skip: Iterable[str] = (), inferred: Iterable[str] = ()) -> list[str]:
    """Markdown table rows for a model's fields, in declaration order."""
    schema = model.model_json_schema(ref_template="#/$defs/{model}")
    defs, props = schema.get("$defs", {}), schema.get("properties", {})
    inferred = set(inferred)
    rows = []
    for name, info in model.model_fields.items():
        if name in skip:
            continue
        text = type_text(props.get(name, {}), defs)
        default = "inferred" if name in inferred else _default(info)
        rows.append(f"| `{name}` | {_cell(text)} | {_cell(default)} | {_cell(info.description or '')} |")
    return rows


def _table(rows: list[str], empty: str = "no arguments") -> list[str]:
    if not rows:
        return [f"_{empty}._", ""]
    return ["| argument | type | default | description |", "|---|---|---|---|", *rows, ""]


# -- sections ----------------------------------------------------------------------------------


def _top_level(plugins: PluginSet) -> list[str]:
    props = spec_schema(plugins)["properties"]
    rows = field_rows(SpecDocument)
    for key in ("extends", "vars"):
        if key in props:
            text, doc = _cell(type_text(props[key])), _cell(props[key].get("description", ""))
            rows.append(f"| `{key}` | {text} | — | {doc} |")
    return [
        "## The document",
        "",
        "A spec is a YAML or JSON mapping. Unknown keys are errors (with a suggestion); values are checked "
        "strictly (no `\"3\"` for `3`).",
        "",
        "| key | type | default | description |",
        "|---|---|---|---|",
        *rows,
        "",
        "### `data:`",
        "",
        *_table(field_rows(DataSpec)),
        "### `train:`",
        "",
        *_table(field_rows(TrainSpec)),
        "### `sweep:`",
        "",
        "Read by `cnnspec sweep` only ([sweeps.md](sweeps.md)); `cnnspec train` ignores it.",
        "",
        *_table(field_rows(SweepSpec)),
    ]


def _containers() -> list[str]:
    out = ["## Containers", "",
           "Containers nest layers. Their shape rules are static like every layer's. Each is written "
           "`{container: {args}}` inside `model:` or another container.", ""]
    for kind, (model, prefix) in CONTAINERS.items():
        doc = " ".join((model.__doc__ or _CONTAINER_DOCS.get(kind, "")).split())
        out += [f"### `{kind}`", "", doc, "", f"Default name: `{prefix}1`, `{prefix}2`, ...", ""]
        out += _table(field_rows(model))
    return out


def _provider(entry: Any) -> str:
    provider = entry.provider
    return getattr(provider, "plugin", None) or getattr(provider, "name", None) or str(provider)


def _layers(plugins: PluginSet) -> list[str]:
    entries = sorted(plugins.layers(), key=lambda e: e.name.lower())
    out = ["## Layers", "",
           "A layer is `- type: {args}`, or a bare `- type` when every argument has a default. The type is the "
           "torch.nn class name, matched case-insensitively; arguments are torch's own keyword names. Every layer "
           "also takes `name` (an identifier; default: the prefix shown and a number, e.g. `conv1`).", "",
           "| layer | default name | plugin |", "|---|---|---|"]
    out += [f"| [`{e.name.lower()}`](#{e.name.lower()}) | `{e.obj.default_prefix}1` | {_provider(e)} |"
            for e in entries]
    out.append("")
    for entry in entries:
        layer = entry.obj
        out += [f"### {layer.name.lower()}", "", f"`{layer.name}` — {layer.doc}".rstrip(" —"), ""]
        out += _table(field_rows(layer.params, skip=("name",), inferred=layer.params.inferred),
                      empty="no arguments besides `name`")
    return out


def _factory_text(factory: Any) -> str:
    if isinstance(factory, str):
        module, _, attr = factory.partition(":")
        return f"{module}.{attr}" if attr else module
    return f"{getattr(factory, '__module__', '?')}.{getattr(factory, '__qualname__', repr(factory))}"


def _components(plugins: PluginSet) -> list[str]:
    out = ["## Components", "",
           "Everything outside `model:` that names a registered thing is written `NAME` or `{NAME: {args}}`; "
           "names are matched case-insensitively and checked when the spec loads.", ""]
    for kind in KINDS:
        if kind not in _COMPONENTS:
            continue
        title, usage = _COMPONENTS[kind]
        entries = sorted(plugins.registry(kind), key=lambda e: e.name.lower())
        out += [f"### {title}", "", f"Used as {usage}.", ""]
        if not entries:
            out += ["_none registered._", ""]
            continue
        for entry in entries:
            comp = entry.obj
            out += [f"#### `{entry.name}`", "", f"{comp.doc or _factory_text(comp.factory)} (plugin: "
                    f"{_provider(entry)})", ""]
            if comp.params is not None:
                out += _table(field_rows(comp.params))
            else:
                out += [f"Arguments: those of `{_factory_text(comp.factory)}`, checked against its signature "
                        "before anything runs.", ""]
    return out


def render_reference(plugins: PluginSet | None = None) -> str:
    """The whole reference as Markdown (built-in plugins only, unless given others)."""
    plugins = plugins or PluginSet(autoload=False)
    lines = [
        "# Spec reference",
        "",
        "<!-- Generated by `python -m tools.docgen` from the spec models and the built-in plugins' registries."
        " Do not edit: tests/test_docs.py fails when this file and the code disagree. -->",
        "",
        "Contents: [the document](#the-document) · [containers](#containers) · [layers](#layers) · "
        "[components](#components)",
        "",
        *_top_level(plugins),
        *_containers(),
        *_layers(plugins),
        *_components(plugins),
    ]
    while lines and lines[-1] == "":
        lines.pop()
    return "\n".join(lines) + "\n"


# -- console blocks in Markdown ------------------------------------------------------------------

_CONSOLE = re.compile(r"^```console\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class ConsoleBlock:
    """One ``$ command`` and the output shown under it, with the output's offsets."""

    command: str
    output: str
    start: int
    end: int

    @property
    def argv(self) -> list[str]:
        return shlex.split(self.command)

    @property
    def refreshed(self) -> bool:
        argv = self.argv
        return len(argv) > 1 and argv[0] == "cnnspec" and argv[1] in REFRESHED


def console_blocks(text: str) -> list[ConsoleBlock]:
    """Every ``$ ...`` command in the console blocks; a backslash continues a line."""
    blocks = []
    for match in _CONSOLE.finditer(text):
        body, offset = match.group(1), match.start(1)
        lines = body.splitlines(keepends=True)
        i = 0
        pos = offset
        while i < len(lines):
            if not lines[i].startswith("$ "):
                pos += len(lines[i])
                i += 1
                continue
            command = lines[i][2:].rstrip("\n")
            pos += len(lines[i])
            i += 1
            while command.endswith("\\") and i < len(lines):
                command = command[:-1].rstrip() + " " + lines[i].strip()
                pos += len(lines[i])
                i += 1
            start = pos
            while i < len(lines) and not lines[i].startswith("$ "):
                pos += len(lines[i])
                i += 1
            blocks.append(ConsoleBlock(command, text[start:pos], start, pos))
    return blocks


def run_cli(argv: list[str]) -> str:
    """What ``cnnspec ARGV`` prints (stdout, then stderr), run in this process."""
    from cnnspec.cli import main as cli_main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        cli_main(argv)
    text = out.getvalue() + err.getvalue()
    return text if text.endswith("\n") or not text else text + "\n"


def refresh_markdown(text: str) -> str:
    """``text`` with the output of every refreshed command replaced by a fresh run."""
    pieces, last = [], 0
    for block in console_blocks(text):
        if not block.refreshed:
            continue
        pieces += [text[last:block.start], run_cli(block.argv[1:])]
        last = block.end
    return "".join(pieces) + text[last:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.docgen", description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT, help=f"default: {DEFAULT_OUTPUT}")
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is not up to date; write nothing")
    parser.add_argument("--tutorials", type=Path, default=TUTORIALS, metavar="DIR",
                        help=f"Markdown files whose command outputs are refreshed (default: {TUTORIALS})")
    args = parser.parse_args(argv)
    outputs = {args.output: render_reference()}
    for page in [*sorted(args.tutorials.glob("*.md")), *GUIDES]:
        outputs[page] = refresh_markdown(page.read_text(encoding="utf-8"))
    stale = []
    for path, text in outputs.items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(path)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if args.check and stale:
        print("out of date: " + ", ".join(map(str, stale)) + "; run: python -m tools.docgen", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
