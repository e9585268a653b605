"""Group 5: code in checkpoints never runs, Python object names in specs are refused, nothing is written
outside the run directory (beyond the open findings F4 and F8)."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("scenario", ["pickle-payloads", "spec-object-names", "path-traversal"])
def test_scenario_has_no_losses(ci_row, scenario: str) -> None:
    row = ci_row(scenario)
    assert row.passed, row.explain()


def test_every_payload_is_live(ci_row) -> None:
    """The positive controls ran: each payload does execute when unpickled without the fences."""
    numbers = ci_row("pickle-payloads").numbers
    assert numbers["positive_controls_that_ran"] > 0 and "positive_controls_inert" not in numbers
