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


def _selected_worker_scenarios(session: pytest.Session) -> list[str]:
    """Worker scenarios the collected tests ask for: by parameter, or named in the test's source."""
    import inspect

    wanted = set()
    worker_ids = [s.id for s in SCENARIOS if s.worker]
    for item in session.items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if params.get("scenario") in worker_ids:
            wanted.add(params["scenario"])
        elif "ci_row" in getattr(item, "fixturenames", ()):
            source = inspect.getsource(item.function)
            wanted.update(sid for sid in worker_ids if f'"{sid}"' in source)
    return [sid for sid in worker_ids if sid in wanted]


@pytest.fixture(scope="session")
def worker_rows(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                worker_id: str) -> dict[str, Row]:
    """The selected scenarios that fork training processes, run once in one helper process (they share
    their reference runs): only those the collected tests need, so ``-k`` stays fast. Under pytest-xdist
    the first worker to ask runs them and the others read its rows (a lock in the shared temp folder)."""
    import hashlib
    import json

    from filelock import FileLock

    jobs = [(sid, by_id(sid).ci) for sid in _selected_worker_scenarios(request.session)]
    shared = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        shared = shared.parent
    key = hashlib.sha256(repr((jobs, SEED)).encode()).hexdigest()[:16]  # str hash() differs per process
    marker = shared / f"reliability-worker-{key}.json"
    with FileLock(str(shared / f"reliability-worker-{key}.lock")):
        if not marker.exists():
            rows = run_in_worker(jobs, SEED, tmp_path_factory.mktemp("reliability-worker")) if jobs else []
            marker.write_text(json.dumps([r.to_dict() for r in rows]))
    return {d["scenario"]: Row.from_dict(d) for d in json.loads(marker.read_text())}


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
