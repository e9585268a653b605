"""Scenario group 7: faults while training runs.

Each trial runs ``cnnspec train`` on the tiny spec in a child process
(:mod:`reliability.training`) and does one thing to it:

* a non-finite loss (a training batch multiplied by NaN or ±inf at a random
  step): exit 3 at that very step, the step not applied, every checkpoint
  finite, and resuming (without the poison) ends bit-identical;
* SIGTERM/SIGINT at a random moment, after the first validation batch, in the
  middle of writing a checkpoint, and a second signal in the middle of the
  checkpoint the first one asked for: exit ``128 + signum`` (or death by the
  second signal), a resumable checkpoint, bit-identical after resuming;
* the TensorBoard directory removed while training: one warning, training
  completes with the same weights;
* a DataLoader worker (``num_workers: 2``) SIGKILLed: the run stops (exit 1),
  no worker outlives it, resuming ends bit-identical; and the main process
  SIGKILLed: its workers exit too.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import time
from pathlib import Path

from reliability.harness import group_members, wait_gone
from reliability.rows import Row
from reliability.training import (
    TOTAL_STEPS,
    Child,
    Launcher,
    Reference,
    final_digest,
    newest_step,
    prepare,
    reference,
    resume_argv,
    sleep_or_exit,
    spec_file,
    temp_files,
    temps_in,
    train_argv,
    wait_for,
)

__all__ = ["non_finite_loss", "signals", "tensorboard_removed", "worker_faults"]

_REFERENCES: dict[str, Reference] = {}
#: how long DataLoader workers may outlive a SIGKILLed parent (they poll it every 5 s)
ORPHAN_GRACE_S = 30.0


def _setup(workdir: Path, name: str) -> tuple[Path, Launcher]:
    prepare()
    folder = workdir / name
    return folder, Launcher(folder / "logs")


def _resume_identical(launcher: Launcher, run: Path, ref: Reference, problems: list[str], *,
                      faults: tuple[str, ...] = ()) -> None:
    """Resume ``run`` to the end and compare with the uninterrupted reference."""
    from cnnspec.checkpoint import latest_valid

    if latest_valid(run) is None:
        problems.append("no loadable checkpoint to resume from")
        return
    done = launcher.run(resume_argv(run), faults=faults)
    if done.returncode != 0:
        problems.append(f"the resumed run ended with {done.returncode}: {done.output[-600:]}")
        return
    if final_digest(run) != ref.digest:
        problems.append("resumed to the end, the weights differ from the uninterrupted run")
    leftovers = temp_files(run)
    if leftovers:
        problems.append(f"temporary files left behind: {leftovers}")


def _finish(row: Row, label: str, problems: list[str]) -> None:
    if problems:
        row.lose(f"{label}: {'; '.join(problems)}")
    else:
        row.hold()


def non_finite_loss(size: int, seed: int, workdir: Path) -> Row:
    """Scenario: a NaN/inf loss at a random step stops the run at that step, with finite checkpoints."""
    import torch

    from cnnspec.checkpoint import latest_valid, load_checkpoint, read_manifest

    row = Row("non-finite-loss", "a training batch multiplied by NaN / inf / -inf at a random step: exit 3 at that "
              "step (the step not applied), every checkpoint finite and loadable, resuming without the poison ends "
              "bit-identical to an uninterrupted run", unit="runs")
    rng = random.Random(seed)
    folder, launcher = _setup(workdir, "non-finite-loss")
    with row.timed():
        ref = reference(launcher, folder, "tiny", _REFERENCES)
        spec = spec_file(folder, "tiny")
        for i in range(size):
            value = ["nan", "inf", "-inf"][i % 3]
            step = rng.randrange(3, TOTAL_STEPS)  # 0-based index of the poisoned step
            epoch, batch = divmod(step, 9)
            run = folder / f"run{i:03d}"
            shutil.rmtree(run, ignore_errors=True)
            row.size += 1
            problems: list[str] = []
            child = launcher.run(train_argv(spec, run), faults=(f"poison:{value}:{epoch}:{batch}",))
            if child.returncode != 3:
                problems.append(f"exit {child.returncode}, expected 3: {child.output[-400:]}")
            elif "non-finite loss" not in child.output:
                problems.append(f"no non-finite message: {child.output[-300:]}")
            final = run / "final.json"
            done_steps = json.loads(final.read_text()).get("global_step") if final.exists() else None
            if done_steps != step:
                problems.append(f"stopped after {done_steps} steps, the poisoned step was number {step + 1}")
            manifest = read_manifest(run / "checkpoints") or {"checkpoints": []}
            for entry in manifest["checkpoints"]:
                state = load_checkpoint(run / "checkpoints" / entry["file"])
                if int(entry.get("step", 0)) > step:
                    problems.append(f"{entry['file']} was saved after the divergence")
                bad = [k for k, v in state["model"].items() if v.is_floating_point() and not torch.isfinite(v).all()]
                if bad:
                    problems.append(f"{entry['file']} holds non-finite {bad}")
            if latest_valid(run) is not None:
                _resume_identical(launcher, run, ref, problems)
            else:
                row.count("diverged_before_the_first_checkpoint")
            _finish(row, f"{value} at step {step + 1}", problems)
            if not problems:
                shutil.rmtree(run, ignore_errors=True)
    return row


#: signal trials cycle through these kinds
SIGNAL_KINDS = ("random", "validation", "save", "second-in-save")


def signals(size: int, seed: int, workdir: Path) -> Row:
    """Scenario: SIGTERM/SIGINT at random moments, in validation, inside a save, and twice."""
    row = Row("signals", "SIGTERM or SIGINT at a random moment, after the first validation batch, in the middle of "
              "writing a checkpoint, and again in the middle of the checkpoint the first one asked for: exit "
              "128+signum (the second signal: killed by it), a resumable checkpoint, resumed runs bit-identical",
              unit="runs")
    rng = random.Random(seed)
    folder, launcher = _setup(workdir, "signals")
    with row.timed():
        ref = reference(launcher, folder, "tiny", _REFERENCES)
        spec = spec_file(folder, "tiny")
        for i in range(size):
            kind = SIGNAL_KINDS[i % len(SIGNAL_KINDS)]
            signum = rng.choice([signal.SIGTERM, signal.SIGINT])
            run = folder / f"run{i:03d}-{kind}"
            shutil.rmtree(run, ignore_errors=True)
            row.size += 1
            problems: list[str] = []
            faults: tuple[str, ...] = ()
            if kind == "validation":
                faults = (f"signal-in-validation:{int(signum)}:{rng.randrange(3)}",)
            elif kind == "save":
                faults = (f"signal-in-save:{int(signum)}:{rng.randint(1, 14)}",)
            elif kind == "second-in-save":
                faults = (f"signal-in-save:{int(signum)}:{rng.randint(1, 12)}",
                          f"signal-in-interrupt-save:{int(signum)}")
            child = launcher.start(train_argv(spec, run), faults=faults)
            if kind == "random":
                wait_for(child, run / "checkpoints" / "manifest.json")
                rest = (ref.seconds - ref.first_checkpoint) * (1 - newest_step(run) / TOTAL_STEPS)
                if sleep_or_exit(child, rng.uniform(0, max(0.05, rest))):
                    child.signal(signum)
            code = child.wait()
            expected = -signum if kind == "second-in-save" else 128 + signum
            if code == 0 and kind == "random":
                row.count("signal_arrived_after_the_end")
            elif code != expected:
                problems.append(f"exit {code}, expected {expected}: {child.output[-500:]}")
            elif code == 128 + signum and f"resume with: cnnspec train --resume {run}" not in child.output:
                problems.append("the resume command was not printed")
            if code != 0:
                if kind == "second-in-save" and temps_in(run / "checkpoints"):
                    row.count("second_signal_left_a_torn_temp_file")
                _resume_identical(launcher, run, ref, problems)
            row.count(f"{kind}_{signal.Signals(signum).name}")
            _finish(row, f"{kind} {signal.Signals(signum).name}", problems)
            if not problems:
                shutil.rmtree(run, ignore_errors=True)
    return row


def tensorboard_removed(size: int, seed: int, workdir: Path) -> Row:
    """Scenario: ``rm -r RUN/tensorboard`` while training logs to it."""
    row = Row("tensorboard-removed", "the TensorBoard directory removed at a random moment while training logs every "
              "step: one warning, training completes (exit 0) with the weights of a run without TensorBoard",
              unit="runs")
    rng = random.Random(seed)
    folder, launcher = _setup(workdir, "tensorboard-removed")
    with row.timed():
        ref = reference(launcher, folder, "tiny", _REFERENCES)
        spec = spec_file(folder, "tensorboard")
        for i in range(size):
            run = folder / f"run{i:03d}"
            shutil.rmtree(run, ignore_errors=True)
            row.size += 1
            problems: list[str] = []
            child = launcher.start(train_argv(spec, run))
            board = run / "tensorboard"
            at_step = rng.randrange(2, TOTAL_STEPS - 4)
            while newest_step(run) < at_step and child.poll() is None:  # a checkpoint every 2 steps
                time.sleep(0.002)
            removed = False
            if child.poll() is None:
                for _ in range(20):  # the writer may add a file between listing and removing
                    try:
                        shutil.rmtree(board)
                        removed = True
                        break
                    except FileNotFoundError:
                        break
                    except OSError:
                        time.sleep(0.01)
            code = child.wait()
            if not removed:
                row.count("finished_before_the_removal")
            warnings = child.output.count("TensorBoard logging to")
            if code != 0:
                problems.append(f"exit {code}: {child.output[-500:]}")
            elif removed and warnings != 1:
                problems.append(f"{warnings} TensorBoard warnings, expected exactly one: {child.output[-500:]}")
            elif final_digest(run) != ref.digest:
                problems.append("the weights differ from the run without TensorBoard")
            _finish(row, f"trial {i}", problems)
            if not problems:
                shutil.rmtree(run, ignore_errors=True)
    return row


def _own_tracebacks(out: str) -> str:
    """The output without tracebacks printed by multiprocessing's resource-sharer thread: when a worker dies
    mid-handshake that stdlib thread prints an EOFError of its own, after cnnspec's message."""
    blocks = out.split("Traceback (most recent call last):")
    kept = [blocks[0]] + [b for b in blocks[1:] if "multiprocessing/resource_sharer.py" not in b]
    return "Traceback (most recent call last):".join(kept)


