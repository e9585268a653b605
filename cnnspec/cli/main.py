"""``cnnspec``'s entry point: parse, run the command, turn what escapes into an exit code.

Exit codes: 0 success, 2 a user mistake (spec, plugin selection, arguments),
1 an internal error (a bug: the traceback is printed). A user mistake never
prints a traceback; every message goes through :mod:`cnnspec.render`, and a
shape error of a loaded spec comes with its fix-its whichever command found it.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Sequence
from typing import Any

from cnnspec.cli.completion import autocomplete
from cnnspec.cli.parser import COMMANDS, build_parser
from cnnspec.exceptions import CnnspecError, SpecError
from cnnspec.render import render_error

__all__ = ["COMMANDS", "build_parser", "main", "report_error"]


def _configure_plugins(options: Sequence[str]) -> None:
    from cnnspec.plugins.manager import configure

    disabled = [o[3:] for o in options if o.startswith("no:")]
    enabled = [o for o in options if not o.startswith("no:")]
    configure(disabled=disabled, enabled=enabled)


def report_error(exc: CnnspecError) -> str:
    """What the user reads for ``exc``: the located message, its hint and, for a
    shape error of a loaded spec, the fix-its."""
    fixes = []
    if isinstance(exc, SpecError):
        from cnnspec.analysis.fixits import fixes_for

        fixes = fixes_for(None, exc)
    return render_error(exc, fixes)


def _resolve_examples(args: Any) -> None:
    """A SPEC argument that names no file but an example spec (``cnnspec train digits``) becomes that example."""
    from cnnspec.load.examples import resolve_spec_argument

    def resolve(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        path, example = resolve_spec_argument(value)
        if example is not None and value != example.name:
            print(f"note: {value} is not a file here; using the example spec '{example.name}' ({path})",
                  file=sys.stderr)
        return path

    for name in ("file", "spec", "source"):
        if hasattr(args, name) and args.command not in ("examples", "completion"):
            setattr(args, name, resolve(getattr(args, name)))
    if isinstance(getattr(args, "files", None), list):
        args.files = [resolve(f) for f in args.files]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    autocomplete(parser)  # answers a shell's tab completion and exits; nothing otherwise
    args = parser.parse_args(argv)
    try:
        _configure_plugins(getattr(args, "plugin_options", []))
        _resolve_examples(args)
        return int(args.func(args) or 0)
    except CnnspecError as exc:
        print(report_error(exc), file=sys.stderr)
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
