"""The CI tier of the reliability suite: every scenario at its small size.

``RELIABILITY_SEED`` changes the seed (default 0, so a red run reproduces);
the long tier is ``python -m reliability.run --tier long``.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from reliability.rows import Row
from reliability.scenarios import SCENARIOS, by_id
from reliability.worker import run_in_worker

SEED = int(os.environ.get("RELIABILITY_SEED", "0"))


@pytest.fixture(scope="session")
def worker_rows(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Row]:
    """All scenarios that fork training processes, run once in one helper process (shared references)."""
    jobs = [(s.id, s.ci) for s in SCENARIOS if s.worker]
    rows = run_in_worker(jobs, SEED, tmp_path_factory.mktemp("reliability-worker"))
    return {row.scenario: row for row in rows}


_ROWS: dict[str, Row] = {}


@pytest.fixture
def ci_row(tmp_path_factory: pytest.TempPathFactory,
           worker_rows_lazy: Callable[[], dict[str, Row]]) -> Callable[[str], Row]:
    """``ci_row("fuzz-yaml-text")``: that scenario's row at its CI size (run once per session)."""

    def run(scenario_id: str) -> Row:
        scenario = by_id(scenario_id)
        if scenario.worker:
            return worker_rows_lazy()[scenario_id]
        if scenario_id not in _ROWS:
            _ROWS[scenario_id] = scenario.function()(scenario.ci, SEED, tmp_path_factory.mktemp(scenario_id))
        return _ROWS[scenario_id]

    return run


@pytest.fixture
def worker_rows_lazy(request: pytest.FixtureRequest) -> Callable[[], dict[str, Row]]:
    return lambda: request.getfixturevalue("worker_rows")
