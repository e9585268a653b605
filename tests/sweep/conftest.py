"""Fixtures for sweep tests: a tiny digits spec (seconds per trial) and the command line in-process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

#: trains in ~0.1 s per epoch on one thread; the validation split makes val_* metrics
TINY = """\
name: tiny
input: [1, 8, 8]
seed: 0
model:
  - conv2d: {out_channels: 8, kernel_size: 3, padding: 1}
  - relu
  - maxpool2d: {kernel_size: 2}
  - flatten
  - linear: {out_features: 10}
data: {dataset: digits, batch_size: 64, val_split: 0.2}
train: {epochs: 1, optimizer: {sgd: {lr: 0.05, momentum: 0.9}}, threads: 1, progress: false}
"""


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return path


@pytest.fixture
def sweep(capsys, monkeypatch, tmp_path):
    """``cnnspec sweep ARGS`` in this process: returns (exit code, stdout, stderr)."""
    from cnnspec.cli import main

    monkeypatch.chdir(tmp_path)

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["sweep", *map(str, args)])
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models on a shared machine: one thread avoids OpenMP contention."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def cli(*args: str, cwd: Path, **kw) -> subprocess.Popen:
    """``python -m cnnspec ARGS`` as its own process (this tree first on the path)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "cnnspec", *map(str, args)], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def load_study(directory: Path, name: str = "tiny", storage: str | None = None):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.load_study(study_name=name, storage=storage or f"sqlite:///{directory / 'study.db'}")


def final(run_dir: str | Path) -> dict:
    return json.loads((Path(run_dir) / "final.json").read_text())
