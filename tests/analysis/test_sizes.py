"""``cnnspec sizes``: the valid input sizes, checked against torch running the model."""

from __future__ import annotations

import json

import pytest

from cnnspec.analysis.sizes import Period, SizeProbe, compress, find_period, parse_range, scan
from cnnspec.cli import main
from cnnspec.exceptions import SpecError
from cnnspec.spec import load_spec

torch = pytest.importorskip("torch")

FIVE_PADDED = """\
input: [3, H, W]
model:
  - repeat:
      times: 5
      layers: [{conv2d: {out_channels: 4, kernel_size: 3, stride: 2, padding: 1}}]
"""


def torch_valid(model, channels: int, sizes) -> list[int]:
    """The sizes at which torch's forward runs (brute force, the ground truth)."""
    torch.set_num_threads(1)
    model.eval()
    ok = []
    with torch.no_grad():
        for n in sizes:
            try:
                model(torch.zeros(1, channels, n, n))
            except RuntimeError:
                continue
            ok.append(n)
    return ok


def five_convs(padding: int):
    from torch import nn

    layers, c = [], 3
    for _ in range(5):
        layers.append(nn.Conv2d(c, 4, 3, stride=2, padding=padding))
        c = 4
    return nn.Sequential(*layers)


@pytest.mark.parametrize("padding", [1, 0])
@pytest.mark.parametrize("symbolic", [True, False])
def test_five_stride2_convs_minimum_matches_torch_brute_force(padding, symbolic):
    text = FIVE_PADDED.replace("padding: 1", f"padding: {padding}")
    if not symbolic:
        text = text.replace("[3, H, W]", "[3, 224, 224]")
    report = scan(SizeProbe.create(load_spec(text)), 1, 256)
    truth = torch_valid(five_convs(padding), 3, range(1, 257))
    assert report.minimum == min(truth) == (1 if padding else 63)
    assert [1 + k for k, ok in enumerate(report.valid) if ok] == truth


def test_five_convs_cli_reports_the_minimum(capsys):
    path = _write(FIVE_PADDED.replace("padding: 1", "padding: 0"))
    assert main(["sizes", path, "--range", "1..256"]) == 0
    out = capsys.readouterr().out
    assert "minimum size: 63\n" in out
    assert "n = 62 fails:" in out and "floor((2 + 2*0 - 1*(3-1) - 1) / 2) + 1 = 0" in out
    assert "valid sizes: 194 of 256: 63..256" in out


_TMP: list = []


def _write(text: str, name: str = "spec.yaml") -> str:
    import tempfile
    from pathlib import Path

    d = Path(tempfile.mkdtemp())
    _TMP.append(d)
    (d / name).write_text(text)
    return str(d / name)


RESIDUAL = """\
input: [3, H, W]
model:
  - residual:
      layers:
        - conv2d: {out_channels: 3, kernel_size: 3, stride: 2, padding: 1}
        - conv2d: {out_channels: 3, kernel_size: 3, stride: 2, padding: 1}
      shortcut:
        - maxpool2d: {kernel_size: 4}
"""

CONCAT_CEIL = """\
input: [2, H, W]
model:
  - maxpool2d: {kernel_size: 3, stride: 2, ceil_mode: true}
  - concat:
      branches:
        - [{conv2d: {out_channels: 2, kernel_size: 3, stride: 3}}]
        - [{avgpool2d: {kernel_size: 2, stride: 3, ceil_mode: true}}]
"""

FIXED_LINEAR = """\
input: [1, 20, 20]
model:
  - conv2d: {out_channels: 2, kernel_size: 5}
  - maxpool2d: {kernel_size: 2}
  - flatten
  - linear: {out_features: 3}
"""


@pytest.mark.parametrize("text, channels", [(RESIDUAL, 3), (CONCAT_CEIL, 2), (FIXED_LINEAR, 1)],
                         ids=["residual-broadcast", "concat-ceil-mode", "fixed-size-linear"])
def test_valid_set_equals_torch_brute_force(text, channels):
    from cnnspec.build import build_from_trace
    from cnnspec.shapes.walker import infer_shapes

    spec = load_spec(text)
    probe = SizeProbe.create(spec)
    report = scan(probe, 1, 96)
    # the model as built: at a valid size for symbolic specs, at the spec's own size otherwise
    built_at = spec.input if text is FIXED_LINEAR else [channels, 96, 96]
    model = build_from_trace(infer_shapes(probe.spec, input_shape=built_at))
    truth = torch_valid(model, channels, range(1, 97))
    assert [1 + k for k, ok in enumerate(report.valid) if ok] == truth
    assert truth, "the test needs some valid sizes"
    assert len(truth) < 96, "and some invalid ones"


