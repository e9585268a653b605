"""Group 4: checkpoint files survive kills inside saves, truncation, bit flips and full disks."""

from __future__ import annotations

import pytest

from reliability.storage import protocol_problems


@pytest.mark.parametrize("scenario", ["save-kill", "truncation", "bit-flips", "injected-write-errors", "full-disk",
                                      "atomic-protocol", "non-finite-state"])
def test_scenario_has_no_losses(ci_row, scenario: str) -> None:
    row = ci_row(scenario)
    if scenario == "full-disk" and row.size == 0:
        pytest.skip("no tmpfs could be mounted (needs root); injected-write-errors covers ENOSPC")
    assert row.passed, row.explain()


D = "/run/checkpoints"


@pytest.mark.parametrize(("events", "problem"), [
    ([("open-write", f"{D}/.tmp-a"), ("write", f"{D}/.tmp-a"), ("replace", f"{D}/.tmp-a -> {D}/a.pt"),
      ("fsync", D)], "never fsynced"),
    ([("open-write", f"{D}/.tmp-a"), ("write", f"{D}/.tmp-a"), ("fsync", f"{D}/.tmp-a"),
      ("replace", f"{D}/.tmp-a -> {D}/a.pt")], "directory was never fsynced"),
    ([("open-write", f"{D}/a.pt"), ("write", f"{D}/a.pt"), ("fsync", f"{D}/a.pt")], "under its final name"),
    ([("open-write", f"{D}/.tmp-a"), ("fsync", f"{D}/.tmp-a"), ("write", f"{D}/.tmp-a"),
      ("replace", f"{D}/.tmp-a -> {D}/a.pt"), ("fsync", D)], "never fsynced"),
])
def test_the_protocol_check_catches_each_shortcut(events, problem) -> None:
    """Without the fsync, the directory fsync or the temporary name, the protocol row goes red."""
    from pathlib import Path

    found = protocol_problems(events, Path(D))
    assert any(problem in p for p in found), found


def test_the_protocol_check_accepts_the_real_sequence() -> None:
    from pathlib import Path

    events = [("open-write", f"{D}/.tmp-a"), ("write", f"{D}/.tmp-a"), ("fsync", f"{D}/.tmp-a"),
              ("replace", f"{D}/.tmp-a -> {D}/a.pt"), ("fsync", D), ("link", f"{D}/a.pt -> {D}/.tmp-l"),
              ("replace", f"{D}/.tmp-l -> {D}/last.pt"), ("fsync", D)]
    assert protocol_problems(events, Path(D)) == []
