"""Safe loading: plain data only, positions kept, limits enforced."""

from __future__ import annotations

import subprocess
import sys

import pytest

from cnnspec.exceptions import Location, SpecError
from cnnspec.load.reader import MAX_DEPTH, load_document, parse_text


def test_yaml_12_scalars() -> None:
    doc = parse_text("a: 1e-3\nb: no\nc: 0x1f\nd: 0o17\ne: ~\nf: [1, 2.5, true, False]\ng: '3'\nh: 0777\n")
    assert doc.data == {"a": 0.001, "b": "no", "c": 31, "d": 15, "e": None, "f": [1, 2.5, True, False],
                        "g": "3", "h": 777}


def test_positions_of_values_and_keys() -> None:
    doc = parse_text("name: x\nmodel:\n  - conv2d: {out_channels: 20, kernel_size: 5}\n  - relu\n", "s.yaml")
    assert doc.positions[("model", 0, "conv2d", "kernel_size")] == Location("s.yaml", 3, 45)
    assert doc.key_positions[("model", 0, "conv2d", "kernel_size")] == Location("s.yaml", 3, 32)
    assert doc.positions[("model", 1)] == Location("s.yaml", 4, 5)
    assert doc.locate(("model", 0, "conv2d", "not_there")) == Location("s.yaml", 3, 13)


def test_json_positions_match_yaml_semantics() -> None:
    text = '{\n  "input": [3, 32, 32],\n  "model": [{"conv2d": {"out_channels": 8, "kernel_size": 3}}]\n}'
    doc = parse_text(text, "s.json")
    assert doc.data == {"input": [3, 32, 32], "model": [{"conv2d": {"out_channels": 8, "kernel_size": 3}}]}
    line3 = text.splitlines()[2]
    assert doc.positions[("model", 0, "conv2d", "kernel_size")] == Location("s.json", 3, line3.index("3}") + 1)
    assert doc.positions[("input", 2)] == Location("s.json", 2, 20)


@pytest.mark.parametrize("text, message", [
    ("a: 1\na: 2\n", r"^<string>:2:1: a: duplicate key 'a' \(first defined at line 1, column 1\)"),
    ("a: !!python/object:os.system x\n", "the tag !!python/object:os.system is not allowed"),
    ("a: !!binary aGVsbG8=\n", "the tag !!binary is not allowed"),
    ("a: !custom x\n", "the tag !custom is not allowed"),
    ("a: !!set {x, y}\n", "the tag !!set is not allowed"),
    ("a: " + "9" * 5000 + "\n", "an integer with 5000 digits is too long"),
    ("a: [1, 2\n", "YAML syntax error"),
    ("a: *nothing\n", "YAML syntax error: found undefined alias"),
    ("a: " + "[" * 100 + "]" * 100, f"nested deeper than {MAX_DEPTH} levels"),
    ("{" * 3 + "}" * 3, "a mapping key must be a plain string"),
    ("a: b\0c\n", "NUL byte"),
])
def test_yaml_refusals(text: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        parse_text(text)


@pytest.mark.parametrize("text, message", [
    ('{"a": 1, "a": 2}', "duplicate key 'a'"),
    ('{"a": NaN}', "unexpected 'N'"),
    ('{"a": [1, 2,]}', "unexpected ']'"),
    ('{"a": 1} x', "extra data after the document"),
    ('{"a": ' + "1" * 5000 + "}", "an integer with 5000 digits is too long"),
    ("[" * 100 + "]" * 100, f"nested deeper than {MAX_DEPTH} levels"),
    ("", "the document is empty"),
    ('{"a": "\\x"}', "JSON syntax error: Invalid \\\\escape"),
])
def test_json_refusals(text: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        parse_text(text, "x.json")


def test_alias_bomb_is_refused_quickly() -> None:
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    with pytest.raises(SpecError, match="expands to more than"):
        parse_text("\n".join(lines))


def test_merge_keys_are_supported() -> None:
    doc = parse_text("base: &b {kernel_size: 3, stride: 1}\nconv: {<<: *b, stride: 2}\n")
    assert doc.data["conv"] == {"kernel_size": 3, "stride": 2}


@pytest.mark.parametrize("text", [
    "[" * 50_000 + "]" * 50_000,
    "a:\n" + "".join(" " * i + "- \n" for i in range(1, 3000)),
    "- " * 60_000 + "x",
    "{a: " * 50_000 + "1" + "}" * 50_000,
])
def test_deep_nesting_never_crashes_the_interpreter(text: str, tmp_path) -> None:
    """The C parser segfaults on ~50,000 levels; run in a subprocess to prove we don't reach it."""
    path = tmp_path / "deep.yaml"
    path.write_text(text)
    code = ("import sys\nfrom cnnspec.load.reader import load_document\nfrom cnnspec.exceptions import SpecError\n"
            f"try:\n    load_document({str(path)!r})\nexcept SpecError as e:\n    print('refused', e.message)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "refused" in result.stdout


def test_file_problems_are_spec_errors(tmp_path) -> None:
    with pytest.raises(SpecError, match="no such spec file"):
        load_document(str(tmp_path / "missing.yaml"))
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes(b"name: caf\xe9\n")
    with pytest.raises(SpecError, match=r"latin1.yaml:1:10: the spec is not valid UTF-8 text"):
        load_document(bad)
    (tmp_path / "d.yaml").mkdir()
    with pytest.raises(SpecError, match="is a directory"):
        load_document(str(tmp_path / "d.yaml"))
