"""Plugins from installed distributions: the real entry-point path, end to end.

Every distribution here was built and installed by pip (see ``distributions``);
the CLI tests run ``python -m cnnspec`` in a fresh process whose
``PYTHONPATH`` holds exactly the chosen install folders.
"""

from __future__ import annotations

import re

import pytest

from cnnspec.plugins.manager import PluginSet

PLAIN = """\
input: [3, 8, 8]
model:
  - conv2d: {out_channels: 4, kernel_size: 3}
  - relu
"""

SHAPES = """\
input: [3, 8, 8]
model: [relu]
data: {dataset: DATASET}
"""


def _plugin(report: dict, name: str) -> dict:
    return next(p for p in report["plugins"] if p["name"] == name)


# -- a plugin whose import raises --------------------------------------------------------------
def test_broken_import_leaves_other_specs_valid(cli_process, write_spec):
    spec = write_spec(PLAIN)
    run = cli_process(["misc", "example"], "validate", "-q", str(spec))
    assert run.code == 0, run.err
    assert "ok" in run.out


def test_plugins_names_the_broken_plugin_and_its_error(cli_process, cli):
    run = cli_process(["misc"], "plugins", "--format", "json")
    assert run.code == 0, run.err
    broken = _plugin(run.json(), "broken")
    assert broken["status"] == "broken"
    assert broken["distribution"] == "cnnspec-t-misc" and broken["version"] == "0.3"
    assert broken["entry_point"] == "broken = cnnspec_t_misc.broken"
    assert re.match(r"cannot import cnnspec_t_misc\.broken: ModuleNotFoundError: No module named "
                    r"'cnnspec_t_missing_dependency' \(at .*broken\.py:1\)$", broken["error"])
    assert "broken" in run.json()["broken"]
    text = cli(["misc"], "plugins")
    assert "broken  (cnnspec-t-misc 0.3)  [BROKEN]" in text.out
    assert "ModuleNotFoundError" in text.out


def test_strict_exits_2_when_a_plugin_is_broken(cli):
    assert cli(["misc"], "plugins", "--strict").code == 2
    assert cli(["example"], "plugins", "--strict").code == 0


def test_a_name_from_a_plugin_whose_hook_raised_says_so(cli, write_spec):
    run = cli(["misc"], "validate", str(write_spec("input: [3, 8, 8]\nmodel: [gizmo]\n")))
    assert run.code == 2
    assert ("model[0]: unknown layer 'gizmo': it is provided by plugin 'raising' (distribution cnnspec-t-misc 0.3) "
            "failed to load: hook cnnspec_datasets raised RuntimeError: the gizmo catalogue is unreachable") in run.err
    assert "Hint: fix or reinstall that plugin (see `cnnspec plugins`), or disable it with -p no:raising" in run.err
    assert "Traceback" not in run.err


def test_an_unknown_name_mentions_plugins_that_failed_to_import(cli, write_spec):
    run = cli(["misc", "example"], "validate", str(write_spec(SHAPES.replace("DATASET", "stripez"))))
    assert run.code == 2
    assert "unknown dataset 'stripez'; did you mean 'stripes'?" in run.err
    assert "installed but failed to load, and may provide it: 'broken', 'misspelled', 'wrongarg'" in run.err


# -- hookimpls that break the contract ------------------------------------------------------------
def test_misspelled_hook_names_plugin_hook_and_suggestion(plugins_from):
    plugins = plugins_from("misc")
    info = plugins.info["misspelled"]
    assert info.status == "broken"
    assert re.fullmatch(r"'cnnspec_dataset' \(at .*misspelled\.py:5\) is not a cnnspec hook; "
                        r"did you mean 'cnnspec_datasets'\?", info.error)
    assert "typo" not in plugins.registry("dataset")


def test_wrong_argument_names_plugin_hook_and_suggestion(plugins_from):
    plugins = plugins_from("misc")
    info = plugins.info["wrongarg"]
    assert info.status == "broken"
    assert re.fullmatch(r"hook 'cnnspec_losses' \(at .*wrongarg\.py:5\) asks for argument 'config', "
                        r"but cnnspec_losses takes no arguments; remove 'config'", info.error)
    described = next(b for b in plugins.broken if b.name == "wrongarg").describe()
    assert described.startswith(
        "plugin 'wrongarg' (distribution cnnspec-t-misc 0.3) failed to load: hook 'cnnspec_losses'")


def test_broken_plugins_contribute_nothing_whichever_registry_comes_first(plugins_from):
    by_layers_first = plugins_from("misc")
    assert "Gizmo" not in by_layers_first.registry("layer")
    by_datasets_first = PluginSet()
    by_datasets_first.registry("dataset")
    assert "Gizmo" not in by_datasets_first.registry("layer")
    assert by_layers_first.info["raising"].error == by_datasets_first.info["raising"].error


# -- two plugins, one dataset name --------------------------------------------------------------
@pytest.mark.parametrize("order", [("alpha", "beta"), ("beta", "alpha")])
def test_duplicate_dataset_is_an_error_naming_both_in_either_order(cli_process, write_spec, order):
    run = cli_process(order, "validate", str(write_spec(SHAPES.replace("DATASET", "shapes"))))
    assert run.code == 2
    assert run.err.splitlines()[0].endswith(
        "data.dataset: the dataset name 'shapes' is registered by both plugin 'shapes_a' (distribution "
        "cnnspec-t-alpha 1.0) and plugin 'shapes_b' (distribution cnnspec-t-beta 2.0)")
    assert run.err.splitlines()[1] == (
        "  Hint: write the qualified name to pick one: 'shapes_a:shapes', 'shapes_b:shapes'; "
        "or disable one plugin with -p no:NAME")


