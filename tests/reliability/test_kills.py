"""Group 3: SIGKILL at random moments, then resume: a loadable checkpoint every time, bit-identical weights;
the negative controls show the comparison does fail when a piece of state is not restored."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("scenario", ["kill-training", "kill-controls"])
def test_scenario_has_no_losses(ci_row, scenario: str) -> None:
    row = ci_row(scenario)
    assert row.passed, row.explain()


def test_every_restart_found_a_checkpoint(ci_row) -> None:
    row = ci_row("kill-training")
    assert row.numbers["kills"] >= row.size
    assert row.numbers["restarts_with_a_checkpoint"] == row.numbers["restarts"] >= row.numbers["kills"]


def test_each_control_changed_the_result(ci_row) -> None:
    numbers = ci_row("kill-controls").numbers
    for kind in ("rng", "optimizer", "scheduler"):
        assert numbers.get(f"{kind}_different") and not numbers.get(f"{kind}_identical"), numbers
