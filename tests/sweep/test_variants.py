"""A point of the space becomes exactly the spec ``--set`` would make, located at its dimension."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cnnspec.exceptions import SpecError
from cnnspec.spec import load_spec
from cnnspec.sweep.syntax import parse_assignment
from cnnspec.sweep.variants import Variants
from tests.conftest import SPECS

VARS_SPEC = """\
name: widths
input: [3, 16, 16]
vars: {width: 8, p: 0.1}
model:
  - conv2d: {out_channels: "${vars.width}", kernel_size: 3, padding: 1}
  - relu
  - conv2d: {out_channels: "${vars.width}", kernel_size: 3}
  - flatten
  - dropout: {p: "${vars.p}"}
  - linear: {out_features: 10}
train: {optimizer: adam}
sweep:
  space: {vars.width: [4, 8]}
"""


def dims(*texts: str):
    return [parse_assignment(t, i) for i, t in enumerate(texts)]


def test_thousands_of_points_are_the_specs_set_makes():
    """Differential: every variant equals load_spec with the same values given as --set."""
    variants = Variants(SPECS / "digits.yaml", ["train.epochs=2"])
    space = dims("train.optimizer.adamw.lr=loguniform(1e-5, 1)", "model[0].conv2d.out_channels=int(1, 64)",
                 "model[3].conv2d.kernel_size=choice(1, 3, 5)", "data.batch_size=range(8, 128, 8)",
                 "model[12].dropout.p=uniform(0, 0.9)", "seed=range(100)")
    rng = np.random.default_rng(0)
    for _ in range(1000):
        point = [(d, d.sample(rng)) for d in space]
        built = variants.build(variants.assign(point)).document.data
        sets = ["train.epochs=2", *(f"{d.key}={json.dumps(v)}" for d, v in point)]
        expected = load_spec(SPECS / "digits.yaml", overrides=sets).document.data
        expected.pop("sweep", None)
        assert built == expected


def test_a_variable_changes_every_use(write_spec):
    path = write_spec(VARS_SPEC)
    variants = Variants(path)
    assert "sweep" not in variants.base.document.data  # a trial's spec is a plain spec
    spec = variants.build(variants.assign([(dims("vars.width=choice(4, 16)")[0], 16)]))
    assert [layer["conv2d"]["out_channels"] for layer in spec.document.data["model"][::2][:2]] == [16, 16]
    assert spec.document.data == load_spec(path, overrides=["vars.width=16", "~sweep"]).document.data


def test_a_bare_name_takes_arguments_and_names_match_like_registries(write_spec):
    path = write_spec(VARS_SPEC)
    variants = Variants(path)
    lr, inplace = dims("train.optimizer.Adam.lr=loguniform(1e-4, 1)", "model[1].relu.inplace=choice(true, false)")
    assignment = variants.assign([(lr, 0.01), (inplace, True)])
    data = variants.build(assignment).document.data
    assert data["train"]["optimizer"] == {"adam": {"lr": 0.01}}
    assert data["model"][1] == {"relu": {"inplace": True}}


def test_a_path_into_a_component_an_earlier_dimension_replaced_is_inactive():
    variants = Variants(SPECS / "digits.yaml")
    optimizer, momentum, decay = dims("train.optimizer=choice(sgd, adamw)",
                                      "train.optimizer.sgd.momentum=uniform(0, 1)",
                                      "train.optimizer.adamw.weight_decay=uniform(0, 0.1)")
    sgd = variants.assign([(optimizer, "sgd"), (momentum, 0.5), (decay, 0.01)])
    assert sgd.inactive == ("train.optimizer.adamw.weight_decay",)
    assert variants.build(sgd).document.data["train"]["optimizer"] == {"sgd": {"momentum": 0.5}}
    adamw = variants.assign([(optimizer, "adamw"), (momentum, 0.5), (decay, 0.01)])
    assert adamw.inactive == ("train.optimizer.sgd.momentum",)
    assert variants.build(adamw).document.data["train"]["optimizer"] == {"adamw": {"weight_decay": 0.01}}


@pytest.mark.parametrize(("text", "message"), [
    ("train.optimizer.sgd.lr=choice(0.1)",
     "train.optimizer.sgd.lr: train.optimizer is adamw here, not sgd"),
    ("model[0].conv3d.out_channels=choice(4)", "model[0].conv3d.out_channels: model[0] is conv2d here, not conv3d"),
    ("model[40].conv2d.out_channels=choice(4)", 'model[40].conv2d.out_channels: there is no 40 in model'),
    ("model[0].conv2d.out_channels.x=choice(4)",
     'model[0].conv2d.out_channels.x: cannot set "x" in model[0].conv2d.out_channels'),
])
def test_a_path_that_cannot_exist_is_located_at_the_dimension(text, message):
    variants = Variants(SPECS / "digits.yaml")
    dim = parse_assignment(text, 2)
    with pytest.raises(SpecError) as info:
        variants.assign([(dim, dim.grid()[0])])
    assert info.value.message.startswith(message)
    assert str(info.value.location) == "--sweep[2]:1:1"


def test_a_variants_own_error_is_located_at_the_dimension_that_set_the_value():
    variants = Variants(SPECS / "digits.yaml")
    dim = parse_assignment("model[0].conv2d.kernel_size=choice(3, 30)", 1)
    with pytest.raises(SpecError) as info:
        variants.build(variants.assign([(dim, 30)]))
    assert str(info.value.location) == "--sweep[1]:1:1"
    assert "output height would be -19" in info.value.message
