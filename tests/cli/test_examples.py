"""``cnnspec examples`` and example names as SPEC arguments."""

from __future__ import annotations

import json
from pathlib import Path

from cnnspec.cli import main
from cnnspec.load.examples import list_examples

SPECS = Path(__file__).resolve().parents[2] / "specs"


def test_every_spec_is_an_example(capsys):
    assert [e.name for e in list_examples()] == sorted(p.stem for p in SPECS.glob("*.yaml"))
    assert main(["examples", "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {e["name"]: Path(e["path"]).read_bytes() for e in listed} == \
        {p.stem: p.read_bytes() for p in SPECS.glob("*.yaml")}
    digits = next(e for e in listed if e["name"] == "digits")
    assert digits["summary"] == "The main job: a small CNN on scikit-learn's bundled 8x8 handwritten digits."


def test_printing_one(capsys):
    assert main(["examples", "digits"]) == 0
    assert capsys.readouterr().out == (SPECS / "digits.yaml").read_text()
    assert main(["examples", "digit"]) == 2
    assert "no example spec called 'digit'; did you mean 'digits'?" in capsys.readouterr().err


def test_an_example_name_is_a_spec_anywhere(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "digits"]) == 0
    assert "note:" not in capsys.readouterr().err
    assert main(["summary", "specs/resnet18.yaml"]) == 0
    assert "using the example spec 'resnet18'" in capsys.readouterr().err
    (tmp_path / "digits").write_text("name: mine\ninput: [1, 8, 8]\nmodel: [flatten, {linear: {out_features: 2}}]\n")
    assert main(["summary", "digits"]) == 0  # a file of that name wins
    assert "digits: " in capsys.readouterr().out
    assert main(["validate", "nosuchspec"]) == 2
