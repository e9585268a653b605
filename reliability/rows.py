"""A scenario's result row and the scenario descriptor.

A row counts outcomes, not test passes: ``ok`` cases held, ``losses`` did
not. ``failures`` keeps the first few losses verbatim so a red CI run says
what broke; ``numbers`` holds the measurements the report quotes (max time
per input, kills that landed inside a save...).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["MAX_FAILURES", "Row", "Scenario", "ScenarioFn"]

#: failures kept verbatim per row (the count is always exact)
MAX_FAILURES = 8


@dataclass
class Row:
    """What one scenario tried and what happened."""

    scenario: str
    what: str
    size: int = 0
    unit: str = "cases"
    ok: int = 0
    losses: int = 0
    notes: list[str] = field(default_factory=list)
    numbers: dict[str, Any] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    known: dict[str, int] = field(default_factory=dict)
    known_cases: int = 0
    seconds: float = 0.0

    def hold(self, n: int = 1) -> None:
        """Count ``n`` cases where the protection held."""
        self.ok += n

    def lose(self, message: str) -> None:
        """Count one case where it did not, keeping the first few messages."""
        self.losses += 1
        if len(self.failures) < MAX_FAILURES:
            self.failures.append(message)

    def known_case(self, *findings: str) -> None:
        """Count a case that fails the way open findings (:mod:`reliability.findings`) say.

        Such cases are neither ok nor losses: the report shows them next to
        the findings, whose strict-xfail tests flip when the bugs are fixed.
        One case may show several findings; ``known_cases`` counts cases.
        """
        from reliability.findings import FINDINGS

        for finding in findings:
            if finding not in FINDINGS:
                raise KeyError(f"no open finding {finding!r}")
            self.known[finding] = self.known.get(finding, 0) + 1
        self.known_cases += 1

    def check(self, condition: bool, message: str) -> bool:
        """``hold()`` if ``condition`` else ``lose(message)``; returns ``condition``."""
        if condition:
            self.hold()
        else:
            self.lose(message)
        return condition

    def note(self, text: str) -> None:
        self.notes.append(text)

    def peak(self, key: str, value: float) -> None:
        """Keep the largest ``value`` seen under ``key`` (e.g. the slowest input)."""
        self.numbers[key] = max(float(self.numbers.get(key, value)), float(value))

    def count(self, key: str, n: int = 1) -> None:
        self.numbers[key] = int(self.numbers.get(key, 0)) + n

    @property
    def passed(self) -> bool:
        """Zero losses, and something was actually tried (held, or failed only as a finding says)."""
        return self.losses == 0 and self.ok + self.known_cases > 0

    @contextmanager
    def timed(self) -> Iterator[Row]:
        began = time.perf_counter()
        try:
            yield self
        finally:
            self.seconds += time.perf_counter() - began

    def explain(self) -> str:
        """A multi-line account for assertion messages."""
        lines = [f"{self.scenario}: {self.ok} ok, {self.losses} losses of {self.size} {self.unit}"]
        lines += [f"  known ({finding}): {n}" for finding, n in self.known.items()]
        lines += [f"  loss: {f}" for f in self.failures]
        lines += [f"  note: {n}" for n in self.notes]
        lines += [f"  {k} = {v}" for k, v in self.numbers.items()]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"scenario": self.scenario, "what": self.what, "size": self.size, "unit": self.unit, "ok": self.ok,
                "losses": self.losses, "notes": list(self.notes), "numbers": dict(self.numbers),
                "failures": list(self.failures), "known": dict(self.known), "known_cases": self.known_cases,
                "seconds": round(self.seconds, 3)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Row:
        return cls(**data)


#: ``fn(size, seed, workdir) -> Row``
ScenarioFn = Callable[[int, int, Path], Row]


@dataclass(frozen=True)
class Scenario:
    """One scenario of the suite and its sizes in each tier.

    ``target`` is ``"module:function"`` so listing the suite imports nothing
    heavy; ``worker`` scenarios run in a fresh helper process (they fork
    training processes, which must not inherit a parent's torch threads).
    """

    id: str
    group: str
    what: str
    target: str
    ci: int
    long: int
    unit: str
    worker: bool = False

    def function(self) -> ScenarioFn:
        from importlib import import_module

        module, _, attr = self.target.partition(":")
        return getattr(import_module(module), attr)

    def size(self, tier: str) -> int:
        return self.ci if tier == "ci" else self.long