@pytest.mark.parametrize("order", [("alpha", "beta"), ("beta", "alpha")])
@pytest.mark.parametrize("plugin", ["shapes_a", "shapes_b"])
def test_qualified_name_picks_one_provider(plugins_from, order, plugin):
    plugins = plugins_from(*order)
    entry = plugins.registry("dataset").entry(f"{plugin}:shapes")
    assert entry.provider.plugin == plugin
    assert entry.obj.load()(None, False) == {"shapes_a": "alpha", "shapes_b": "beta"}[plugin]


def test_qualified_name_validates_from_the_cli(cli, write_spec):
    run = cli(["beta", "alpha"], "validate", "-q", str(write_spec(SHAPES.replace("DATASET", "shapes_b:shapes"))))
    assert run.code == 0, run.err


def test_disabling_one_provider_resolves_the_ambiguity(cli, write_spec):
    spec = write_spec(SHAPES.replace("DATASET", "shapes"))
    assert cli(["alpha", "beta"], "validate", "-q", "-p", "no:shapes_a", str(spec)).code == 0


def test_plugins_lists_the_conflict(cli):
    report = cli(["alpha", "beta"], "plugins", "--format", "json").json()
    (conflict,) = [c for c in report["conflicts"] if c["name"] == "shapes"]
    assert conflict["kind"] == "dataset"
    assert [p["qualified_name"] for p in conflict["providers"]] == ["shapes_a:shapes", "shapes_b:shapes"]


# -- two distributions, one entry-point name --------------------------------------------------------
@pytest.mark.parametrize("order", [("alpha", "beta"), ("beta", "alpha")])
def test_shared_entry_point_name_keeps_both_qualified_by_distribution(plugins_from, order):
    plugins = plugins_from(*order)
    assert "twin" not in plugins.info
    for dist, loss in (("cnnspec-t-alpha", "twin_a_loss"), ("cnnspec-t-beta", "twin_b_loss")):
        info = plugins.info[f"twin@{dist}"]
        assert info.status == "loaded"
        assert "claimed by distribution cnnspec-t-alpha and distribution cnnspec-t-beta" in info.notes[0]
        assert plugins.registry("loss").entry(loss).provider.plugin == f"twin@{dist}"
    assert list(plugins.info) == list(plugins_from(*reversed(order)).info)


def test_disabling_a_shared_name_disables_every_claimant(plugins_from):
    plugins = plugins_from("alpha", "beta", disabled=["twin"])
    assert {plugins.info[f"twin@{d}"].status for d in ("cnnspec-t-alpha", "cnnspec-t-beta")} == {"disabled"}


# -- selection: -p no:NAME, autoload off, -p NAME ----------------------------------------------------
CBR = "input: [3, 16, 16]\nmodel:\n  - convbnrelu: {out_channels: 8, kernel_size: 3}\n"


def test_disable_with_p_no(cli, write_spec):
    spec = write_spec(CBR)
    assert cli(["example"], "validate", "-q", str(spec)).code == 0
    run = cli(["example"], "validate", "-p", "no:example", str(spec))
    assert run.code == 2
    assert "unknown layer 'convbnrelu'" in run.err
    assert "not loaded (disabled with -p no:NAME): 'example'" in run.err
    report = cli(["example"], "-p", "no:example", "plugins", "--format", "json").json()
    assert _plugin(report, "example")["status"] == "disabled"


def test_autoload_env_var_and_explicit_p(cli_process, cli, write_spec):
    spec = write_spec(CBR)
    off = {"CNNSPEC_DISABLE_PLUGIN_AUTOLOAD": "1"}
    run = cli_process(["misc", "example"], "validate", str(spec), env=off)
    assert run.code == 2
    assert "not loaded (CNNSPEC_DISABLE_PLUGIN_AUTOLOAD is set; load with -p NAME): 'broken', 'example'" in run.err
    run = cli(["misc", "example"], "validate", "-q", "-p", "example", str(spec), env=off)
    assert run.code == 0, run.err
    report = cli(["misc", "example"], "plugins", "--format", "json", "-p", "example", env=off).json()
    assert report["autoload"] is False
    assert _plugin(report, "example")["status"] == "loaded"
    assert _plugin(report, "broken")["status"] == "not loaded"
    assert _plugin(report, "layers")["status"] == "loaded"  # built-ins always load


def test_p_with_an_unknown_name_is_a_usage_error(cli, write_spec):
    run = cli(["example"], "validate", "-p", "exmple", str(write_spec(PLAIN)))
    assert run.code == 2
    assert "-p exmple: no plugin named 'exmple'" in run.err and "did you mean 'example'?" in run.err
    assert "Traceback" not in run.err


def test_a_distribution_with_unreadable_metadata_does_not_hide_the_others(plugins_from, tmp_path, monkeypatch):
    """importlib.metadata.entry_points() raises for everyone when one entry_points.txt is not UTF-8."""
    info = tmp_path / "cnnspec_t_damaged-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: cnnspec-t-damaged\nVersion: 1.0\n")
    (info / "entry_points.txt").write_bytes(b"[cnnspec]\ndamaged = cnnspec_t_damaged\xff\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins = plugins_from("example")
    assert plugins.info["example"].status == "loaded"
    (warning,) = plugins.warnings
    assert warning.startswith(f"the metadata of {info} is unreadable (UnicodeDecodeError:")
