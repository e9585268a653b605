"""``cnnspec lsp``: the language server for spec files, on stdin/stdout (for an editor to start).

Diagnostics as you type (the messages of ``validate``), hover with shapes and
their arithmetic, inlay hints, completion, go to definition, the outline and
fix-its. Set up for VS Code, Neovim and others: docs/editors.md. ``-p NAME``
and ``-p no:NAME`` choose plugins as for every command.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cnnspec.cli.parser import Parents

__all__ = ["register", "run"]


def register(sub: Any, parents: Parents) -> None:
    p = sub.add_parser("lsp", parents=[parents.plugins], help="run the language server (stdio) for editors",
                       description=__doc__)
    p.add_argument("--stdio", action="store_true", help="talk over stdin/stdout (the default and only transport)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cnnspec.lsp.server import serve
    from cnnspec.plugins.manager import get_plugins

    serve(get_plugins)  # made after stdout is the protocol's alone
    return 0
