"""Fix-its: every suggestion for the golden broken specs, applied, validates and runs in torch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cnnspec.analysis.fixits import REMOVE, Fix, apply_fix, suggest_fixes
from cnnspec.cli import main
from cnnspec.exceptions import ShapeError
from cnnspec.load.reader import format_path
from cnnspec.render import render_error
from cnnspec.shapes.walker import infer_shapes
from cnnspec.spec import load_spec

BROKEN = Path(__file__).parent / "fixtures" / "broken"
CASES = sorted(p.name for p in BROKEN.glob("*.yaml") if p.name != "base_conv.yaml")

#: the best suggestion for each broken spec
FIRST = {
    "ceil_mode.yaml": "model[2].maxpool2d.padding: 0 (default) -> 1",
    "concat_padding.yaml": "model[0].concat.branches[0][0].conv2d.padding: 1 -> 0",
    "conv1d.yaml": "model[1].conv1d.padding: 0 (default) -> 1",
    "conv_too_small.yaml": "model[3].conv2d.padding: 0 (default) -> 1",
    "dilation.yaml": "model[0].conv2d.padding: 0 (default) -> 1",
    "extends_small_input.yaml": "model[1].conv2d.padding: 0 (default) -> 1",
    "in_channels.yaml": "remove model[1].conv2d.in_channels (8); it is inferred as 16",
    "in_features.yaml": "remove model[5].linear.in_features (1250); it is inferred as 800",
    "nonsquare_kernel.yaml": "model[0].conv2d.padding: 0 (default) -> 1",
    "num_features.yaml": "remove model[1].batchnorm2d.num_features (32); it is inferred as 16",
    "pool_padding.yaml": "model[0].maxpool2d.padding: 2 -> 1",
    "pool_too_big.yaml": "model[1].maxpool2d.padding: 0 (default) -> 1",
    "reflect_padding.yaml": "model[1].conv2d.padding: 4 -> 2",
    "repeat_collapse.yaml": "model[0].repeat.layers[0].conv2d.padding: 0 (default) -> 1",
    "residual_stride.yaml": "model[0].residual.layers[0].conv2d.stride: 2 -> 1",
    "symbolic_linear.yaml": "input: [3, H, W] -> [3, 3, 3] (the smallest size that fits)",
}


def broken(name: str):
    spec = load_spec(str(BROKEN / name))
    with pytest.raises(ShapeError) as info:
        infer_shapes(spec)
    return spec, info.value


def test_the_golden_set_is_large_enough():
    assert len(CASES) >= 10 and set(CASES) == set(FIRST)


@pytest.mark.parametrize("name", CASES)
def test_every_fix_applied_validates(name):
    spec, error = broken(name)
    fixes = suggest_fixes(spec, error)
    assert fixes, f"no fix found for {name}"
    assert fixes[0].description == FIRST[name]
    assert [f.cost for f in fixes] == sorted(f.cost for f in fixes)
    for fix in fixes:
        data = apply_fix(spec.document.data, fix)
        fixed = infer_shapes(load_spec(data))  # raises if the fix does not work
        assert fixed.output_shape
        # the fix names the value as it is now, and where it is written
        try:
            current = spec.document.data
            for part in fix.path:
                current = current[part]
        except (KeyError, IndexError):
            current = None
        assert fix.old == current, fix
        assert fix.location is not None
        assert fix.to_dict()["path"] == format_path(fix.path)
        assert (fix.new is REMOVE) == (fix.to_dict()["action"] == "remove")
    assert spec.document.data == load_spec(str(BROKEN / name)).document.data, "the spec was modified"


@pytest.mark.slow
def test_fixed_specs_run_in_torch():
    torch = pytest.importorskip("torch")
    from cnnspec.build import build_model

    torch.set_num_threads(1)
    for name in CASES:
        spec, error = broken(name)
        for fix in suggest_fixes(spec, error):
            fixed = load_spec(apply_fix(spec.document.data, fix))
            model = build_model(fixed).eval()
            with torch.no_grad():
                out = model(torch.zeros(1, *fixed.input))
            assert tuple(out.shape[1:]) == infer_shapes(fixed).output_shape, (name, fix)


def test_an_edit_comes_with_the_explicit_count_it_changes(capsys):
    """The tutorials write in_features by hand: a padding fix must update it too."""
    spec = load_spec(str(BROKEN / "conv_too_small.yaml"), overrides=["model[7]={linear: {out_features: 10, "
                                                                     "in_features: 1250}}"])
    with pytest.raises(ShapeError) as info:
        infer_shapes(spec)
    fixes = suggest_fixes(spec, info.value)
    first = fixes[0]
    assert first.description == ("model[3].conv2d.padding: 0 (default) -> 1, "
                                 "with model[7].linear.in_features: 1250 -> 50")
    assert first.cost == 2 and [f.path for f in first.also] == [("model", 7, "linear", "in_features")]
    assert first.to_dict()["also"] == [{"path": "model[7].linear.in_features", "old": 1250, "new": 50,
                                        "action": "set", "location": "--set[0]:1:42"}]
    for fix in fixes:
        infer_shapes(load_spec(apply_fix(spec.document.data, fix)))
        # without its follow-up edits the main edit alone would not do
        if fix.also:
            with pytest.raises(ShapeError):
                infer_shapes(load_spec(apply_fix(spec.document.data, Fix(fix.path, fix.old, fix.new, "", 0))))


def test_inherited_error_fix_points_into_the_base_file():
    spec, error = broken("extends_small_input.yaml")
    fixes = suggest_fixes(spec, error)
    assert Path(fixes[0].location.file).name == "base_conv.yaml" and fixes[0].location.line == 4
    assert Path(error.file).name == "base_conv.yaml"


def test_fix_in_another_file_than_the_error_is_labelled(tmp_path):
    (tmp_path / "base.yaml").write_text("input: [3, 12, 12]\nmodel:\n  - conv2d: {out_channels: 2, kernel_size: 5}\n")
    (tmp_path / "c.yaml").write_text("extends: base.yaml\ninput: [3, 4, 4]\n")
    spec = load_spec(str(tmp_path / "c.yaml"))
    with pytest.raises(ShapeError) as info:
        infer_shapes(spec)
    fixes = suggest_fixes(spec, info.value)
    text = render_error(info.value, fixes)
    assert "    input: [3, 4, 4] -> [3, 5, 5] (the nearest larger size that fits)" in text
    (input_fix,) = [f for f in fixes if f.path == ("input",)]
    assert input_fix.location.file.endswith("c.yaml") and f"[{input_fix.location.file}:2]" in text


def test_validate_text_and_json(capsys):
    path = str(BROKEN / "in_features.yaml")
    assert main(["validate", path]) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[2:5] == [
        "  Fixes (each one alone makes the spec valid):",
        "    remove model[5].linear.in_features (1250); it is inferred as 800",
        "    model[5].linear.in_features: 1250 -> 800",
    ]
    assert main(["validate", path, "--format", "json"]) == 2
    (error,) = json.loads(capsys.readouterr().out)["errors"]
    assert error["fixes"][:2] == [
        {"path": "model[5].linear.in_features", "old": 1250, "new": None, "action": "remove",
         "description": "remove model[5].linear.in_features (1250); it is inferred as 800",
         "location": f"{path}:9:27", "also": []},
        {"path": "model[5].linear.in_features", "old": 1250, "new": 800, "action": "set",
         "description": "model[5].linear.in_features: 1250 -> 800", "location": f"{path}:9:27", "also": []},
    ]


def test_summary_prints_fixes(capsys):
    assert main(["summary", str(BROKEN / "pool_padding.yaml")]) == 2
    err = capsys.readouterr().err
    assert "padding 2 is more than half of kernel_size 2" in err
    assert "    model[0].maxpool2d.padding: 2 -> 1\n    model[0].maxpool2d.kernel_size: 2 -> 4" in err


def test_non_shape_errors_get_no_fixes(tmp_path, capsys):
    (tmp_path / "x.yaml").write_text("input: [3, 8, 8]\nmodel: [{conv2d: {out_channels: 0, kernel_size: 3}}]\n")
    assert main(["validate", str(tmp_path / "x.yaml"), "--format", "json"]) == 2
    (error,) = json.loads(capsys.readouterr().out)["errors"]
    assert error["fixes"] == []


def test_valid_spec_with_set_override_fix_is_located_on_the_command_line(capsys):
    path = str(BROKEN / "ceil_mode.yaml")
    assert main(["validate", path, "--set", "model[2].maxpool2d.kernel_size=3"]) == 2
    err = capsys.readouterr().err
    # the argument that caused it came from the command line: the error and its fix are located there
    assert err.startswith("--set[0]:1:1: model[2] maxpool2d 'pool2': output height would be 0")
    assert "    model[2].maxpool2d.kernel_size: 3 -> 1\n" in err
    assert f"model[0].conv2d.padding: 0 (default) -> 3  [{path}:3]" in err
