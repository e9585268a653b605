"""The three callbacks as plugins: static checks without torch, disabling, and no effect on training."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from cnnspec.cli import main
from cnnspec.exceptions import SpecError
from cnnspec.plugins.manager import PluginSet, configure
from cnnspec.spec import load_spec

BASE = """
name: digits-small
input: [1, 8, 8]
model:
  - conv2d: {out_channels: 4, kernel_size: 3, padding: 1}
  - relu
  - maxpool2d: {kernel_size: 2}
  - flatten
  - dropout: {p: 0.3}
  - linear: {out_features: 10}
data: {dataset: digits, batch_size: 32, val_split: 0.2}
train: {epochs: 2, optimizer: {sgd: {lr: 0.05, momentum: 0.9}}, progress: false}
"""
ALL = "callbacks: [tensorboard, plots, {gradcam: {samples: 3, every: 1}}]\n"


def test_validate_checks_the_callbacks_without_importing_torch_or_matplotlib(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(BASE + ALL)
    code = (
        "import sys\n"
        "from cnnspec.cli import main\n"
        f"assert main(['validate', '--quiet', {str(spec)!r}]) == 0\n"
        "heavy = [m for m in ('torch', 'matplotlib', 'captum', 'tensorboard') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(("callbacks", "message"), [
    ("[{gradcam: {samples: 0}}]", "samples: input should be greater than or equal to 1, got 0"),
    ("[{gradcam: {epochs: [1], every: 2}}]", "give either epochs or every, not both"),
    ("[{plots: {refresh: -1}}]", "refresh: input should be greater than or equal to 0, got -1"),
    ("[{tensorboard: {histogram: true}}]", "did you mean 'histograms'"),
    ("[tensorbord]", "unknown callback 'tensorbord'; did you mean 'tensorboard'?"),
])
def test_callback_arguments_are_checked_when_the_spec_loads(callbacks: str, message: str) -> None:
    with pytest.raises(SpecError) as info:
        load_spec(BASE + f"callbacks: {callbacks}\n")
    assert message in str(info.value)
    assert info.value.line == 13  # the callbacks: line


@pytest.mark.parametrize("name", ["tensorboard", "plots", "gradcam"])
def test_each_callback_is_a_plugin_that_can_be_disabled(name: str) -> None:
    assert name in PluginSet().registry("callback")
    plugins = PluginSet(disabled=[name])
    with pytest.raises(SpecError, match=f"unknown callback '{name}'"):
        load_spec(BASE + f"callbacks: [{name}]\n", plugins=plugins)


def test_p_no_plugin_on_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(BASE + ALL)
    try:
        assert main(["-p", "no:plots", "validate", "--quiet", str(spec)]) == 2
    finally:
        configure()  # the selection is process-wide: leave it as other tests expect
    assert "unknown callback 'plots'" in capsys.readouterr().err


def test_the_real_engine_trains_bit_identically_with_and_without_the_callbacks(tmp_path: Path) -> None:
    from cnnspec.engine import Trainer

    states = []
    for i, text in enumerate((BASE, BASE + ALL)):
        trainer = Trainer(load_spec(text), run_dir=tmp_path / str(i), device="cpu", limit_batches=4)
        trainer.fit()
        states.append((trainer.model.state_dict(), trainer.history))
    (plain, plain_history), (drawn, drawn_history) = states
    assert [h["train_loss"] for h in plain_history] == [h["train_loss"] for h in drawn_history]
    for name, tensor in plain.items():
        assert torch.equal(tensor, drawn[name]), name
    assert sorted(p.name for p in (tmp_path / "1" / "gradcam").iterdir()) == ["epoch_001.png", "epoch_002.png"]
