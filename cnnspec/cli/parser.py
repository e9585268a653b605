"""The command line's shape: one subparser per command, built from shared option groups.

The options several commands have are declared once, as argparse parent
parsers, so they read and behave alike everywhere:

* ``-p NAME`` / ``-p no:NAME`` — load or disable a plugin (every command);
* ``--set KEY=VALUE`` — override a value of the spec (every command that reads one);
* ``--format text|json`` — how results are printed (choices per command).

Each command module under :mod:`cnnspec.cli.commands` defines
``register(sub, parents)`` and adds its own options; it imports heavy
dependencies (torch) only when it runs, so ``cnnspec validate`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence
from functools import cache

from cnnspec._version import __version__

__all__ = ["COMMANDS", "Parents", "build_parser"]

#: subcommand -> module defining ``register(sub, parents)`` and ``run(args)``
COMMANDS: dict[str, str] = {
    "validate": "cnnspec.cli.commands.validate",
    "summary": "cnnspec.cli.commands.summary",
    "schema": "cnnspec.cli.commands.schema",
    "plugins": "cnnspec.cli.commands.plugins",
    "resolve": "cnnspec.cli.commands.resolve",
    "diff": "cnnspec.cli.commands.diff",
    "sizes": "cnnspec.cli.commands.sizes",
    "draw": "cnnspec.cli.commands.draw",
    "lsp": "cnnspec.cli.commands.lsp",
    "completion": "cnnspec.cli.commands.completion",
    "train": "cnnspec.cli.commands.train",
    "evaluate": "cnnspec.cli.commands.evaluate",
    "export": "cnnspec.cli.commands.export",
    "explain": "cnnspec.cli.commands.explain",
    "predict": "cnnspec.cli.commands.predict",
    "examples": "cnnspec.cli.commands.examples",
    "runs": "cnnspec.cli.commands.runs",
    "sweep": "cnnspec.cli.commands.sweep",
}


class Parents:
    """The shared option groups, as parent parsers for ``sub.add_parser(..., parents=[...])``."""

    def __init__(self) -> None:
        self.plugins = argparse.ArgumentParser(add_help=False)
        self.plugins.add_argument(
            "-p", dest="plugin_options", action="append", default=argparse.SUPPRESS, metavar="NAME",
            help="load plugin NAME even with autoload disabled; -p no:NAME disables it",
        )
        self.overrides = argparse.ArgumentParser(add_help=False)
        self.overrides.add_argument(
            "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
            help="override a value of the spec (repeatable), e.g. --set train.epochs=3; --set ~KEY deletes it",
        )

    def spec(self) -> list[argparse.ArgumentParser]:
        """The groups of a command that reads a spec: ``-p`` and ``--set``."""
        return [self.plugins, self.overrides]

    @cache  # noqa: B019 - one parser per choice list, for the life of the (single) Parents object
    def format(self, choices: Sequence[str] = ("text", "json")) -> argparse.ArgumentParser:
        """``--format`` with ``choices``, the first being the default."""
        parent = argparse.ArgumentParser(add_help=False)
        parent.add_argument("--format", choices=tuple(choices), default=choices[0],
                            help=f"output format (default {choices[0]})")
        return parent


def build_parser() -> argparse.ArgumentParser:
    """The whole ``cnnspec`` parser, every command registered."""
    parents = Parents()
    parser = argparse.ArgumentParser(
        prog="cnnspec",
        description="Convolutional networks from a YAML/JSON spec, shape-checked before any tensor exists.",
        parents=[parents.plugins],
    )
    parser.add_argument("--version", action="version", version=f"cnnspec {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in COMMANDS.values():
        importlib.import_module(module).register(sub, parents)
    return parser
