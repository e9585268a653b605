"""Group 6: a broken, slow or raising plugin is named, and unrelated work goes on or stops cleanly."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("scenario", ["plugin-faults", "slow-plugins", "plugin-callback-raises"])
def test_scenario_has_no_losses(ci_row, scenario: str) -> None:
    row = ci_row(scenario)
    assert row.passed, row.explain()


def test_ctrl_c_in_a_hanging_plugin_import_names_the_plugin(tmp_path) -> None:
    from reliability.plugin_faults import Dist, _run_cli, write_dist

    marker = tmp_path / "importing"
    site = write_dist(tmp_path / "site", Dist("cnnspec-t-hang", {"hang": "hang_plugin.plugin"}, {
        "hang_plugin.plugin": f"import pathlib, time\npathlib.Path({str(marker)!r}).touch()\ntime.sleep(10**6)\n"}))
    spec = tmp_path / "spec.yaml"
    spec.write_text("input: [1]\nmodel: [relu]\n")
    code, out, _ = _run_cli(site, "validate", str(spec), interrupt_when=marker)
    assert code == 130 and "Traceback" not in out
    assert "hang" in out and "-p no:hang" in out
