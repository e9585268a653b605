"""``cnnspec diff``: matching, field changes, and consequences checked against torch."""

from __future__ import annotations

import json

import pytest

from cnnspec.analysis.diff import MISSING, FieldChange, diff_specs, format_diff
from cnnspec.cli import main
from cnnspec.spec import load_spec

A = """\
name: small
input: [3, 32, 32]
model:
  - conv2d: {out_channels: 8, kernel_size: 5}
  - relu
  - maxpool2d: {kernel_size: 2}
  - conv2d: {out_channels: 16, kernel_size: 5}
  - relu
  - flatten
  - linear: {out_features: 10}
train: {epochs: 10}
"""


def spec(text: str, *overrides: str):
    return load_spec(text, overrides=list(overrides))


def by_name(d, name):
    (change,) = [c for c in d.layers if c.info.qualname == name]
    return change


def test_identical_specs():
    d = diff_specs(spec(A), spec(A.replace("train: {epochs: 10}", "train: {}")))
    assert d.identical and d.unchanged == 7
    assert format_diff(d).endswith("no differences: same settings, same layers, same shapes")


def test_changed_argument_and_its_consequences_match_torch():
    torch = pytest.importorskip("torch")
    from cnnspec.build import build_model

    a, b = spec(A), spec(A, "model[0].conv2d.padding=2", "train.epochs=3")
    d = diff_specs(a, b)
    assert d.fields == [FieldChange("train.epochs", 10, 3)]
    conv1 = by_name(d, "conv1")
    assert conv1.status == "changed" and conv1.matched_by == "name"
    assert conv1.fields == [FieldChange("padding", 0, 2)]
    assert (conv1.before.output_shape, conv1.after.output_shape) == ((8, 28, 28), (8, 32, 32))
    fc1 = by_name(d, "fc1")
    assert fc1.fields == [FieldChange("in_features", 16 * 10 * 10, 16 * 12 * 12, inferred=True)]
    assert {c.info.qualname: c.status for c in d.layers} == {
        "conv1": "changed", "relu1": "affected", "pool1": "affected", "conv2": "affected", "relu2": "affected",
        "flatten1": "affected", "fc1": "changed"}
    # the totals are what torch says about the two built models
    for s, metrics in ((a, d.before), (b, d.after)):
        model = build_model(s)
        assert metrics.params == sum(p.numel() for p in model.parameters())
        assert tuple(model(torch.zeros(1, 3, 32, 32)).shape[1:]) == metrics.output_shape
    assert d.after.params - d.before.params == fc1.after.params - fc1.before.params
    text = format_diff(d)
    assert "  ~ conv1 (Conv2d, model[0]): changed\n      padding: 0 -> 2\n" in text
    assert "      in_features: 1600 -> 2304 (inferred)\n      params: 16,010 -> 23,050 (+7.04k, +44.0%)" in text
    assert "  output           [10] -> [10]  (same)" in text


def test_added_and_removed_layers_in_order():
    b_text = A.replace("  - relu\n  - maxpool2d", "  - batchnorm2d\n  - relu\n  - maxpool2d", 1)
    d = diff_specs(spec(A), spec(b_text))
    assert [(c.status, c.info.qualname) for c in d.layers if c.status != "affected"] == [("added", "bn1")]
    assert by_name(d, "bn1").after.params == 16
    back = diff_specs(spec(b_text), spec(A))
    assert [(c.status, c.info.qualname) for c in back.layers] == [("removed", "bn1")]
    assert back.after.params == back.before.params - 16
    assert "  - bn1 (BatchNorm2d, model[1]): removed\n      output [8, 28, 28], 16 params" in format_diff(back)


def test_rename_is_matched_by_position():
    d = diff_specs(spec(A), spec(A, "model[3].conv2d.name=features"))
    (change,) = d.layers
    assert change.status == "changed" and change.matched_by == "position"
    assert change.a.qualname == "conv2" and change.b.qualname == "features"
    assert change.fields == [FieldChange("name", "conv2", "features")]
    assert "  ~ conv2 -> features (Conv2d, model[3], matched by position): changed" in format_diff(d)