def test_residual_set_is_periodic(capsys):
    report = scan(SizeProbe.create(load_spec(RESIDUAL)), 1, 200)
    assert report.minimum == 4
    assert report.intervals[:3] == [(4, 8), (12, 12), (16, 16)]
    assert report.period == Period(8, 4, (0,))
    assert main(["sizes", _write(RESIDUAL), "--range", "1..200"]) == 0
    assert "periodic: every size with n % 4 == 0, from 8 on (period 4)" in capsys.readouterr().out


def test_fixed_size_spec_pins_in_features_and_explains_a_size(capsys):
    path = _write(FIXED_LINEAR)
    assert main(["sizes", path, "--check", "26", "--check", "20"]) == 2
    out = capsys.readouterr().out
    assert "as built at the spec's size: model[3].linear.in_features=128" in out
    assert "minimum size: 20\n" in out
    assert "valid sizes: 2 of 1024: 20..21" in out
    assert "size 26: invalid" in out and "in_features is 128 but the input has 242 features" in out
    assert "nearest valid sizes: 21 below" in out
    assert "size 20: valid, output [3]" in out


def test_check_shows_the_collapse_arithmetic(capsys):
    path = _write(FIVE_PADDED.replace("padding: 1", "padding: 0"))
    assert main(["sizes", path, "--check", "37", "--format", "json"]) == 2
    out = json.loads(capsys.readouterr().out)
    assert out["minimum"] == 63 and out["intervals"] == [[63, 1024]] and out["period"] is None
    (check,) = out["checks"]
    assert check["size"] == 37 and not check["valid"]
    # 37 -> 18 -> 8 -> 3 -> 1 -> collapses in the fifth repetition
    assert check["error"]["message"] == (
        "model[0].repeat.layers[0] (repetition 5 of 5) conv2d 'conv1': output height would be 0: "
        "floor((1 + 2*0 - 1*(3-1) - 1) / 2) + 1 = 0, input is [4, 1, 1].")


def test_vary_one_dim_and_fix_another():
    spec = load_spec(FIVE_PADDED.replace("padding: 1", "padding: 0"))
    report = scan(SizeProbe.create(spec, vary=["H"], fixed={"W": 100}), 1, 100)
    assert report.minimum == 63
    with pytest.raises(SpecError, match="W is neither varied nor fixed"):
        SizeProbe.create(spec, vary=["H"])
    with pytest.raises(SpecError, match="no input dim named 'X'"):
        SizeProbe.create(spec, vary=["X"])
    fixed = load_spec(FIXED_LINEAR)
    tall = scan(SizeProbe.create(fixed, vary=["H"]), 1, 40)
    assert [1 + k for k, ok in enumerate(tall.valid) if ok] == [20, 21]


def test_no_spatial_dims():
    with pytest.raises(SpecError, match="has no spatial dims"):
        SizeProbe.create(load_spec("input: [8]\nmodel: [{linear: {out_features: 2}}]\n"))


def test_no_valid_size_exits_2(capsys):
    path = _write("input: [1, H, W]\nmodel:\n  - conv2d: {out_channels: 1, kernel_size: 50}\n")
    assert main(["sizes", path, "--range", "1..40"]) == 2
    assert "no valid size in 1..40" in capsys.readouterr().out


@pytest.mark.parametrize("text, expected", [("1..1024", (1, 1024)), ("64", (1, 64)), ("5..5", (5, 5))])
def test_parse_range(text, expected):
    assert parse_range(text) == expected


@pytest.mark.parametrize("text", ["0..4", "5..4", "a..b", "1..99999999"])
def test_parse_range_errors(text):
    with pytest.raises(SpecError, match="--range"):
        parse_range(text)


def test_compress_and_period_units():
    bits = [n >= 5 and (n % 3 == 2) for n in range(1, 61)]
    assert compress(bits, 1)[:2] == [(5, 5), (8, 8)]
    assert find_period(bits, 1) == Period(5, 3, (2,))
    assert find_period([n >= 10 for n in range(1, 100)], 1) is None  # an interval
    assert find_period([False] * 50, 1) is None
    mixed = [n % 6 in (0, 1) for n in range(1, 61)]
    assert find_period(mixed, 1) == Period(1, 6, (0, 1))


def test_a_spec_invalid_at_its_own_size_scans_without_pinning(capsys):
    path = _write(FIXED_LINEAR.replace("[1, 20, 20]", "[1, 5, 5]"))
    assert main(["sizes", path, "--range", "1..30"]) == 0
    out = capsys.readouterr().out
    assert "the spec is invalid at its own size [1, 5, 5]; inferred counts are left free" in out
    assert "minimum size: 6\n" in out and "valid sizes: 25 of 30: 6..30" in out
