"""Open findings (reliability/findings.py), each pinned by a strict xfail.

Each test states the behaviour the product should have. It fails today;
when the owner fixes the bug it passes, ``strict=True`` turns that into a
red run, and the fix's author removes the mark here and the entry in
``reliability/findings.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cnnspec.exceptions import SpecError
from cnnspec.spec import load_spec
from reliability.findings import FINDINGS


def _xfail(finding: str) -> pytest.MarkDecorator:
    f = FINDINGS[finding]
    return pytest.mark.xfail(strict=True, reason=f"{f.id}: {f.title} ({f.owner})")


@_xfail("F1")
def test_f1_interrupted_plugin_import_names_the_plugin(tmp_path: Path) -> None:
    from reliability.plugin_faults import Dist, _run_cli, write_dist

    marker = tmp_path / "importing"
    site = write_dist(tmp_path / "site", Dist("cnnspec-t-hang", {"hang": "hang_plugin.plugin"}, {
        "hang_plugin.plugin": f"import pathlib, time\npathlib.Path({str(marker)!r}).touch()\ntime.sleep(10**6)\n"}))
    spec = tmp_path / "spec.yaml"
    spec.write_text("input: [1]\nmodel: [relu]\n")
    code, out, _ = _run_cli(site, "validate", str(spec), interrupt_when=marker)
    assert code == 130 and "Traceback" not in out
    assert "hang" in out


@_xfail("F2")
def test_f2_fix_it_search_fits_the_per_input_budget() -> None:
    """validate may cost 2 s per input; finding the error takes well under one, so the search's budget must
    leave room for it (the search budget is wall time: on a loaded machine it is less CPU)."""
    from cnnspec import fixits
    from reliability.fuzz import CPU_LIMIT

    assert fixits.SEARCH_SECONDS <= CPU_LIMIT / 2


@_xfail("F3")
def test_f3_many_unknown_keys_are_summarised() -> None:
    text = "".join(f"k{i}: {i}\n" for i in range(2000)) + "input: [1]\nmodel: [relu]\n"
    with pytest.raises(SpecError) as info:
        load_spec(text)
    assert len(info.value.all_errors()) <= 50


def test_every_finding_has_its_test() -> None:
    here = Path(__file__).read_text()
    for finding in FINDINGS.values():
        path, _, name = finding.test.partition("::")
        assert path == "tests/reliability/test_findings.py" and f"def {name}(" in here, finding.id
