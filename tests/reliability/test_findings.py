"""Open findings (reliability/findings.py), each pinned by a strict xfail.

A finding's test states the behaviour the product should have: it fails
while the bug is open, ``pytest.mark.xfail(strict=True, reason=...)`` keeps
the run green, and when the owner fixes the bug strict mode turns the pass
into a failure. Then the finding moves to ``FIXED`` and its test to the
scenario's test module as a plain regression test (see ``FIXED`` and
docs/reliability.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reliability.findings import FINDINGS, FIXED


def xfail(finding: str) -> pytest.MarkDecorator:
    """The mark for a finding's test: ``@xfail("F1")``."""
    f = FINDINGS[finding]
    return pytest.mark.xfail(strict=True, reason=f"{f.id}: {f.title} ({f.owner})")


def test_every_finding_has_its_test() -> None:
    here = Path(__file__).read_text()
    for finding in FINDINGS.values():
        path, _, name = finding.test.partition("::")
        assert path == "tests/reliability/test_findings.py" and f"def {name}(" in here, finding.id
        assert f'@xfail("{finding.id}")' in here, finding.id


def test_every_fixed_bug_names_its_guard() -> None:
    assert FIXED and all(f.guard and f.where for f in FIXED)
