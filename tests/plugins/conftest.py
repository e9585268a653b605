"""Fixtures: plugin distributions installed with pip into private folders.

The installation runs once per test session; pytest-xdist workers share it
through a lock in the session's common temporary folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from filelock import FileLock

from cnnspec.plugins.manager import AUTOLOAD_ENV, PluginSet, reset_plugins
from tests.plugins.distributions import install_all

CLI = [sys.executable, "-m", "cnnspec"]


def shared_once(tmp_path_factory: pytest.TempPathFactory, worker_id: str, key: str,
                make: Callable[[Path], dict[str, str]]) -> dict[str, str]:
    """Run ``make(folder)`` once per test session, whichever xdist worker comes first;
    the others wait on a lock and reuse its result (a JSON-able dict)."""
    shared = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        shared = shared.parent
    root = shared / key
    with FileLock(str(shared / f"{key}.lock")):
        marker = root / "done.json"
        if not marker.exists():
            root.mkdir(exist_ok=True)
            marker.write_text(json.dumps(make(root)))
    return json.loads(marker.read_text())


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> dict[str, Path]:
    """Folder name -> a folder holding installed distributions (see ``distributions.FOLDERS``)."""
    made = shared_once(tmp_path_factory, worker_id, "cnnspec-plugin-dists",
                       lambda root: {k: str(v) for k, v in install_all(root).items()})
    return {k: Path(v) for k, v in made.items()}


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> object:
        return json.loads(self.out)


@pytest.fixture
def cli_process(installed: dict[str, Path]) -> Callable[..., Run]:
    """``cli_process(["misc", "example"], "validate", "x.yaml")``: cnnspec in a fresh
    process that sees exactly those installed folders (in that order)."""

    def run(folders: Iterable[str], *argv: str, env: dict[str, str] | None = None) -> Run:
        full_env = {k: v for k, v in os.environ.items() if k != AUTOLOAD_ENV}
        full_env["PYTHONPATH"] = os.pathsep.join(str(installed[f]) for f in folders)
        full_env.update(env or {})
        done = subprocess.run([*CLI, *argv], capture_output=True, text=True, env=full_env, timeout=300)
        return Run(done.returncode, done.stdout, done.stderr)

    return run


@pytest.fixture
def cli(installed: dict[str, Path], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[..., Run]]:
    """Like ``cli_process`` but in this process (faster): the folders go first on
    ``sys.path`` for the one call, and the plugin cache is reset around it."""
    from cnnspec.cli import main

    def run(folders: Iterable[str], *argv: str, env: dict[str, str] | None = None) -> Run:
        with monkeypatch.context() as m:
            m.delenv(AUTOLOAD_ENV, raising=False)
            for key, value in (env or {}).items():
                m.setenv(key, value)
            for folder in reversed(list(folders)):
                m.syspath_prepend(str(installed[folder]))
            reset_plugins()
            capsys.readouterr()
            code = main(list(argv))
            out, err = capsys.readouterr()
        reset_plugins()
        return Run(code, out, err)

    yield run
    reset_plugins()


@pytest.fixture
def plugins_from(installed: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., PluginSet]]:
    """``plugins_from("shapes_b", "shapes_a", disabled=...)``: an in-process PluginSet
    that discovers the distributions in those folders, first on sys.path first."""
    monkeypatch.delenv(AUTOLOAD_ENV, raising=False)

    def make(*folders: str, **options: object) -> PluginSet:
        for folder in reversed(folders):
            monkeypatch.syspath_prepend(str(installed[folder]))
        return PluginSet(**options)  # type: ignore[arg-type]

    reset_plugins()
    yield make
    reset_plugins()