def _wait_for_workers(child: Child, timeout: float = 120.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and child.poll() is None:
        workers = child.children()
        if workers:
            return workers
        time.sleep(0.005)
    return []


def _worker_trial(launcher: Launcher, spec: Path, run: Path, target: str, rng: random.Random,
                  row: Row) -> tuple[list[str], int]:
    """Kill a DataLoader worker (or the main process) of a fresh run; (problems, exit status)."""
    problems: list[str] = []
    child = launcher.start(train_argv(spec, run))
    wait_for(child, run / "checkpoints" / "manifest.json")
    workers = _wait_for_workers(child)
    if not workers:
        problems.append("no DataLoader worker was ever seen")
    else:
        victim = rng.choice(workers) if target == "worker" else child.pid
        try:
            os.kill(victim, signal.SIGKILL)
        except ProcessLookupError:
            row.count("victim_already_gone")
    code = child.wait()
    survivors, waited = wait_gone(child.pid, ORPHAN_GRACE_S)
    row.peak("max_s_until_workers_gone", waited)
    if survivors:
        problems.append(f"processes outlived the run: {survivors}")
        for pid in group_members(child.pid):
            os.kill(pid, signal.SIGKILL)
    if code == 0:
        return problems, code
    out = child.output
    if target == "main" and code != -signal.SIGKILL:
        problems.append(f"exit {code}, expected SIGKILL")
    elif target == "worker":
        row.count(f"worker_killed_exit_{code}")
        if code not in (1, 2):
            problems.append(f"exit {code}, expected a plain failure (1 or 2): {out[-500:]}")
        elif "callback '" in out or "internal error" in out or "Traceback" in _own_tracebacks(out):
            problems.append(f"the dead worker is blamed on something else: {out[-400:]}")
        elif "Traceback" in out:
            row.count("multiprocessing_thread_traceback_after_the_message")
        elif "DataLoader worker" not in out or f"--resume {run}" not in out:
            problems.append(f"the message does not name the DataLoader worker and the resume command: {out[-300:]}")
    return problems, code


def worker_faults(size: int, seed: int, workdir: Path) -> Row:
    """Scenario: a DataLoader worker SIGKILLed, or the main process SIGKILLed while workers run."""
    row = Row("dataloader-workers", "num_workers: 2: a worker SIGKILLed mid-epoch (the run stops, naming "
              "the worker and the resume command, no traceback), or the main process SIGKILLed: no worker outlives "
              "it, resuming ends bit-identical", unit="runs")
    rng = random.Random(seed)
    folder, launcher = _setup(workdir, "dataloader-workers")
    with row.timed():
        ref = reference(launcher, folder, "workers", _REFERENCES)
        spec = spec_file(folder, "workers")
        for i in range(size):
            target = "worker" if i % 2 == 0 else "main"
            row.size += 1
            for _attempt in range(3):  # a worker killed as its loader was finishing changes nothing: again
                run = folder / f"run{i:03d}-{target}"
                shutil.rmtree(run, ignore_errors=True)
                problems, code = _worker_trial(launcher, spec, run, target, rng, row)
                if code != 0:
                    break
                row.count("kill_had_no_effect_retried")
            if code != 0:
                _resume_identical(launcher, run, ref, problems)
            else:
                problems.append("the kill never stopped the run in 3 attempts")
            _finish(row, f"{target} killed", problems)
            if not problems:
                shutil.rmtree(run, ignore_errors=True)
    return row
