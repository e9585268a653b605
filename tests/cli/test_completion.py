"""Shell completion through a real bash: the shell code ``cnnspec completion bash`` prints, then TAB.

And every ``--set`` key completion offers is one ``--set`` accepts: each
choice offered, applied, gives a spec that loads.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from cnnspec.cli.completion import layer_names, set_keys
from cnnspec.exceptions import SpecError
from cnnspec.spec import load_spec
from tests.conftest import ROOT

BASH = shutil.which("bash")

SCRIPT = r'''
eval "$(cnnspec completion bash)"
complete_line() {
  COMP_LINE="$1"; COMP_POINT=${#COMP_LINE}
  read -ra COMP_WORDS <<< "$COMP_LINE"; [[ "$COMP_LINE" == *" " ]] && COMP_WORDS+=("")
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=()
  _python_argcomplete cnnspec
  printf '%s\n' "${COMPREPLY[@]}"; echo "--"
}
'''


@pytest.fixture(scope="module")
def tab(tmp_path_factory: pytest.TempPathFactory):
    if BASH is None:
        pytest.skip("no bash on this machine")
    folder = tmp_path_factory.mktemp("bin")
    shim = folder / "cnnspec"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m cnnspec "$@"\n')
    shim.chmod(0o755)
    env = {**os.environ, "PATH": f"{folder}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(ROOT)}

    def run(*lines: str) -> list[list[str]]:
        body = SCRIPT + "\n".join(f"complete_line {q(line)}" for line in lines)
        done = subprocess.run([BASH, "-c", body], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        groups, current = [], []
        for out in done.stdout.splitlines():
            if out == "--":
                groups.append([c.strip().replace("\\", "") for c in current])
                current = []
            else:
                current.append(out)
        return groups

    return run


def q(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def test_tab_completes_commands_set_keys_values_layers_and_files(tab):
    commands, keys, values, deletes, layers, files = tab(
        "cnnspec dr",
        "cnnspec train specs/seed000_lenet_cifar10.yaml --set train.optimizer.s",
        "cnnspec train specs/seed000_lenet_cifar10.yaml --set train.device=",
        "cnnspec validate specs/seed000_lenet_cifar10.yaml --set ~train.sch",
        "cnnspec explain specs/resnet18.yaml --checkpoint x --layer layer1.0.residual1.body.c",
        "cnnspec summary specs/seed00",
    )
    assert commands == ["draw"]
    assert keys == ["train.optimizer.sgd=", "train.optimizer.sgd.lr=", "train.optimizer.sgd.momentum="]
    assert values == ["auto", "cpu", "cuda", "mps"]
    assert deletes == ["~train.scheduler"]
    assert layers == ["layer1.0.residual1.body.conv1", "layer1.0.residual1.body.conv2"]
    assert all(f.startswith("specs/seed00") and f.endswith(".yaml") for f in files) and len(files) >= 6


@pytest.mark.parametrize("name", ["seed000_lenet_cifar10.yaml", "resnet18.yaml", "digits.yaml"])
def test_every_offered_key_and_choice_is_a_set_that_loads(name: str):
    import json

    from cnnspec.load.compose import compose, parse_key_path
    from cnnspec.load.reader import load_document

    spec = ROOT / "specs" / name
    offered = set_keys(str(spec))
    data = compose(load_document(spec)).data
    fingerprint = load_spec(spec).fingerprint()
    checked = 0
    for entry in offered:
        key, sep, value = entry.partition("=")
        if not sep:
            continue
        if value:  # a choice: it loads (a choice may not fit the shapes, never the structure)
            try:
                load_spec(spec, overrides=[entry])
            except SpecError as exc:
                assert type(exc).__name__ == "ShapeError", (entry, str(exc))
            checked += 1
            continue
        current = data
        for part in parse_key_path(key):
            current = current[part] if isinstance(current, (dict, list)) and (
                isinstance(current, list) or part in current) else None
        if current is not None:  # a key the spec writes: setting it to itself changes nothing
            assert load_spec(spec, overrides=[f"{key}={json.dumps(current)}"]).fingerprint() == fingerprint, key
            checked += 1
    assert checked > 10


def test_layer_names_are_the_traced_modules():
    names = layer_names(str(ROOT / "specs" / "googlenet.yaml"))
    assert "inception3a.branch2.conv2" in names and names[0] == "conv1"


def test_completion_costs_nothing_when_the_shell_does_not_ask():
    code = ("import sys\nfrom cnnspec.cli import main\nassert main(['validate', '-q', 'specs/digits.yaml']) == 0\n"
            "assert 'argcomplete' not in sys.modules\n")
    env = {k: v for k, v in os.environ.items() if k != "_ARGCOMPLETE"}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
