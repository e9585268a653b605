"""Scenario group 3: SIGKILL during training, and the negative controls that prove the check can fail.

A trial trains the tiny spec (:mod:`reliability.training`, a checkpoint
every 2 of 27 steps) and SIGKILLs it 1 to 3 times at random moments: after
its first checkpoint, at a uniformly random time within the expected rest of
the run. The first trial's first kill is placed instead: inside epoch 2,
where the RNG, optimizer and scheduler states all change the outcome.
Each restart is ``cnnspec train --resume RUN_DIR``; it must find a
loadable checkpoint, and the finished run's ``last.pt`` must be bit-identical
(model, optimizer and scheduler state) to an uninterrupted run's, with no
temporary file left anywhere in the run directory.

The controls resume after deleting one piece of state from the checkpoint
(the RNG states, the optimizer's momentum buffers, the scheduler's position)
and re-saving it through the normal, hashed save path: each must end with
*different* weights, or the comparison above could not fail. An unedited
re-save must still end identical (the editing itself changes nothing).
"""

from __future__ import annotations

import random
import shutil
import signal
import time
from pathlib import Path
from typing import Any

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

__all__ = ["CONTROLS", "EXEC_EVERY", "controls", "kill_training"]

#: every n-th trial runs fresh interpreters instead of forks (the long tier; the CI tier has fewer trials)
EXEC_EVERY = 10
_REFERENCES: dict[str, Reference] = {}


def _wait_started(child: Child, timeout: float = 300.0) -> None:
    """Until a resumed child has loaded its checkpoint (it prints ``resuming ...``) or ended."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and child.poll() is None:
        if "resuming " in child.output:
            return
        time.sleep(0.005)


def _trial(launcher: Launcher, ref: Reference, spec: Path, run: Path, planned: int, rng: random.Random,
           mode: str, row: Row, window: float, targeted: bool = False) -> tuple[int, list[str]]:
    """One trial; returns (kills delivered, problems). ``targeted``: the first kill waits for a checkpoint
    inside epoch 2, after the scheduler stepped and before its milestone, where every piece of state matters."""
    kills, problems = 0, []
    argv = train_argv(spec, run)
    manifest = run / "checkpoints" / "manifest.json"
    for _ in range(planned + 1):
        child = launcher.start(argv, mode=mode)
        if targeted and kills == 0:
            while newest_step(run) < 11 and child.poll() is None:
                time.sleep(0.002)
            child.signal(signal.SIGKILL)
        elif kills < planned:
            started = wait_for(child, manifest) if argv[1] != "--resume" else (_wait_started(child) or 0.0)
            if started is not None:
                rest = (ref.seconds - ref.first_checkpoint) * (1 - newest_step(run) / TOTAL_STEPS)
                if sleep_or_exit(child, rng.uniform(0, max(0.05, rest * window))):
                    child.signal(signal.SIGKILL)
        code = child.wait()
        if code == 0:
            break
        if code != -signal.SIGKILL:
            problems.append(f"exit {code} (expected 0 or SIGKILL): {child.output[-800:]}")
            return kills, problems
        kills += 1  # counted by how the process ended: a kill that reached a finished process is none
        if temps_in(run / "checkpoints"):
            row.count("kills_inside_a_save")
        from cnnspec.checkpoint import latest_valid

        skipped: list[str] = []
        found = latest_valid(run, on_skip=lambda p, r, skipped=skipped: skipped.append(f"{p.name}: {r}"))
        row.count("restarts")
        row.count("damaged_files_skipped", len(skipped))
        if found is None:
            problems.append(f"restart {kills} found no loadable checkpoint ({skipped})")
            return kills, problems
        row.count("restarts_with_a_checkpoint")
        argv = resume_argv(run)
    else:
        problems.append("the run did not finish")
        return kills, problems
    try:
        if final_digest(run) != ref.digest:
            if _stale_alias(run, ref):
                problems.append(f"last.pt is one save behind the manifest after {kills} kills")
            else:
                problems.append(f"final weights differ from the uninterrupted run after {kills} kills")
    except Exception as exc:
        problems.append(f"last.pt did not load: {type(exc).__name__}: {exc}")
    leftovers = temp_files(run)
    if leftovers:
        problems.append(f"temporary files left behind: {leftovers}")
    return kills, problems


def _stale_alias(run: Path, ref: Reference) -> bool:
    """last.pt differs, but the file the manifest calls last is the uninterrupted run's final state."""
    from cnnspec.checkpoint import load_checkpoint, read_manifest
    from reliability.training import digest

    manifest = read_manifest(run / "checkpoints") or {"aliases": {}}
    target = manifest["aliases"].get("last")
    return bool(target) and digest(load_checkpoint(run / "checkpoints" / target)) == ref.digest


