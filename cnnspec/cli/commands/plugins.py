"""``cnnspec plugins``: every plugin, where it comes from, what it registers.

Lists built-in and installed plugins with their distribution and version, the
names each registers per kind, plugins that failed to load with the reason,
and names registered by more than one plugin. ``--strict`` exits 2 when a
plugin is broken (for CI); ``--hooks`` prints the hook reference instead.
Imports no torch.
"""

from __future__ import annotations

import argparse
import inspect
import json
import shutil
import textwrap
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cnnspec.cli.parser import Parents

__all__ = ["hooks_markdown", "plugins_json", "plugins_text", "register", "run"]

def register(sub: Any, parents: Parents) -> None:
    p = sub.add_parser("plugins", parents=[parents.plugins, parents.format()],
                       help="list plugins and what they register",
                       description=__doc__)
    p.add_argument("--strict", action="store_true", help="exit 2 if any plugin failed to load")
    p.add_argument("--hooks", action="store_true", help="print the hook reference (Markdown) and exit")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.hooks:
        print(hooks_markdown(), end="")
        return 0
    from cnnspec.plugins.manager import get_plugins

    plugins = get_plugins()
    if args.format == "json":
        print(json.dumps(plugins_json(plugins), indent=2))
    else:
        print(plugins_text(plugins), end="")
    broken = [p for p in plugins.plugins() if p.status == "broken"]
    return 2 if args.strict and broken else 0


def plugins_json(plugins: Any) -> dict[str, Any]:
    """Plugins, conflicts and hooks as plain data (``--format json``)."""
    from cnnspec._version import __version__
    from cnnspec.plugins.manager import hook_names

    infos = plugins.plugins()
    return {
        "cnnspec": __version__,
        "autoload": plugins.autoload,
        "plugins": [info.to_dict() for info in infos],
        "broken": [info.name for info in infos if info.status == "broken"],
        "warnings": list(plugins.warnings),
        "conflicts": [
            {"kind": kind, "name": name,
             "providers": [{"plugin": e.provider.plugin, "distribution": e.provider.distribution,
                            "version": e.provider.version, "qualified_name": e.qualified_name} for e in entries]}
            for kind, names in plugins.conflicts().items() for name, entries in names.items()
        ],
        "hooks": hook_names(),
    }


def plugins_text(plugins: Any, width: int | None = None) -> str:
    """The human-readable listing."""
    from cnnspec._version import __version__

    width = width or min(100, shutil.get_terminal_size((100, 24)).columns)
    infos = plugins.plugins()
    broken = [i for i in infos if i.status == "broken"]
    builtin = sum(1 for i in infos if i.builtin)
    lines = [f"cnnspec {__version__}: {len(infos)} plugins ({builtin} built-in, {len(infos) - builtin} installed)"
             + (f", {len(broken)} broken" if broken else "")]
    for info in infos:
        lines.append("")
        origin = "built-in" if info.builtin else (
            f"{info.distribution} {info.version or ''}".strip() if info.distribution else f"module {info.module}")
        status = "" if info.status == "loaded" else f"  [{info.status.upper()}]"
        lines.append(f"{info.name}  ({origin}){status}")
        if info.entry_point:
            lines.append(f"  entry point: {info.entry_point}")
        for kind, names in info.registers.items():
            lines.extend(_wrap(f"{kind} ({len(names)}): ", ", ".join(names), width))
        for error in info.errors:
            lines.extend(_wrap("error: ", error, width))
        for note in info.notes:
            lines.extend(_wrap("note: ", note, width))
    if plugins.warnings:
        lines += ["", "warnings:"]
        for warning in plugins.warnings:
            lines.extend(_wrap("", warning, width))
    conflicts = plugins.conflicts()
    if conflicts:
        lines += ["", "names registered by more than one plugin (qualify them in specs as PLUGIN:NAME):"]
        for kind, names in conflicts.items():
            for name, entries in names.items():
                who = " and ".join(str(e.provider) for e in entries)
                choices = ", ".join(e.qualified_name for e in entries)
                lines.extend(_wrap(f"{kind} '{name}': ", f"{who}; write {choices}", width))
    return "\n".join(lines) + "\n"


def _wrap(head: str, text: str, width: int) -> list[str]:
    return textwrap.wrap(text, width=width, initial_indent="  " + head, subsequent_indent=" " * (2 + len(head)),
                         break_long_words=False, break_on_hyphens=False) or ["  " + head.rstrip()]


def hooks_markdown() -> str:
    """The hook reference in Markdown, generated from :mod:`cnnspec.hookspec`."""
    from cnnspec import hookspec
    from cnnspec.plugins.manager import KINDS, hook_names

    kind_of = {hook: kind for kind, hook in KINDS.items()}
    parts = [hookspec.CONTRACT.rstrip(), ""]
    for name in hook_names():
        fn = getattr(hookspec, name)
        sig = inspect.signature(fn)
        args = ", ".join(sig.parameters)
        doc = inspect.getdoc(fn) or ""
        kind = f" — fills the `{kind_of[name]}` registry" if name in kind_of else ""
        parts += [f"### `{name}({args})`{kind}", "", doc, ""]
    return "\n".join(parts)
