"""Fixtures for engine tests: small specs and the in-memory stand-in data."""

from __future__ import annotations

import pytest

from tests.engine.standin import digits_bundle, random_bundle

TINY = """
name: tiny
input: [1, 8, 8]
seed: 3
model:
  - conv2d: {out_channels: 4, kernel_size: 3, padding: 1}
  - relu
  - maxpool2d: {kernel_size: 2}
  - flatten
  - linear: {out_features: 16}
  - relu
  - dropout: {p: 0.2}
  - linear: {out_features: 3}
train: {epochs: 2, optimizer: {sgd: {lr: 0.05, momentum: 0.9}}, progress: false}
"""


@pytest.fixture
def tiny_spec() -> str:
    return TINY


@pytest.fixture
def tiny_data():
    return random_bundle()


@pytest.fixture
def digits_data():
    return digits_bundle()


@pytest.fixture
def runs(tmp_path):
    return tmp_path / "runs"


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models on a shared 2-core machine: one thread avoids OpenMP contention."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
