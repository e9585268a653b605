"""Symbolic input dims: closed forms that evaluate exactly to torch's shapes."""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnnspec.build import build_model
from cnnspec.exceptions import ShapeError
from cnnspec.shapes.walker import check_size, infer_shapes
from cnnspec.spec import load_spec
from cnnspec.symbolic import ceildiv, evaluate, floordiv, free_symbols, product, symbol
from tests.strategies import entry

H = symbol("H")


def conv(w, k, s=1, p=0, d=1):
    return floordiv(w + 2 * p - d * (k - 1) - 1, s) + 1


def test_canonical_forms_print_and_compare() -> None:
    five = H
    for _ in range(5):
        five = conv(five, 3, 2, 1)
    assert str(five) == "floor((H - 1)/32) + 1"
    assert conv(H, 3, 1, 1) == H  # a 'same' conv is the identity, syntactically
    assert conv(H, 3, 2, 1) == ceildiv(H, 2)
    lenet = conv(floordiv(conv(conv(H, 5), 2, 2), 1), 5)
    assert str(conv(lenet, 2, 2)) == "floor(H/4) - 3"
    assert str(product([50, conv(lenet, 2, 2), symbol("W")])) == "50*W*(floor(H/4) - 3)"


@given(st.lists(st.tuples(st.integers(1, 7), st.integers(1, 4), st.integers(0, 3), st.integers(1, 3)),
                min_size=1, max_size=6),
       st.integers(1, 300))
def test_composed_floors_evaluate_exactly(layers, h) -> None:
    expr, value = H, h
    for k, s, p, d in layers:
        expr, value = conv(expr, k, s, p, d), conv(value, k, s, p, d)
    assert evaluate(expr, {"H": h}) == value
    assert free_symbols(expr) <= {"H"}


LENET = """
input: [3, H, W]
model:
  - conv2d: {out_channels: 20, kernel_size: 5}
  - relu
  - maxpool2d: {kernel_size: 2}
  - conv2d: {out_channels: 50, kernel_size: 5}
  - maxpool2d: {kernel_size: 2, ceil_mode: true}
  - adaptiveavgpool2d: {output_size: [2, null]}
"""


def test_symbolic_trace_matches_torch_at_many_sizes() -> None:
    spec = load_spec(LENET)
    trace = infer_shapes(spec)
    assert [str(d) for d in trace.layers[0].output_shape] == ["20", "H - 4", "W - 4"]
    model = build_model(spec)

    def torch_accepts(h: int, w: int) -> bool:
        try:
            with torch.no_grad():
                model(torch.zeros(1, 3, h, w))
        except RuntimeError:
            return False
        return True

    smallest = min(h for h in range(1, 64) if torch_accepts(h, 64))
    assert trace.min_size == {"H": smallest, "W": smallest}
    for h, w in [(smallest, smallest), (smallest, 40), (32, 32), (33, 17), (64, 100)]:
        env = {"H": h, "W": w}
        with torch.no_grad():
            real = model(torch.zeros(1, 3, h, w)).shape[1:]
        assert tuple(real) == tuple(evaluate(d, env) for d in trace.output_shape)
    assert check_size(spec, {"H": smallest - 1, "W": 40}) is not None


def test_linear_after_symbolic_flatten_names_the_dims() -> None:
    with pytest.raises(ShapeError) as info:
        infer_shapes(load_spec("input: [3, H, W]\nmodel:\n  - conv2d: {out_channels: 4, kernel_size: 3}\n"
                               "  - flatten\n  - linear: {out_features: 10}\n"))
    message = info.value.format()
    assert "in_features would depend on the input size: 4*(H - 2)*(W - 2)" in message
    assert "fix H, W in `input:`" in message


def test_symbolic_channels_must_be_fixed() -> None:
    with pytest.raises(ShapeError, match=r"the input channel count must be a fixed number, but it depends on C"):
        infer_shapes(load_spec("input: [C, 32, 32]\nmodel:\n  - conv2d: {out_channels: 4, kernel_size: 3}\n"))


def test_no_size_fits_is_an_error() -> None:
    # concat branches whose lengths differ by one for every size
    text = ("input: [1, L]\nmodel:\n  - concat:\n      branches:\n"
            "        - [{conv1d: {out_channels: 1, kernel_size: 2}}]\n        - [identity]\n")
    with pytest.raises(ShapeError, match="no input size up to 65536 satisfies the layers"):
        infer_shapes(load_spec(text))


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(entry(2, 0), min_size=1, max_size=5), st.integers(1, 6), st.integers(1, 24), st.integers(1, 24))
def test_symbolic_agrees_with_concrete(layers, c, h, w) -> None:
    """Evaluated at (h, w), a symbolic trace equals the concrete trace (validity too)."""
    try:
        sym = infer_shapes(load_spec({"input": [c, "H", "W"], "model": layers}))
    except ShapeError:
        return  # e.g. a linear after a symbolic flatten
    env = {"H": h, "W": w}
    spec = load_spec({"input": [c, h, w], "model": layers})
    try:
        concrete = infer_shapes(spec)
    except ShapeError:
        assert check_size(sym.spec, env) is not None
        return
    for a, b in zip(sym.walk(), concrete.walk()):
        assert tuple(evaluate(d, env) for d in a.output_shape) == b.output_shape
        assert evaluate(a.macs, env) == b.macs
        assert a.params == b.params
