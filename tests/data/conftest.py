"""Fixtures of the data tests: specs written to real files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cnnspec.spec import Spec, load_spec

BASE = """\
input: {input}
model:
  - flatten
  - linear: {{out_features: 10}}
"""


@pytest.fixture
def make_spec(tmp_path: Path) -> Callable[..., Spec]:
    """``make_spec(data_yaml, input=[1, 8, 8], seed=0)`` → a loaded spec from a real file."""

    def make(data: str, *, input: str = "[1, 8, 8]", seed: int = 0, name: str = "spec.yaml") -> Spec:
        text = BASE.format(input=input) + f"seed: {seed}\ndata:\n" + "".join(
            f"  {line}\n" for line in data.strip("\n").splitlines())
        path = tmp_path / name
        path.write_text(text)
        return load_spec(path)

    return make
