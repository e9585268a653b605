"""The static commands: validate (text/json), summary, schema — and no torch."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from cnnspec.cli import main
from tests.conftest import ROOT, SPECS

EXAMPLES = sorted(str(p.relative_to(ROOT)) for p in SPECS.glob("*.yaml"))


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cnnspec", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_validate_json_has_the_documented_fields(capsys, monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    bad = "tests/golden/errors/kernel_larger_than_input.yaml"
    assert main(["validate", "--format", "json", "specs/seed000_lenet_cifar10.yaml", bad]) == 2
    good, broken = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert good["valid"] and good["errors"] == []
    assert good["input_shape"] == [3, 32, 32] and good["output_shape"] == [10]
    assert good["params"] == 657_080 and good["macs"] == 4_327_190
    first = good["layers"][0]
    assert {k: first[k] for k in ("name", "type", "output_shape", "params", "macs")} == {
        "name": "conv1", "type": "Conv2d", "output_shape": [20, 28, 28], "params": 1520, "macs": 1_191_680}
    assert not broken["valid"]
    (error,) = broken["errors"]
    # located at the kernel_size token that caused it; key is the structured path to it
    assert (error["file"], error["line"], error["column"], error["path"]) == (bad, 8, 32, "model[4]")
    assert error["key"] == ["model", 4, "conv2d", "kernel_size"]
    assert "floor((4 + 2*0 - 1*(5-1) - 1) / 1) + 1 = 0" in error["message"]


def test_validate_text_table_and_exit_codes(capsys, monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    assert main(["validate", "specs/seed001_mnist_cnn.yaml"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^fc1 +Linear +\[1024\] +3,212,288 +3\.21M +global$", out, re.M), out
    assert "Total params: 3,274,634" in out


def test_validate_symbolic_reports_expressions_and_min_size(capsys, write_spec) -> None:
    path = write_spec("input: [1, H, W]\nmodel:\n  - conv2d: {out_channels: 4, kernel_size: 3, stride: 2}\n"
                      "  - adaptiveavgpool2d: {output_size: 1}\n")
    assert main(["validate", "--format", "json", str(path)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["layers"][0]["output_shape"] == [4, "floor((H - 1)/2)", "floor((W - 1)/2)"]
    assert result["min_input_size"] == {"H": 3, "W": 3}
    assert result["output_shape"] == [4, 1, 1]


def test_set_overrides_apply(capsys, monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    lenet = "specs/seed000_lenet_cifar10.yaml"
    assert main(["validate", "-q", lenet, "--set", "input=[3, 64, 64]"]) == 2
    assert "input: [3, 64, 64], but cifar10 gives [3, 32, 32] samples" in capsys.readouterr().err
    resize = "data.transforms=[{resize: {size: [64, 64]}}]"
    assert main(["validate", "-q", lenet, "--set", "input=[3, 64, 64]", "--set", resize]) == 0
    assert "4,257,080 params" in capsys.readouterr().out  # fc1's in_features follows the input
    assert main(["validate", "-q", lenet, "--set", "model[3].conv2d.kernel_size=40"]) == 2
    assert "floor((14 + 2*0 - 1*(40-1) - 1) / 1) + 1 = -25" in capsys.readouterr().err
    assert main(["validate", "-q", lenet, "--set", "model[3].conv2d.kernel_size=big"]) == 2
    assert "--set[0]:1:1: model[3] conv2d kernel_size: expected an integer" in capsys.readouterr().err


def test_validate_never_imports_torch() -> None:
    code = ("import sys\nfrom cnnspec.cli import main\n"
            f"code = main(['validate', '-q', *{EXAMPLES!r}])\n"
            "assert 'torch' not in sys.modules, sorted(m for m in sys.modules if m.startswith('torch'))\n"
            "sys.exit(code)\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_summary_with_torchinfo_agrees() -> None:
    result = run_cli("summary", "--torchinfo", "specs/seed003_cifar10cnn.yaml")
    assert result.returncode == 0, result.stderr
    assert "— agree" in result.stdout
    assert "MISMATCH" not in result.stdout


def test_schema_validates_examples_and_rejects_typos() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    from cnnspec.load.reader import load_document
    from cnnspec.spec.schema import spec_schema

    schema = spec_schema()
    validator = jsonschema.Draft202012Validator(schema)
    for spec_file in EXAMPLES:
        errors = list(validator.iter_errors(load_document(ROOT / spec_file).data))
        assert not errors, (spec_file, errors[0].message if errors else None)
    typo = {"input": [3, 8, 8], "model": [{"conv2d": {"out_channels": 4, "kernal_size": 3}}]}
    assert list(validator.iter_errors(typo))
    mixed_case = {"input": [3, 8, 8], "model": ["ReLU", {"Conv2D": {"out_channels": 4, "kernel_size": 3}}]}
    assert not list(validator.iter_errors(mixed_case))


def test_unknown_command_and_bad_arguments_exit_2() -> None:
    assert run_cli("frobnicate").returncode == 2
    assert run_cli("validate").returncode == 2
