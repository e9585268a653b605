"""SIGKILL and SIGTERM: every restart finds a loadable checkpoint and the final
weights equal an uninterrupted run's, bit for bit.

The fast tier kills a process that does nothing but save checkpoints (a kill
lands inside a save most of the time) and sends a real SIGTERM to a training
run in this process; the slow tier drives the command line, as a preempted
job would be.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch

from cnnspec.callbacks.base import Callback
from cnnspec.checkpoint import latest_valid, load_checkpoint, read_manifest
from cnnspec.engine import train
from cnnspec.engine.resume import resume

from .helpers import SPEC, same_weights, weights
from .killing import cli, kill_and_resume, wait_for

KILL_SPEC = SPEC.replace("every_n_steps: 4", "every_n_steps: 2")
SEED = int(os.environ.get("CNNSPEC_KILL_SEED", "0"))

SAVER = """
import sys, torch
from cnnspec.checkpoint import remove_checkpoints, save_checkpoint
directory, start = sys.argv[1], int(sys.argv[2])
for i in range(start, start + 100000):
    save_checkpoint(directory, f"c{i:06d}.pt", {"w": torch.full((300_000,), float(i))}, meta={"step": i},
                    aliases=["last"])
    if i - 2 >= start:
        remove_checkpoints(directory, [f"c{i - 2:06d}.pt"])
"""


def _kill_saver(directory: Path, rng: random.Random, start: int) -> None:
    proc = subprocess.Popen([sys.executable, "-c", SAVER, str(directory), str(start)], stderr=subprocess.PIPE)
    manifest = directory / "manifest.json"
    before = manifest.read_bytes() if manifest.exists() else b""
    deadline = time.monotonic() + 120
    while (not manifest.exists() or manifest.read_bytes() == before) and proc.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.005)
    time.sleep(rng.uniform(0, 0.3))
    proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, err.decode()


def _check_saver_dir(directory: Path) -> int:
    _, state = latest_valid(directory)
    step = state["meta"]["step"]
    assert torch.equal(state["w"], torch.full((300_000,), float(step)))  # content matches its manifest entry
    last = load_checkpoint(directory / "last.pt")  # the alias is always loadable (maybe one save behind)
    assert last["meta"]["step"] in (step, step - 1)
    for entry in read_manifest(directory)["checkpoints"]:  # nothing listed is torn
        load_checkpoint(directory / entry["file"])
    return step


@pytest.mark.parametrize("kills", [pytest.param(1, id="1-kill"),
                                   pytest.param(15, id="15-kills", marks=pytest.mark.slow)])
def test_sigkill_during_saves_leaves_a_valid_checkpoint(tmp_path: Path, kills: int) -> None:
    rng = random.Random(SEED)
    start = 1
    for _ in range(kills):
        _kill_saver(tmp_path, rng, start)
        start = _check_saver_dir(tmp_path) + 1  # the next process resumes numbering after the newest valid
    from cnnspec.checkpoint import clean_temp_files

    clean_temp_files(tmp_path)  # what the checkpoint callback does when a run starts
    assert not any(p.name.startswith(".tmp-") for p in tmp_path.iterdir())


class _SignalAt(Callback):
    """Deliver a real signal to this process at a given optimizer step."""

    def __init__(self, step: int, signum: int) -> None:
        self.step, self.signum = step, signum

    def on_train_batch_end(self, trainer: Any, batch: int, *args: Any) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), self.signum)


@pytest.fixture(scope="module")
def final_weights(tmp_path_factory) -> dict:
    run = tmp_path_factory.mktemp("reference") / "run"
    result = train(KILL_SPEC, run_dir=run, device="cpu")
    assert result.status == "completed"
    return weights(result.model)


def test_sigterm_finishes_the_step_saves_and_resumes_identically(tmp_path: Path, final_weights: dict) -> None:
    run = tmp_path / "run"
    previous = signal.getsignal(signal.SIGTERM)
    result = train(KILL_SPEC, run_dir=run, device="cpu", callbacks=[_SignalAt(11, signal.SIGTERM)])
    assert signal.getsignal(signal.SIGTERM) is previous
    assert result.status == "interrupted" and result.stop_reason == "received SIGTERM"
    assert result.trainer.global_step == 11  # the step in progress finished, no other started
    path, checkpoint = latest_valid(run)
    assert path.name == "epoch0002-step00000011.pt" and checkpoint["meta"]["reason"] == "interrupt"
    assert same_weights(weights(resume(run, device="cpu").model), final_weights)


# -- the command line ------------------------------------------------------------------


@pytest.fixture(scope="module")
def spec_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("spec") / "tiny.yaml"
    path.write_text(KILL_SPEC)
    return path


def _last(run: Path) -> dict:
    return weights(load_checkpoint(run / "checkpoints" / "last.pt")["model"])


@pytest.mark.slow
@pytest.mark.parametrize("trial", range(3))
def test_cli_sigkill_at_random_moments_then_resume(spec_file: Path, final_weights: dict, tmp_path: Path,
                                                   trial: int) -> None:
    run = tmp_path / "run"
    rng = random.Random(SEED * 1000 + trial)
    report = kill_and_resume(spec_file, run, kills=1 + trial, rng=rng)
    assert report.missing_checkpoint == 0 and report.returncode == 0
    assert report.restarts == report.kills
    assert same_weights(_last(run), final_weights)


@pytest.mark.slow
def test_cli_sigterm_exits_143_with_the_resume_command(spec_file: Path, final_weights: dict, tmp_path: Path) -> None:
    run = tmp_path / "run"
    proc = subprocess.Popen(cli("train", spec_file, "--run-dir", run), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert wait_for(proc, run / "checkpoints" / "manifest.json")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "stopped (received SIGTERM)" in err and f"resume with: cnnspec train --resume {run}" in err
    path, checkpoint = latest_valid(run)
    assert checkpoint["meta"]["reason"] == "interrupt"
    assert not any(p.name.startswith(".tmp-") for p in (run / "checkpoints").iterdir())
    done = subprocess.run(cli("train", "--resume", run), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"resuming {run} from {path.name}" in done.stderr
    assert same_weights(_last(run), final_weights)
