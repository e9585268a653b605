"""The distribution syntax against the real things: numpy's spacings, Python's range, Optuna's distributions."""

from __future__ import annotations

import math

import numpy as np
import optuna
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from cnnspec.exceptions import SpecError
from cnnspec.sweep.space import decode, encode
from cnnspec.sweep.syntax import parse_assignment, parse_dimension


def dim(text: str):
    return parse_assignment(text, 0)


@pytest.mark.parametrize(("text", "expected"), [
    ("x=linspace(0, 0.5, 6)", np.linspace(0, 0.5, 6)),
    ("x=linspace(-3, 7, 11)", np.linspace(-3, 7, 11)),
    ("x=geomspace(1e-4, 1e-1, 4)", np.geomspace(1e-4, 1e-1, 4)),
    ("x=geomspace(0.5, 64, 8)", np.geomspace(0.5, 64, 8)),
    ("x=range(5)", list(range(5))),
    ("x=range(2, 20, 3)", list(range(2, 20, 3))),
    ("x=range(10, 0, -2)", list(range(10, 0, -2))),
    ("x=int(8, 128, step=8)", list(range(8, 129, 8))),
    ("x=uniform(0, 1, step=0.125)", np.arange(0, 1.0001, 0.125)),
])
def test_listed_values_are_numpys_and_pythons(text, expected):
    values = dim(text).grid()
    assert values == pytest.approx(list(expected), rel=1e-12, abs=1e-15)
    assert dim(text).size == len(values)


def test_each_dimension_is_the_optuna_distribution_written_by_hand():
    assert dim("x=uniform(0, 0.5)").distribution() == FloatDistribution(0.0, 0.5)
    assert dim("x=loguniform(1e-4, 1e-1)").distribution() == FloatDistribution(1e-4, 1e-1, log=True)
    assert dim("x=uniform(0, 1, step=0.25)").distribution() == FloatDistribution(0.0, 1.0, step=0.25)
    assert dim("x=int(8, 128, step=8)").distribution() == IntDistribution(8, 128, step=8)
    assert dim("x=int(1, 1024, log=true)").distribution() == IntDistribution(1, 1024, log=True)
    assert dim("x=range(2, 20, 3)").distribution() == IntDistribution(2, 17, step=3)
    assert dim("x=choice(16, 32, 64)").distribution() == CategoricalDistribution([16, 32, 64])
    assert dim("x=choice(sgd, [3, 3], {adamw: {lr: 0.01}})").distribution() == CategoricalDistribution(
        ["sgd", 'json:[3, 3]', 'json:{"adamw": {"lr": 0.01}}'])


@pytest.mark.parametrize("text", [
    "x=uniform(-2, 3)", "x=loguniform(1e-5, 10)", "x=int(-4, 9)", "x=int(2, 512, log=true)",
    "x=int(0, 30, step=5)", "x=choice(a, [1, 2], {b: null}, 3.5, true)", "x=range(1, 30, 4)",
    "x=geomspace(1e-3, 1, 4)", "x=uniform(0, 1, step=0.1)",
])
def test_what_optuna_samples_is_in_the_space(text):
    """Thousands of points drawn by Optuna's own samplers land on the dimension's values or range."""
    d = dim(text)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    seen = []
    for _ in range(300):
        trial = study.ask()
        seen.append(d.suggest(trial))
        study.tell(trial, 0.0)
    if d.discrete:
        grid = d.grid()
        assert all(any(v == g or (isinstance(v, float) and isinstance(g, float) and math.isclose(v, g))
                       for g in grid) for v in seen)
    else:
        assert all(d.low <= v <= d.high for v in seen)
    rng = np.random.default_rng(0)
    drawn = [d.sample(rng) for _ in range(300)]
    if d.discrete:
        assert all(v in d.grid() for v in drawn)
    else:
        assert all(d.low <= v <= d.high for v in drawn)


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
                    max_leaves=8))
@settings(max_examples=300, deadline=None)
def test_choice_values_survive_optunas_storage(value):
    assert decode(encode(value)) == value
    stored = encode(value)
    assert stored is None or isinstance(stored, (bool, int, float, str))


