"""Shared fixtures: paths to the repository's specs and a spec-writing helper.

Tests that are not about devices run on the CPU whatever the machine has:
``device: auto`` resolves to the CPU here (``CNNSPEC_DEVICE``, set before any
test runs, so subprocesses inherit it). Tests about GPUs ask for ``cuda``
explicitly, carry ``@pytest.mark.cuda`` and are skipped where CUDA is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"

os.environ["CNNSPEC_DEVICE"] = "cpu"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    cuda = [item for item in items if item.get_closest_marker("cuda")]
    if not cuda:
        return
    import torch

    if not torch.cuda.is_available():
        skip = pytest.mark.skip(reason="needs a CUDA GPU")
        for item in cuda:
            item.add_marker(skip)


@pytest.fixture
def write_spec(tmp_path: Path):
    """Write spec text to a file and return its path (name defaults to spec.yaml)."""

    def write(text: str, name: str = "spec.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write
