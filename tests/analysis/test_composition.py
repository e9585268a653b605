"""extends / deletes / vars / --set: the merged data and where every value points."""

from __future__ import annotations

from pathlib import Path

import pytest

from cnnspec.exceptions import ShapeError, SpecError
from cnnspec.load.compose import compose_document
from cnnspec.load.reader import load_document
from cnnspec.shapes.walker import infer_shapes
from cnnspec.spec import load_spec

BASE = """\
name: base
input: [3, 32, 32]
model:
  - conv2d: {out_channels: 8, kernel_size: 3}
  - relu
  - flatten
  - linear: {out_features: 10}
train:
  epochs: 10
  seed: 1
  optimizer: {sgd: {lr: 0.1, momentum: 0.9}}
"""


def write(tmp_path: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def compose(path: Path, overrides: tuple[str, ...] = ()):
    return compose_document(load_document(str(path)), overrides)


def where(doc, path) -> str:
    loc = doc.positions[path]
    return f"{Path(loc.file).name}:{loc.line}"


def test_mappings_merge_lists_replace_and_positions_point_into_each_file(tmp_path):
    write(tmp_path, {"base.yaml": BASE, "child.yaml": (
        "extends: base.yaml\n"
        "name: child\n"
        "train:\n"
        "  epochs: 3\n"
        "model:\n"
        "  - conv2d: {out_channels: 4, kernel_size: 5}\n"
        "  - flatten\n")})
    doc = compose(tmp_path / "child.yaml").document
    assert doc.data["name"] == "child"
    assert doc.data["train"] == {"epochs": 3, "seed": 1, "optimizer": {"sgd": {"lr": 0.1, "momentum": 0.9}}}
    assert doc.data["model"] == [{"conv2d": {"out_channels": 4, "kernel_size": 5}}, "flatten"]
    assert "extends" not in doc.data
    assert where(doc, ("train", "epochs")) == "child.yaml:4"
    assert where(doc, ("train", "seed")) == "base.yaml:10"
    assert where(doc, ("train", "optimizer", "sgd", "momentum")) == "base.yaml:11"
    assert where(doc, ("input", 2)) == "base.yaml:2"
    assert where(doc, ("model", 1)) == "child.yaml:7"
    assert not any(p[:1] == ("extends",) for p in doc.positions)


def test_error_in_an_inherited_value_points_at_the_base_file(tmp_path):
    write(tmp_path, {"base.yaml": BASE.replace("kernel_size: 3", "kernel_size: 9"),
                     "sub/child.yaml": "extends: ../base.yaml\ninput: [3, 8, 8]\n"})
    spec = load_spec(str(tmp_path / "sub" / "child.yaml"))
    with pytest.raises(ShapeError) as info:
        infer_shapes(spec)
    assert Path(info.value.file).name == "base.yaml"
    assert (info.value.line, info.value.column) == (4, 31)  # the kernel_size token in the base
    assert "output height would be 0" in info.value.message


def test_pydantic_error_in_inherited_value_is_located_in_the_base(tmp_path):
    write(tmp_path, {"base.yaml": BASE.replace("epochs: 10", "epochs: 0"), "child.yaml": "extends: base.yaml\n"})
    with pytest.raises(SpecError) as info:
        load_spec(str(tmp_path / "child.yaml"))
    assert Path(info.value.file).name == "base.yaml" and info.value.line == 9


def test_extends_list_merges_left_to_right_and_chains(tmp_path):
    write(tmp_path, {
        "base.yaml": BASE,
        "a.yaml": "extends: base.yaml\ntrain: {epochs: 5}\nname: a\n",
        "b.yaml": "train: {epochs: 7, seed: 2}\n",
        "c.yaml": "extends: [a.yaml, b.yaml]\nname: c\n",
    })
    composed = compose(tmp_path / "c.yaml")
    data = composed.document.data
    assert data["train"]["epochs"] == 7 and data["train"]["seed"] == 2 and data["name"] == "c"
    assert [Path(f).name for f in composed.files] == ["c.yaml", "a.yaml", "base.yaml", "b.yaml"]
    assert where(composed.document, ("train", "epochs")) == "b.yaml:1"
    assert where(composed.document, ("model", 0, "conv2d", "kernel_size")) == "base.yaml:4"


def test_cycle_is_an_error_naming_the_chain(tmp_path):
    write(tmp_path, {"a.yaml": "extends: b.yaml\n" + BASE, "b.yaml": "extends: a.yaml\n"})
    with pytest.raises(SpecError, match=r"extends: a.yaml forms a cycle: .*a.yaml -> .*b.yaml -> .*a.yaml") as info:
        load_spec(str(tmp_path / "a.yaml"))
    assert Path(info.value.file).name == "b.yaml" and info.value.line == 1


def test_self_extension_is_a_cycle(tmp_path):
    write(tmp_path, {"a.yaml": "extends: a.yaml\n" + BASE})
    with pytest.raises(SpecError, match="forms a cycle"):
        load_spec(str(tmp_path / "a.yaml"))


def test_missing_base_is_located_at_extends(tmp_path):
    write(tmp_path, {"child.yaml": "name: x\nextends: [nope.yaml]\n"})
    with pytest.raises(SpecError, match=r"extends: no such spec file: .*nope.yaml") as info:
        load_spec(str(tmp_path / "child.yaml"))
    assert (info.value.line, info.value.column) == (2, 11)
    assert "relative to the extending file" in info.value.hint


@pytest.mark.parametrize("value", ["3", "[]", "[base.yaml, 4]"])
def test_extends_must_name_files(tmp_path, value):
    write(tmp_path, {"c.yaml": f"extends: {value}\n"})
    with pytest.raises(SpecError, match="extends: expected a spec file name or a list"):
        load_spec(str(tmp_path / "c.yaml"))


def test_a_base_that_is_not_a_mapping(tmp_path):
    write(tmp_path, {"base.yaml": "- 1\n", "c.yaml": "extends: base.yaml\n"})
    with pytest.raises(SpecError, match="a base spec must be a mapping"):
        load_spec(str(tmp_path / "c.yaml"))


def test_json_base_under_yaml_child(tmp_path):
    write(tmp_path, {"base.json": '{"input": [1, 28, 28], "model": [{"linear": {"out_features": 3}}]}',
                     "c.yaml": "extends: base.json\ninput: [5]\n"})
    doc = compose(tmp_path / "c.yaml").document
    assert doc.data == {"input": [5], "model": [{"linear": {"out_features": 3}}]}
    assert where(doc, ("model", 0, "linear", "out_features")) == "base.json:1"


# -- deletes -------------------------------------------------------------------------


def test_delete_marker_removes_an_inherited_key(tmp_path):
    write(tmp_path, {"base.yaml": BASE, "c.yaml": "extends: base.yaml\ntrain:\n  ~seed: null\n~name: null\n"})
    data = compose(tmp_path / "c.yaml").document.data
    assert "seed" not in data["train"] and "name" not in data
    assert data["train"]["epochs"] == 10


def test_delete_plus_key_replaces_instead_of_merging(tmp_path):
    write(tmp_path, {"base.yaml": BASE, "c.yaml": "extends: base.yaml\n~train: null\ntrain: {epochs: 2}\n"})
    data = compose(tmp_path / "c.yaml").document.data
    assert data["train"] == {"epochs": 2}


def test_delete_of_what_is_not_inherited(tmp_path):
    write(tmp_path, {"base.yaml": BASE, "c.yaml": "extends: base.yaml\ntrain:\n  ~sched: null\n"})
    with pytest.raises(SpecError, match=r"train.~sched: nothing to delete, 'sched' is not inherited here") as info:
        compose(tmp_path / "c.yaml")
    assert info.value.line == 3 and "epochs, seed, optimizer" in info.value.hint


def test_delete_marker_without_a_base(tmp_path):
    write(tmp_path, {"c.yaml": BASE + "~seed: null\n"})
    with pytest.raises(SpecError, match="nothing to delete, 'seed' is not inherited"):
        compose(tmp_path / "c.yaml")


def test_delete_marker_takes_null(tmp_path):
    write(tmp_path, {"base.yaml": BASE, "c.yaml": "extends: base.yaml\n~name: other\n"})
    with pytest.raises(SpecError, match='~name: a delete marker takes null, got "other"'):
        compose(tmp_path / "c.yaml")


def test_component_reference_switch_replaces_same_name_merges(tmp_path):
    write(tmp_path, {"base.yaml": BASE,
                     "adam.yaml": "extends: base.yaml\ntrain: {optimizer: {adam: {lr: 0.001}}}\n",
                     "lr.yaml": "extends: base.yaml\ntrain: {optimizer: {sgd: {lr: 0.01}}}\n"})
    assert compose(tmp_path / "adam.yaml").document.data["train"]["optimizer"] == {"adam": {"lr": 0.001}}
    assert compose(tmp_path / "lr.yaml").document.data["train"]["optimizer"] == {"sgd": {"lr": 0.01, "momentum": 0.9}}


def test_component_names_match_case_insensitively_when_merging(tmp_path):
    write(tmp_path, {"base.yaml": BASE, "c.yaml": "extends: base.yaml\ntrain: {optimizer: {SGD: {lr: 0.5}}}\n"})
    doc = compose(tmp_path / "c.yaml").document
    assert doc.data["train"]["optimizer"] == {"SGD": {"lr": 0.5, "momentum": 0.9}}
    assert where(doc, ("train", "optimizer", "SGD", "momentum")) == "base.yaml:11"
    assert where(doc, ("train", "optimizer", "SGD", "lr")) == "c.yaml:2"
    assert load_spec(str(tmp_path / "c.yaml")).train.optimizer == {"SGD": {"lr": 0.5, "momentum": 0.9}}


# -- vars ----------------------------------------------------------------------------

VARS = """\
vars:
  width: 16
  shape: [3, 32, 32]
  double: "${vars.width}"
  tag: "w${vars.width}"
  nested: {k: 3, sizes: [5, 7]}
input: ${vars.shape}
model:
  - conv2d: {out_channels: "${vars.double}", kernel_size: "${vars.nested.sizes[1]}"}
  - flatten
  - linear: {out_features: 10, name: "fc_${vars.tag}_$${literal}"}
"""


def test_vars_whole_value_keeps_type_and_strings_format(tmp_path):
    write(tmp_path, {"v.yaml": VARS})
    composed = compose(tmp_path / "v.yaml")
    data = composed.document.data
    assert data["input"] == [3, 32, 32]
    assert data["model"][0] == {"conv2d": {"out_channels": 16, "kernel_size": 7}}
    assert data["model"][2]["linear"]["name"] == "fc_w16_${literal}"
    assert "vars" not in data and not any(p[:1] == ("vars",) for p in composed.document.positions)
    # a whole-value reference is located at the variable's definition, element by element
    assert where(composed.document, ("input", 1)) == "v.yaml:3"
    # through another variable: the value was set where width is defined
    assert where(composed.document, ("model", 0, "conv2d", "out_channels")) == "v.yaml:2"
    assert where(composed.document, ("model", 2, "linear", "name")) == "v.yaml:11"
    via = composed.interpolations[("model", 2, "linear", "name")]
    assert not via.whole and [n for n, _ in via.names] == ["tag"]


def test_set_changes_a_variable_everywhere(tmp_path):
    write(tmp_path, {"v.yaml": VARS})
    composed = compose(tmp_path / "v.yaml", ("vars.width=64",))
    data = composed.document.data
    assert data["model"][0]["conv2d"]["out_channels"] == 64
    assert data["model"][2]["linear"]["name"] == "fc_w64_${literal}"
    assert composed.document.positions[("model", 0, "conv2d", "out_channels")].file == "--set[0]"


def test_child_overrides_a_base_variable(tmp_path):
    write(tmp_path, {"v.yaml": VARS, "c.yaml": "extends: v.yaml\nvars: {width: 4}\n"})
    doc = compose(tmp_path / "c.yaml").document
    assert doc.data["model"][0]["conv2d"]["out_channels"] == 4
    assert where(doc, ("model", 0, "conv2d", "out_channels")) == "c.yaml:2"


def test_unknown_variable_did_you_mean_located(tmp_path):
    write(tmp_path, {"v.yaml": VARS.replace("${vars.double}", "${vars.widht}")})
    with pytest.raises(SpecError) as info:
        compose(tmp_path / "v.yaml")
    assert info.value.message == ("model[0].conv2d.out_channels: unknown variable 'widht' in '${vars.widht}'; "
                                  "did you mean 'width'?")
    assert (info.value.line, info.value.column) == (9, 28)


@pytest.mark.parametrize("text, message", [
    ("${env.HOME}", r"only \$\{vars.NAME\} references are interpolated, got \$\{env.HOME\}"),
    ("${vars.}", r"only \$\{vars.NAME\} references"),
    ("${__import__('os')}", r"only \$\{vars.NAME\} references"),
    ("a${vars.width", r"unclosed or nested"),
    ("${vars.nested}x", r"is a dict, which cannot be formatted"),
    ("${vars.nested.q}", r"there is no 'q' in vars.nested"),
    ("${vars.nested.sizes[5]}", r"there is no 5 in vars.nested.sizes"),
])
def test_bad_references(tmp_path, text, message):
    write(tmp_path, {"v.yaml": VARS + f"description: \"{text}\"\n"})
    with pytest.raises(SpecError, match=message) as info:
        compose(tmp_path / "v.yaml")
    assert info.value.line == 12


def test_variable_cycle(tmp_path):
    write(tmp_path, {"v.yaml": "vars: {a: '${vars.b}', b: 'x${vars.c}', c: '${vars.a}'}\ninput: [1]\n"})
    with pytest.raises(SpecError, match=r"vars: a -> b -> c -> a refer to each other in a cycle"):
        compose(tmp_path / "v.yaml")


def test_vars_must_be_a_mapping(tmp_path):
    write(tmp_path, {"v.yaml": "vars: [1]\ninput: [1]\n"})
    with pytest.raises(SpecError, match="vars: expected a mapping"):
        compose(tmp_path / "v.yaml")


def test_interpolation_is_never_evaluated(tmp_path):
    write(tmp_path, {"v.yaml": "vars: {x: '1+1'}\ninput: [3]\nmodel: [{linear: {out_features: '${vars.x}'}}]\n"})
    assert compose(tmp_path / "v.yaml").document.data["model"][0]["linear"]["out_features"] == "1+1"


# -- --set ---------------------------------------------------------------------------


def test_set_positions_and_delete(tmp_path):
    write(tmp_path, {"base.yaml": BASE})
    doc = compose(tmp_path / "base.yaml", ("train.epochs=3", "model[-1].linear.out_features=4", "~train.seed",
                                          "data.batch_size=8")).document
    assert doc.data["train"]["epochs"] == 3 and "seed" not in doc.data["train"]
    assert doc.data["model"][3] == {"linear": {"out_features": 4}}
    assert doc.positions[("train", "epochs")].file == "--set[0]"
    assert doc.positions[("model", 3, "linear", "out_features")].file == "--set[1]"
    assert doc.positions[("data",)].file == "--set[3]"


@pytest.mark.parametrize("override, message", [
    ("train.epochs", "expected KEY=VALUE"),
    ("model[9].linear.x=1", r"there is no 9 at model"),
    ("model.x=1", r"cannot set 'x' here"),
    ("a..b=1", "cannot read the key path"),
    ("model[0]x=1", "cannot read the key path"),
    ("~train.nothing", r"there is no train.nothing to delete"),
    ("~model[0]", "list items cannot be deleted"),
    ("extends=x.yaml", "extends cannot be overridden"),
])
def test_set_errors(tmp_path, override, message):
    write(tmp_path, {"base.yaml": BASE})
    with pytest.raises(SpecError, match=message):
        compose(tmp_path / "base.yaml", (override,))


def test_composing_a_dict_leaves_the_callers_data_alone():
    data = {"vars": {"w": 4}, "input": [3, 8, 8], "model": [{"conv2d": {"out_channels": "${vars.w}",
                                                                        "kernel_size": 3}}]}
    before = repr(data)
    spec = load_spec(data, overrides=["model[0].conv2d.kernel_size=5"])
    assert spec.document.data["model"][0]["conv2d"] == {"out_channels": 4, "kernel_size": 5}
    assert repr(data) == before
