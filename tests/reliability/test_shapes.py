"""Group 2: static inference agrees with torch on random stacks, plugin layers included."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from reliability import shapes


@pytest.mark.parametrize("scenario", ["shapes-differential", "shapes-kit"])
def test_scenario_has_no_losses(ci_row, scenario: str) -> None:
    row = ci_row(scenario)
    assert row.passed, row.explain()


def test_a_wrong_plugin_rule_is_caught(tmp_path: Path, monkeypatch) -> None:
    """The differential can fail: ConvBNReLU's rule made to forget its default padding is reported."""
    shapes.example_plugins()  # puts the example plugin's source on sys.path
    import cnnspec_example.plugin as plugin_module
    from cnnspec_example.layers import CONV_BN_RELU, SQUEEZE_EXCITE

    from cnnspec import hookimpl

    def forgetful(p, shape, ctx):
        return CONV_BN_RELU.infer(p.model_copy(update={"padding": p.padding if p.padding is not None else 0}),
                                  shape, ctx)

    @hookimpl
    def cnnspec_layers():
        return [replace(CONV_BN_RELU, infer=forgetful), SQUEEZE_EXCITE]

    monkeypatch.setattr(plugin_module, "cnnspec_layers", cnnspec_layers)
    row = shapes.differential(60, 0, tmp_path)
    assert row.losses > 0, row.explain()
    assert any("convbnrelu" in f.lower() for f in row.failures)
