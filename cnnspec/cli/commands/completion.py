"""``cnnspec completion bash|zsh|fish|tcsh|powershell``: the shell code that enables tab completion.

    eval "$(cnnspec completion bash)"          # in ~/.bashrc
    eval "$(cnnspec completion zsh)"           # in ~/.zshrc
    cnnspec completion fish | source           # in ~/.config/fish/config.fish

Completes commands and options, and from the spec on the line: ``--set``
keys and values, ``--layer`` module names (see cnnspec.cli.completion).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from cnnspec.cli.completion import SHELLS

if TYPE_CHECKING:
    from cnnspec.cli.parser import Parents

__all__ = ["register", "run"]


def register(sub: Any, parents: Parents) -> None:
    p = sub.add_parser("completion", help="print the shell code for tab completion", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("shell", choices=SHELLS, help="the shell to enable completion in")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import argcomplete

    print(argcomplete.shellcode(["cnnspec"], shell=args.shell), end="")
    return 0
