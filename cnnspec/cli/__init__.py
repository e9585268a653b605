# PYTHON_ARGCOMPLETE_OK  (argcomplete's marker: the cnnspec script completes itself)
"""The ``cnnspec`` command line: the shared parser, one renderer, the commands."""

from cnnspec.cli.main import COMMANDS, build_parser, main

__all__ = ["COMMANDS", "build_parser", "main"]
