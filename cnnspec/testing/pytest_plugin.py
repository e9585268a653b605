"""pytest fixtures for plugin authors: ``pytest_plugins = ["cnnspec.testing.pytest_plugin"]``.

* ``cnnspec_plugins`` — a fresh :class:`~cnnspec.plugins.manager.PluginSet`,
  loaded as the ``cnnspec`` command would load it (entry points included),
  so a test sees the installed distribution, not a hand-registered module;
* ``cnnspec_cli`` — runs ``cnnspec ARGS...`` in-process and returns its exit
  code and output, with the process-wide plugin cache reset around it.

The checks themselves are plain functions (:func:`cnnspec.testing.check_layer`,
:func:`cnnspec.testing.check_components`) that work under any test runner.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from cnnspec.plugins.manager import PluginSet, reset_plugins

__all__ = ["CliResult", "cnnspec_cli", "cnnspec_plugins"]


@dataclass
class CliResult:
    """What one ``cnnspec`` invocation did."""

    code: int
    out: str
    err: str


@pytest.fixture
def cnnspec_plugins() -> PluginSet:
    """The plugins the CLI would load now, freshly discovered."""
    return PluginSet()


@pytest.fixture
def cnnspec_cli() -> Iterator[Callable[..., CliResult]]:
    """``cnnspec_cli("validate", "spec.yaml")`` -> :class:`CliResult`."""
    from cnnspec.cli import main

    def run(*argv: str) -> CliResult:
        reset_plugins()
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(argv))
            except SystemExit as exc:  # argparse usage errors
                code = exc.code if isinstance(exc.code, int) else 2
        return CliResult(code, out.getvalue(), err.getvalue())

    yield run
    reset_plugins()
