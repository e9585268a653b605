"""Token ranges and edits against the real parsers: PyYAML's own end marks, and loading the edited text.

``token_end`` reads where a token ends from the text; PyYAML's composer knows
where every scalar and flow collection ends. They must agree on every node of
every shipped spec, and on thousands of random flow documents. Fix-it edits
written into the text must load back to exactly the data the fix describes.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import yaml

from cnnspec.analysis.edits import REMOVE, Fix, replace_value
from cnnspec.load.reader import parse_text
from cnnspec.lsp.actions import apply_edits, fix_edits
from cnnspec.lsp.analysis import analyze
from cnnspec.lsp.text import token_end
from cnnspec.plugins.manager import PluginSet
from tests.conftest import ROOT

PLUGINS = PluginSet(autoload=False)
FILES = sorted([*(ROOT / "specs").glob("*.yaml"), *(ROOT / "docs").rglob("*.yaml"),
                *(ROOT / "tests" / "golden" / "errors").glob("*.yaml")])
FILES = [f for f in FILES if f.name != "alias_bomb.yaml"]  # PyYAML's composer takes 20 s to expand it


def _nodes(node):
    yield node
    if isinstance(node, yaml.SequenceNode):
        for child in node.value:
            yield from _nodes(child)
    elif isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield from _nodes(key)
            yield from _nodes(value)


def check_ends(text: str) -> int:
    """Every scalar and flow collection: our end equals PyYAML's end mark. Returns how many were checked."""
    lines = text.split("\n")
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    checked = 0
    for node in _nodes(root) if root is not None else ():
        flow = isinstance(node, (yaml.SequenceNode, yaml.MappingNode)) and node.flow_style
        if not (isinstance(node, yaml.ScalarNode) or flow) or node.start_mark.line != node.end_mark.line:
            continue
        if isinstance(node, yaml.ScalarNode) and node.style in ("|", ">"):
            continue
        start = (node.start_mark.line, node.start_mark.column)
        if start == (node.end_mark.line, node.end_mark.column):  # an empty (null) value
            continue
        assert token_end(lines, *start) == (node.end_mark.line, node.end_mark.column), (text, node)
        checked += 1
    return checked


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_token_ends_agree_with_pyyaml_on_every_shipped_file(path: Path):
    try:
        text = path.read_text(encoding="utf-8")
        yaml.compose(text, Loader=yaml.SafeLoader)
    except (yaml.YAMLError, UnicodeDecodeError):
        pytest.skip("not YAML PyYAML reads (a broken example)")
    check_ends(text)


SCALARS = ["3", "-1", "0.5", "1e-3", "true", "null", "relu", "'it''s'", '"a \\" b"', '"x, y"', "'[1]'", "a b c",
           '"${vars.w}"', "same", "conv_1", "-.inf", "'#not a comment'"]


def _flow(rng: random.Random, depth: int = 0) -> str:
    roll = rng.random()
    if depth > 2 or roll < 0.5:
        return rng.choice(SCALARS)
    items = [_flow(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    if roll < 0.75:
        return "[" + ", ".join(items) + "]"
    keys = rng.sample(["a", "kernel_size", "b", "out", "x_y"], len(items))
    return "{" + ", ".join(f"{k}: {v}" for k, v in zip(keys, items)) + "}"


@pytest.mark.parametrize("seed", range(4))
def test_token_ends_agree_with_pyyaml_on_random_flow_documents(seed: int):
    rng = random.Random(seed)
    checked = 0
    for _ in range(250):
        text = "\n".join(f"{k}: {_flow(rng)}" + (" # note" if rng.random() < 0.3 else "")
                         for k in rng.sample(["input", "model", "data", "zz"], 3)) + "\n"
        checked += check_ends(text)
    assert checked > 1000


# -- fix-its written into text -----------------------------------------------------------------

STYLES = {
    "flow": (ROOT / "specs" / "seed000_lenet_cifar10.yaml").read_text(),
    "block": "input: [3, 32, 32]\nmodel:\n  - conv2d:\n      out_channels: 6\n      kernel_size: 5  # five\n"
             "  - relu\n  - maxpool2d:\n      kernel_size: 2\n  - flatten\n  - linear:\n      out_features: 10\n",
    "json": json.dumps({"input": [3, 32, 32], "model": [{"conv2d": {"out_channels": 6, "kernel_size": 5}}, "relu",
                                                         {"maxpool2d": {"kernel_size": 2}}, "flatten",
                                                         {"linear": {"in_features": 1176, "out_features": 10}}]},
                       indent=1),
}
VALUES = [0, 1, 2, 3, 7, 64, "same", True, False, [2, 3], None, 0.25]


def _random_fix(rng: random.Random, data: dict) -> Fix:
    """A random set, add or remove of a layer argument (what fix-its do)."""
    layers = [(i, item) for i, item in enumerate(data["model"]) if isinstance(item, dict)]
    i, item = rng.choice(layers)
    ((type_key, args),) = item.items()
    written = list(args)
    roll = rng.random()
    if roll < 0.4 and written:
        key = rng.choice(written)
        return Fix(("model", i, type_key, key), args[key], rng.choice(VALUES), "set", 1.0)
    if roll < 0.6 and written:
        key = rng.choice(written)
        return Fix(("model", i, type_key, key), args[key], REMOVE, "remove", 1.0)
    key = rng.choice(["stride", "padding", "dilation", "groups", "bias", "ceil_mode"])
    if key in args:
        return Fix(("model", i, type_key, key), args[key], rng.choice(VALUES), "set", 1.0)
    return Fix(("model", i, type_key, key), None, rng.choice(VALUES), "add", 1.0)


@pytest.mark.parametrize("style", list(STYLES))
def test_random_edits_load_back_to_the_data_they_describe(style: str, tmp_path: Path):
    rng = random.Random(style)
    name = str(tmp_path / ("spec.json" if style == "json" else "spec.yaml"))
    text = STYLES[style]
    analysis = analyze(text, name, PLUGINS)
    assert analysis.composed is not None
    data = analysis.composed.document.data
    written = 0
    for _ in range(1000):
        fix = _random_fix(rng, data)
        edits = fix_edits(analysis, fix, lambda f: text.split("\n"))
        if not edits:
            continue
        expected = replace_value(data, fix.path, fix.new)
        assert parse_text(apply_edits(text, edits), name).data == expected, (fix, edits)
        written += 1
    assert written > 800


def test_a_fix_through_a_variable_edits_that_use_only(tmp_path: Path):
    text = "vars: {k: 5}\ninput: [3, 8, 8]\nmodel:\n  - conv2d: {out_channels: 4, kernel_size: \"${vars.k}\"}\n" \
           "  - conv2d: {out_channels: 4, kernel_size: \"${vars.k}\"}\n"
    name = str(tmp_path / "v.yaml")
    analysis = analyze(text, name, PLUGINS)
    fix = Fix(("model", 1, "conv2d", "kernel_size"), 5, 3, "set", 1.0)
    edited = apply_edits(text, fix_edits(analysis, fix, lambda f: text.split("\n")))
    assert edited.split("\n")[3] == text.split("\n")[3]  # the other use keeps the variable
    assert edited.split("\n")[4] == "  - conv2d: {out_channels: 4, kernel_size: 3}"
