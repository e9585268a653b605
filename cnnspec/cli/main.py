"""The ``cnnspec`` command line: subcommands, plugin options, exit codes.

Exit codes: 0 success, 2 a user mistake (spec, plugin selection, arguments),
1 an internal error. A user mistake never prints a traceback. Each subcommand
lives in its own module under :mod:`cnnspec.cli.commands` and imports heavy
dependencies (torch) only when it runs, so ``cnnspec validate`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from collections.abc import Sequence

from cnnspec._version import __version__
from cnnspec.exceptions import CnnspecError, SpecError

__all__ = ["COMMANDS", "main"]

#: subcommand -> module defining ``register(subparsers, common)``
COMMANDS: dict[str, str] = {
    "validate": "cnnspec.cli.commands.validate",
    "summary": "cnnspec.cli.commands.summary",
    "schema": "cnnspec.cli.commands.schema",
    "plugins": "cnnspec.cli.commands.plugins",
    "resolve": "cnnspec.cli.commands.resolve",
    "diff": "cnnspec.cli.commands.diff",
    "sizes": "cnnspec.cli.commands.sizes",
    "train": "cnnspec.cli.commands.train",
    "evaluate": "cnnspec.cli.commands.evaluate",
    "export": "cnnspec.cli.commands.export",
    "explain": "cnnspec.cli.commands.explain",
}


def _common_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-p", dest="plugin_options", action="append", default=argparse.SUPPRESS, metavar="NAME",
        help="load plugin NAME even with autoload disabled; -p no:NAME disables it",
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common_parser()
    parser = argparse.ArgumentParser(
        prog="cnnspec",
        description="Convolutional networks from a YAML/JSON spec, shape-checked before any tensor exists.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"cnnspec {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in COMMANDS.values():
        importlib.import_module(module).register(sub, common)
    return parser


def _configure_plugins(options: Sequence[str]) -> None:
    from cnnspec.plugins.manager import configure

    disabled = [o[3:] for o in options if o.startswith("no:")]
    enabled = [o for o in options if not o.startswith("no:")]
    configure(disabled=disabled, enabled=enabled)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        _configure_plugins(getattr(args, "plugin_options", []))
        return int(args.func(args) or 0)
    except SpecError as exc:
        print(exc.format(), file=sys.stderr)
        return 2
    except CnnspecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        print(f"interrupted {exc}" if str(exc) else "interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (``cnnspec validate ... | head``): not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception:
        print("cnnspec: internal error (this is a bug; please report it with the trace below)",
              file=sys.stderr)
        traceback.print_exc()
        return 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