@given(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6))
@settings(max_examples=300, deadline=None)
def test_uniform_bounds_are_read_exactly(a, b):
    low, high = min(a, b), max(a, b)
    text = f"x=uniform({low!r}, {high!r})"
    if low == high:
        with pytest.raises(SpecError, match="needs LOW < HIGH"):
            dim(text)
    else:
        d = dim(text)
        assert (d.low, d.high) == (low, high)
        assert d.distribution() == FloatDistribution(low, high)


#: (argument, the message printed after the location, the text the column points at: its last occurrence)
BAD = [
    ("lr=loguniform(0, 1)", "lr=loguniform(0, 1): loguniform needs 0 < LOW, got 0 (the log of 0 is undefined)", "0"),
    ("lr=lognormal(1, 2)", "lr=lognormal(1, 2): unknown distribution 'lognormal'; did you mean 'loguniform'?",
     "lognormal"),
    ("lr=logspace(1, 2, 3)", "lr=logspace(1, 2, 3): unknown distribution 'logspace'; did you mean 'geomspace'?",
     "logspace"),
    ("lr=0.1", "lr=0.1: not a distribution", "0.1"),
    ("lr", "--sweep 'lr': expected KEY=DISTRIBUTION", "lr"),
    ("lr=uniform(1, 1)", "lr=uniform(1, 1): uniform needs LOW < HIGH, got 1 and 1", "1, 1"),
    ("x=int(1.5, 3)", "x=int(1.5, 3): int: 1.5 is not a whole number", "1.5"),
    ("x=int(1, 10, step=4)", "x=int(1, 10, step=4): int: HIGH - LOW = 9 is not a multiple of step=4", "4"),
    ("x=int(1, 5, foo=3)", "x=int(1, 5, foo=3): int takes no argument 'foo' (keyword arguments: step, log)", "foo"),
    ("x=choice()", "x=choice(): choice needs at least one value", ")"),
    ("x=choice(1, 2, 1)", "x=choice(1, 2, 1): choice lists 1 twice", "1"),
    ("x=range(0)", "x=range(0): range(0) is empty", "0"),
    ("x=range(1, 5, 0)", "x=range(1, 5, 0): range: STEP must not be zero", "0"),
    ("x=uniform(0, )", "x=uniform(0, ): an empty argument", ")"),
    ("x=uniform(0, 'a')", "x=uniform(0, 'a'): uniform: \"a\" is not a finite number", "'a'"),
    ("x=geomspace(0, 1, 3)", "x=geomspace(0, 1, 3): geomspace needs START and STOP of one sign, not zero, got 0 and 1",
     "0"),
    ("x=linspace(0, 1, 2.5)", "x=linspace(0, 1, 2.5): linspace: NUM must be a whole number in 1..100,000, got 2.5",
     "2.5"),
    ("x=choice(a, [1, 2)", "x=choice(a, [1, 2): cannot read '[1, 2': YAML syntax error: did not find expected ',' or "
                           "']' (while parsing a flow sequence)", "[1"),
    ("model[x=choice(1)", "--sweep model[x: cannot read the key path at '[x'", "model"),
    ("extends=choice(a.yaml)", "--sweep extends: extends cannot be swept", "extends"),
]


@pytest.mark.parametrize(("text", "message", "token"), BAD, ids=[b[0] for b in BAD])
def test_a_malformed_dimension_is_located_at_its_character(text, message, token):
    with pytest.raises(SpecError) as info:
        parse_assignment(text, 3)
    assert info.value.message == message
    loc = info.value.location
    assert (loc.file, loc.line, loc.column) == ("--sweep[3]", 1, text.rindex(token) + 1)


def test_in_a_spec_section_the_column_counts_from_the_value():
    from cnnspec.exceptions import Location

    with pytest.raises(SpecError) as info:
        parse_dimension("lr", "loguniform(1e-4, 0)", where=Location("s.yaml", 10, 9),
                        spec_path=("sweep", "space", "lr"), offset=1)
    assert info.value.message == "sweep.space lr: loguniform needs LOW < HIGH, got 0.0001 and 0"
    assert str(info.value.location) == "s.yaml:10:21"
    assert info.value.key == ("sweep", "space", "lr")
