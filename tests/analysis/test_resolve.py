"""``cnnspec resolve [--blame]``: a golden blame, checked against the source files too."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cnnspec.cli import main
from cnnspec.load.blame import render_yaml, scalar
from cnnspec.spec import SpecDocument, load_spec

DATA = Path(__file__).parent / "fixtures" / "compose"
OVERRIDES = ["train.epochs=3", "model[2].maxpool2d.kernel_size=1"]
SET_ARGS = [a for o in OVERRIDES for a in ("--set", o)]


@pytest.fixture
def in_data(monkeypatch):
    monkeypatch.chdir(DATA)


def _pairs(text: str) -> list[tuple[str, str]]:
    """(content, comment) per line, alignment ignored."""
    out = []
    for line in text.splitlines():
        content, _, note = line.partition("  # ")
        out.append((content.rstrip(), note.strip()))
    return out


def test_resolve_blame_golden(in_data, capsys):
    assert main(["resolve", "final.yaml", "--blame", *SET_ARGS]) == 0
    got = [p for p in _pairs(capsys.readouterr().out) if p[1] != "(default)"]
    assert got == _pairs((DATA / "final.blame.txt").read_text())


def _path_default(path: list) -> object:
    model = SpecDocument
    for part in path[:-1]:
        model = model.model_fields[part].annotation.__args__[0]  # Optional[Section] -> Section
    return model.model_fields[path[-1]].get_default(call_default_factory=True)


def test_blame_names_the_right_line_for_every_value(in_data, capsys):
    """Independently of the golden: each file:line holds that value (or the
    template that produced it), each --set[i] is that override, each default
    is pydantic's default for a key no file wrote."""
    assert main(["resolve", "final.yaml", "--blame", "--format", "json", *SET_ARGS]) == 0
    out = json.loads(capsys.readouterr().out)
    blame = out["blame"]
    assert blame, "no values blamed"
    sources = {name: (DATA / name).read_text().splitlines() for name in ("base.yaml", "wide.yaml", "extra.yaml",
                                                                          "final.yaml")}
    kinds = set()
    for path, entry in blame.items():
        value = entry["value"]
        if entry["default"]:
            kinds.add("default")
            keys = path.split(".")
            assert value == _path_default(keys), path
            assert not any(f"{keys[-1]}:" in line for text in sources.values() for line in text), path
        elif entry["origin"].startswith("--set["):
            kinds.add("set")
            index = int(entry["origin"][len("--set["):-1])
            key, _, raw = OVERRIDES[index].partition("=")
            assert key == path and raw == scalar(value), path
        else:
            kinds.add("file")
            line = sources[entry["file"]][entry["line"] - 1]
            key = path.rsplit(".", 1)[-1].split("[")[0]
            if "via" in entry and not entry["via"]["text"].startswith("${"):
                assert f"{key}:" in line and entry["via"]["text"] in line, (path, line)
            else:
                assert scalar(value) in line, (path, line)
            if "via" in entry:
                kinds.add("vars")
    assert kinds == {"default", "set", "file", "vars"}


def test_resolved_output_loads_back_to_the_same_spec(in_data, capsys):
    original = load_spec("final.yaml", overrides=OVERRIDES)
    assert main(["resolve", "final.yaml", *SET_ARGS]) == 0
    text = capsys.readouterr().out
    again = load_spec(text)
    assert again.config == original.config
    assert main(["resolve", "final.yaml", "--blame", *SET_ARGS]) == 0
    assert load_spec(capsys.readouterr().out).config == original.config
    assert main(["resolve", "final.yaml", "--format", "json", *SET_ARGS]) == 0
    assert load_spec(json.loads(capsys.readouterr().out)).config == original.config


def test_resolve_prints_an_invalid_spec_and_its_errors(in_data, capsys):
    assert main(["resolve", "final.yaml", "--blame", "--set", "train.epochs=0"]) == 2
    captured = capsys.readouterr()
    assert any(line.startswith("train: {epochs: 0}") and line.endswith("# --set[0]")
               for line in captured.out.splitlines())
    assert "--set[0]:1:1: train.epochs" in captured.err


def test_resolve_composition_error_exits_2(tmp_path, capsys):
    (tmp_path / "c.yaml").write_text("extends: missing.yaml\n")
    assert main(["resolve", str(tmp_path / "c.yaml")]) == 2
    assert "no such spec file" in capsys.readouterr().err


@pytest.mark.parametrize("value", [
    "plain", "yes", "No", "null", "1e-3", "0x1f", "12", "a: b", "#x", "", " lead", "é", "-x", "[a]", "${x}",
    1, -3, 0.1, 1e-5, 1e300, float("inf"), True, None, [], {}, [1, "2"], {"a b": [1, {"c": None}]},
])
def test_yaml_rendering_round_trips_through_the_spec_loader(value):
    from cnnspec.load.reader import parse_text

    data = {"k": value, "l": [value, {"m": value}]}
    assert parse_text(render_yaml(data)).data == data