def test_type_change_and_container_arguments():
    rep = ("input: [3, 16, 16]\nmodel:\n  - repeat: {times: 2, layers: [{conv2d: {out_channels: 4, "
           "kernel_size: 3}}]}\n  - maxpool2d: {kernel_size: 2}\n")
    d = diff_specs(spec(rep), spec(rep, "model[0].repeat.times=3", "model[1]={avgpool2d: {kernel_size: 2}}"))
    statuses = [(c.status, c.info.qualname) for c in d.layers]
    assert ("changed", "repeat1") in statuses and ("added", "repeat1.2") in statuses
    assert by_name(d, "repeat1").fields == [FieldChange("times", 2, 3)]
    pool = by_name(d, "pool1")
    assert pool.fields[0] == FieldChange("type", "MaxPool2d", "AvgPool2d")
    assert pool.after.output_shape == (4, 5, 5)


def test_settings_only_reports_what_is_written():
    d = diff_specs(spec(A, "~train"), spec(A, "train.epochs=4", "seed=3", "name=other"))
    assert [str(f) for f in d.fields] == ['name: "small" -> "other"', "train.epochs: (absent) -> 4",
                                          "seed: 0 -> 3"]
    assert FieldChange("x", MISSING, 1).to_json() == {"path": "x", "old": None, "new": 1, "absent": "old"}


def test_cli_json_and_set_b(tmp_path, capsys):
    (tmp_path / "a.yaml").write_text(A)
    path = str(tmp_path / "a.yaml")
    assert main(["diff", path, path, "--set-b", "model[6].linear.out_features=5", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["counts"] == {"changed": 1, "added": 0, "removed": 0, "affected": 0, "unchanged": 6}
    (layer,) = out["layers"]
    assert layer["fields"] == [{"path": "out_features", "old": 10, "new": 5}]
    assert layer["before"]["params"] == 1600 * 10 + 10 and layer["after"]["output_shape"] == [5]
    assert out["totals"]["after"]["params"] - out["totals"]["before"]["params"] == -5 * (1600 + 1)
    assert main(["diff", path, path]) == 0
    assert "no differences" in capsys.readouterr().out


def test_cli_invalid_side_exits_2(tmp_path, capsys):
    (tmp_path / "a.yaml").write_text(A)
    path = str(tmp_path / "a.yaml")
    assert main(["diff", path, path, "--set-b", "model[0].conv2d.kernel_size=40"]) == 2
    assert "output height would be" in capsys.readouterr().err


def test_symbolic_specs_compare_at_a_size(tmp_path, capsys):
    text = ("input: [3, H, W]\nmodel:\n  - conv2d: {out_channels: 8, kernel_size: 3, stride: 2}\n"
            "  - adaptiveavgpool2d: {output_size: 1}\n  - flatten\n  - linear: {out_features: 10}\n")
    symbolic = diff_specs(spec(text), spec(text, "model[0].conv2d.padding=1"))
    assert "floor" in str(by_name(symbolic, "conv1").after.macs)
    d = diff_specs(spec(text), spec(text, "model[0].conv2d.padding=1"), at=32)
    conv1 = by_name(d, "conv1")
    assert (conv1.before.output_shape, conv1.after.output_shape) == ((8, 15, 15), (8, 16, 16))
    assert conv1.after.macs == 8 * 3 * 9 * 16 * 16 + 8 * 16 * 16
    (tmp_path / "s.yaml").write_text(text)
    path = str(tmp_path / "s.yaml")
    assert main(["diff", path, path, "--set-b", "model[0].conv2d.padding=1", "--at", "32"]) == 0
    assert "      output: [8, 15, 15] -> [8, 16, 16]" in capsys.readouterr().out
