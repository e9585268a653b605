"""docs/reliability.md is the long tier's output and keeps up with the suite.

It is never edited by hand: these tests check that it lists every scenario at
its long-tier size with zero losses, every open finding and no closed one,
and every mutation as red, in the structure the renderer writes today. When
the suite changes, rerun ``.venv/bin/python -m reliability.run --tier long
--write docs/reliability.md``.
"""

from __future__ import annotations

import re

import pytest

from reliability.findings import FINDINGS
from reliability.harness import ROOT
from reliability.mutations import MUTATIONS
from reliability.report import COMMAND, GENERATED, MUTATION_HEADER, TABLE_HEADER, render
from reliability.rows import Row
from reliability.scenarios import SCENARIOS

DOC = ROOT / "docs" / "reliability.md"


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text()


def _rows(doc: str) -> dict[str, list[str]]:
    """Scenario id -> the cells of its row in the main table."""
    out = {}
    for line in doc.splitlines():
        m = re.match(r"^\| \d+ \| `([a-z0-9-]+)` \|", line)
        if m:
            out[m.group(1)] = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
    return out


def test_generated_with_the_documented_command(doc: str) -> None:
    assert GENERATED in doc and COMMAND in doc
    assert re.search(r"Run of .+: tier `long`, seed \d+", doc)


def test_every_scenario_has_its_row_at_the_long_size(doc: str) -> None:
    rows = _rows(doc)
    assert list(rows) == [s.id for s in SCENARIOS]
    for scenario in SCENARIOS:  # a row may count more cases than asked for (positive controls, CLI checks)
        size, unit = rows[scenario.id][3].split()
        assert int(size) >= scenario.long and unit == scenario.unit, scenario.id


def test_every_row_shows_zero_losses(doc: str) -> None:
    for scenario_id, cells in _rows(doc).items():
        assert cells[5] == "0" and cells[7].startswith("yes"), (scenario_id, cells)
        assert int(cells[4]) > 0 or cells[6] != "0", scenario_id


def test_the_kill_trial_count_is_at_least_100(doc: str) -> None:
    assert int(_rows(doc)["kill-training"][3].split()[0]) >= 100


def test_open_findings_are_listed_and_closed_ones_are_not(doc: str) -> None:
    listed = re.findall(r"^\| (F\d+) \|", doc, flags=re.M)
    assert listed == list(FINDINGS)
    known = set(re.findall(r"\b(F\d+): \d+", doc))
    assert known <= set(FINDINGS)


def test_every_protection_removed_turned_the_ci_tier_red(doc: str) -> None:
    for mutation in MUTATIONS:
        line = next((x for x in doc.splitlines() if f"| `{mutation.id}` |" in x), None)
        assert line is not None, mutation.id
        assert line.rstrip(" |").split("|")[-1].strip().startswith("red"), line


def test_the_renderer_writes_this_structure(doc: str) -> None:
    fresh = render([Row(s.id, "what", size=1, unit=s.unit, ok=1) for s in SCENARIOS], tier="long", seed=0,
                   seconds=1.0, info={"date": "d", "platform": "p", "cpu": "c", "cpus": 2, "load": "0", "python": "3",
                                      "versions": {}, "cnnspec": "0", "commit": "x", "root": True})
    headings = [line for line in fresh.splitlines() if line.startswith("#")]
    assert headings == [line for line in doc.splitlines() if line.startswith("#")]
    for fixed in (TABLE_HEADER, MUTATION_HEADER):
        assert fixed in fresh and fixed in doc


@pytest.mark.parametrize("mutation", MUTATIONS, ids=lambda m: m.id)
def test_every_mutation_still_finds_the_code_it_removes(mutation) -> None:
    """A refactor that rewords a protection must update its mutation, or the check goes stale."""
    sources = [p.read_text() for p in sorted((ROOT / "cnnspec").rglob("*.py"))]
    for old, _ in mutation.edits:
        counts = [text.count(old) for text in sources if old in text]
        assert counts == [1], f"{mutation.id}: {old.strip().splitlines()[0][:60]!r} found {counts or 'nowhere'}"