def kill_training(size: int, seed: int, workdir: Path) -> Row:
    """Scenario: ``size`` trials of 1-3 SIGKILLs at random moments, each resumed until the run completes."""
    prepare()
    row = Row("kill-training", "cnnspec train SIGKILLed 1-3 times at random moments (checkpoint every 2 steps), "
              "resumed each time: every restart finds a loadable checkpoint, final weights bit-identical to an "
              "uninterrupted run, no temporary files left", unit="trials")
    rng = random.Random(seed)
    folder = workdir / "kill-training"
    launcher = Launcher(folder / "logs")
    with row.timed():
        ref = reference(launcher, folder, "tiny", _REFERENCES)
        spec = spec_file(folder, "tiny")
        row.numbers["reference_s"] = round(ref.seconds, 2)
        for trial in range(size):
            mode = "exec" if trial % EXEC_EVERY == EXEC_EVERY - 1 else "fork"
            planned = rng.randint(1, 3)
            row.size += 1
            window = 1.0
            for _attempt in range(4):  # a kill that missed the run (it finished first) is tried again
                run = folder / f"trial{trial:04d}"
                shutil.rmtree(run, ignore_errors=True)
                kills, problems = _trial(launcher, ref, spec, run, planned, rng, mode, row, window,
                                         targeted=trial == 0)
                if kills or problems:
                    break
                row.count("trials_repeated_no_kill_landed")
                window /= 2
            row.count(f"trials_with_{kills}_kills")
            row.count("kills", kills)
            row.count(f"{mode}_trials")
            if kills == 0:
                problems.append("no kill landed in 4 attempts")
            if problems:
                for p in problems:
                    row.lose(f"trial {trial} ({mode}, {kills} kills): {p}")
            else:
                row.hold()
            if not problems and trial >= 2:
                shutil.rmtree(run, ignore_errors=True)  # keep the disk small; failures stay for inspection
    return row


# -- negative controls ------------------------------------------------------------------------------

def _other_rng() -> dict[str, Any]:
    import random as pyrandom

    import numpy as np
    import torch

    version, internal, gauss = pyrandom.Random(12345).getstate()
    kind, keys, pos, has_gauss, cached = np.random.RandomState(12345).get_state()
    return {"torch": torch.Generator().manual_seed(12345).get_state(),
            "python": [version, list(internal), gauss],
            "numpy": {"kind": str(kind), "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                      "has_gauss": int(has_gauss), "cached_gaussian": float(cached)}}


def _drop(kind: str, state: dict[str, Any]) -> None:
    if kind == "rng":
        state["rng"] = _other_rng()
    elif kind == "optimizer":
        state["optimizer"] = {"state": {}, "param_groups": state["optimizer"]["param_groups"]}
    elif kind == "scheduler":
        state["scheduler"] = None


#: control -> whether the resumed run must still equal the uninterrupted one
CONTROLS = {"rng": False, "optimizer": False, "scheduler": False, "identity": True}


def controls(size: int, seed: int, workdir: Path) -> Row:
    """Scenario: resume without RNG / optimizer / scheduler state must fail the bit-identical comparison."""
    prepare()
    from cnnspec.checkpoint import latest_valid, save_checkpoint, trainer_state
    from cnnspec.spec import load_spec

    row = Row("kill-controls", "negative controls: SIGKILL in epoch 2, then resume with the RNG states replaced, "
              "the optimizer's momentum dropped or the scheduler's state dropped (re-saved through the hashed "
              "save path): the final weights must differ; an unedited re-save must still match", unit="controls")
    folder = workdir / "kill-controls"
    launcher = Launcher(folder / "logs")
    kinds = list(CONTROLS)
    with row.timed():
        ref = reference(launcher, folder, "tiny", _REFERENCES)
        spec = spec_file(folder, "tiny")
        for i in range(size):
            kind = kinds[i % len(kinds)]
            row.size += 1
            run = folder / f"control{i:03d}-{kind}"
            shutil.rmtree(run, ignore_errors=True)
            child = launcher.start(train_argv(spec, run))
            while newest_step(run) < 11 and child.poll() is None:  # inside epoch 2: the scheduler has stepped
                time.sleep(0.002)
            child.signal(signal.SIGKILL)
            child.wait()
            found = latest_valid(run)
            if found is None or int(found[1]["meta"]["step"]) < 10:
                row.lose(f"{kind}: no checkpoint from epoch 2 to edit ({None if found is None else found[0]})")
                continue
            path, checkpoint = found
            state = trainer_state(checkpoint)
            _drop(kind, state)
            save_checkpoint(path.parent, path.name, state, meta=checkpoint["meta"],
                            spec=load_spec(checkpoint["spec"]), aliases=["last"])
            resumed = launcher.run(resume_argv(run))
            if resumed.returncode != 0:
                row.lose(f"{kind}: the resumed run failed ({resumed.returncode}): {resumed.output[-500:]}")
                continue
            same = final_digest(run) == ref.digest
            row.count(f"{kind}_{'identical' if same else 'different'}")
            if same == CONTROLS[kind]:
                row.hold()
            else:
                row.lose(f"{kind}: the resumed run was {'identical' if same else 'different'}; expected "
                         f"{'identical' if CONTROLS[kind] else 'different'}")
    return row
