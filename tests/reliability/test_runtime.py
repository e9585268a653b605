"""Group 7: non-finite losses, signals anywhere, a removed TensorBoard directory, dead DataLoader workers."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("scenario", ["non-finite-loss", "signals", "tensorboard-removed", "dataloader-workers"])
def test_scenario_has_no_losses(ci_row, scenario: str) -> None:
    row = ci_row(scenario)
    assert row.passed, row.explain()


def test_no_dataloader_worker_outlived_its_run(ci_row) -> None:
    row = ci_row("dataloader-workers")
    assert not any("outlived" in f for f in row.failures)
    assert row.numbers["max_s_until_workers_gone"] < 30
