"""Group 6: a broken, slow or raising plugin is named, and unrelated work goes on or stops cleanly."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("scenario", ["plugin-faults", "slow-plugins", "plugin-callback-raises"])
def test_scenario_has_no_losses(ci_row, scenario: str) -> None:
    row = ci_row(scenario)
    assert row.passed, row.explain()
