"""plugins/cnnspec-example, installed by pip: discovered, listed, validated, built, trained."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cnnspec.spec import load_spec
from tests.plugins.distributions import EXAMPLE_SOURCE

EXAMPLE_SPEC = EXAMPLE_SOURCE / "example.yaml"

#: every layer type and argument the example registers, on a 20x20 input
SPEC = """\
input: [3, 20, 20]
model:
  - convbnrelu: {out_channels: 8, kernel_size: 3}
  - squeezeexcite: {reduction: 2}
  - convbnrelu: {out_channels: 12, kernel_size: [3, 5], stride: 2, padding: [0, 1], groups: 4}
  - squeezeexcite: {gate: hardsigmoid, reduction: 16}
  - flatten
  - linear: {out_features: 4}
"""


def test_listed_with_distribution_and_names(cli):
    report = cli(["example"], "plugins", "--format", "json").json()
    (example,) = [p for p in report["plugins"] if p["name"] == "example"]
    assert example["status"] == "loaded" and not example["builtin"]
    assert (example["distribution"], example["version"]) == ("cnnspec-example", "0.1.0")
    assert example["registers"] == {"layer": ["ConvBNReLU", "SqueezeExcite"], "dataset": ["stripes"],
                                    "loss": ["focal"], "callback": ["csv_log"]}
    text = cli(["example"], "plugins").out
    assert "example  (cnnspec-example 0.1.0)\n  entry point: example = cnnspec_example.plugin\n" \
           "  layer (2): ConvBNReLU, SqueezeExcite\n" in text


def test_validate_uses_plugin_rules_without_importing_torch(installed, tmp_path):
    """The plugin's layer is validated statically: a fresh interpreter never imports torch."""
    code = (
        "import sys, json\n"
        "from cnnspec.cli import main\n"
        f"rc = main(['validate', '--format', 'json', {str(EXAMPLE_SPEC)!r}])\n"
        "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH')\n"
        "sys.exit(rc)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(installed["example"])}
    env.pop("CNNSPEC_DISABLE_PLUGIN_AUTOLOAD", None)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    report_line, verdict = done.stdout.strip().splitlines()
    assert verdict == "NO-TORCH"
    report = json.loads(report_line)
    assert report["valid"] and report["output_shape"] == [4]
    assert [layer["type"] for layer in report["layers"]][:2] == ["ConvBNReLU", "SqueezeExcite"]


def test_plugin_layer_errors_are_located_spec_errors(cli, write_spec):
    spec = write_spec("input: [3, 4, 4]\nmodel:\n  - convbnrelu: {out_channels: 8, kernel_size: 7, padding: 0}\n")
    run = cli(["example"], "validate", str(spec))
    assert run.code == 2
    assert run.err.startswith(f"{spec}:3:5: model[0] convbnrelu 'cbr1': output height would be -2: "
                              "floor((4 + 2*0 - 1*(7-1) - 1) / 1) + 1 = -2, input is [3, 4, 4].")
    spec = write_spec("input: [3, 4, 4]\nmodel:\n  - squeezeexcite: {reduction: 0, gat: sigmoid}\n")
    run = cli(["example"], "validate", str(spec))
    assert run.code == 2
    assert "reduction" in run.err and "did you mean 'gate'" in run.err


def test_schema_includes_plugin_layers(cli):
    schema = cli(["example"], "schema").json()
    titles = {option.get("title"): option for option in schema["$defs"]["Layer"]["anyOf"]}
    cbr = titles["ConvBNReLU"]
    assert "plugin 'example' (distribution cnnspec-example 0.1.0)" in cbr["description"]
    ((pattern, args),) = cbr["patternProperties"].items()
    assert pattern == "^(?:(?:example):)?(?:[cC][oO][nN][vV][bB][nN][rR][eE][lL][uU])$"
    params = args["anyOf"][0]
    assert params["required"] == ["out_channels", "kernel_size"]
    assert set(params["properties"]) >= {"in_channels", "out_channels", "kernel_size", "stride", "padding", "groups"}
    assert "SqueezeExcite" in titles
    # the plugin's own example spec (its layers, dataset, loss and callback, also as example:name) passes it
    jsonschema = pytest.importorskip("jsonschema")
    from cnnspec.load.reader import load_document

    validator = jsonschema.Draft202012Validator(schema)
    data = load_document(EXAMPLE_SPEC).data
    assert [e.message for e in validator.iter_errors(data)] == []
    data["model"][0] = {"example:ConvBNReLU": data["model"][0]["convbnrelu"]}
    assert [e.message for e in validator.iter_errors(data)] == []
    data["model"][1] = {"squeezexcite": {}}
    assert list(validator.iter_errors(data))


def test_built_model_matches_the_static_trace(plugins_from):
    """Each layer's predicted shape and parameter count against torch's real forward."""
    import torch

    from cnnspec.build import build_from_trace
    from cnnspec.shapes.walker import infer_shapes

    trace = infer_shapes(load_spec(SPEC, plugins=plugins_from("example")))
    model = build_from_trace(trace)
    seen = {}
    hooks = [module.register_forward_hook(lambda m, i, o, name=name: seen.__setitem__(name, tuple(o.shape[1:])))
             for name, module in model.named_children()]
    model(torch.randn(2, 3, 20, 20))
    for hook in hooks:
        hook.remove()
    for info in trace.layers:
        module = model.get_submodule(info.qualname)
        assert seen[info.qualname] == tuple(info.output_shape), info.qualname
        assert sum(p.numel() for p in module.parameters()) == info.params, info.qualname
    assert type(model.get_submodule("cbr1")).__name__ == "ConvBNReLU"
    assert model.get_submodule("cbr2").conv.groups == 4


def test_focal_and_stripes_resolve_from_a_spec(plugins_from):
    spec = load_spec(EXAMPLE_SPEC, plugins=plugins_from("example"))
    assert spec.plugins.registry("loss").entry("focal").provider.distribution == "cnnspec-example"
    assert spec.plugins.registry("dataset").entry("stripes").obj.meta["num_classes"] == 4


@pytest.mark.slow
def test_trains_with_plugin_dataset_loss_and_callback(cli_process, tmp_path: Path):
    run = cli_process(["example"], "train", str(EXAMPLE_SPEC), "--runs-root", str(tmp_path), "--format", "json",
                      "--epochs", "1", "--set", "data.dataset.stripes.size=128",
                      "--set", "data.dataset.stripes.test_size=32", "--set", "train.progress=false")
    assert run.code == 0, run.err
    result = json.loads(run.out.strip().splitlines()[-1])
    run_dir = Path(result["run_dir"])
    rows = (run_dir / "metrics.csv").read_text().splitlines()
    assert rows[0].startswith("epoch,") and rows[1].startswith("1,")
    assert result["metrics"]["classes"] == ["horizontal", "vertical", "diagonal", "antidiagonal"]


@pytest.mark.slow
def test_the_example_plugins_own_tests_pass(installed):
    """plugins/cnnspec-example/tests, run against the installed distribution."""
    env = {**os.environ, "PYTHONPATH": str(installed["example"])}
    env.pop("CNNSPEC_DISABLE_PLUGIN_AUTOLOAD", None)
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                           str(EXAMPLE_SOURCE / "tests")], capture_output=True, text=True, env=env,
                          cwd=EXAMPLE_SOURCE, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert " passed" in done.stdout
