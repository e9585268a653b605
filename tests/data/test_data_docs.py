"""Every spec fragment in docs/data.md loads, and its input fits its data."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from cnnspec.analysis.consistency import static_input_problem, static_sample_shape
from cnnspec.spec import load_spec

DOC = Path(__file__).resolve().parents[2] / "docs" / "data.md"
BLOCKS = [b for b in re.findall(r"```yaml\n(.*?)```", DOC.read_text(), flags=re.S) if "data:" in b]


def test_the_doc_has_examples():
    assert len(BLOCKS) >= 6


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_doc_example_is_a_valid_data_section(block):
    document = yaml.safe_load(block)
    document.setdefault("model", ["flatten", {"linear": {"out_features": 10}}])
    document.setdefault("input", [3, 32, 32])
    spec = load_spec(document)
    assert static_input_problem(spec) is None
    if "imagefolder" not in block:
        assert static_sample_shape(spec) == tuple(document["input"])
