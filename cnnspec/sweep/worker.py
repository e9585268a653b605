"""The worker loop: claim a trial, run it, tell the study; until the budget is spent.

Any number of workers — ``--jobs`` processes on one machine, ``cnnspec sweep``
on other machines — run this same loop against one study; the storage is the
only thing they share. Each turn a worker

1. finds lost trials (:func:`~cnnspec.sweep.liveness.recover_lost`) and
   enqueues their points again;
2. stops if the budget is spent: completed, pruned, diverged and failed
   trials count, and running ones; invalid points (never trained), lost and
   interrupted trials (run again) do not;
3. asks the study for a trial — an enqueued point first (a grid point, a
   lost trial's point), else the sampler's next one. Trial numbers come from
   the storage in order, so when two workers claim the last slot at once the
   higher number sees the lower one running and stands down: the budget is
   exact on any number of machines;
4. runs it (:func:`~cnnspec.sweep.trial.run_trial`) with a heartbeat, and
   tells the study how it ended.

A mistake every trial would repeat (the objective is not reported, the
dataset cannot be read) fails the first trial and stops the sweep with the
located message, before anything else trains.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from cnnspec.exceptions import CnnspecError, SweepError
from cnnspec.render import render_error
from cnnspec.sweep.liveness import STALE_AFTER_S, Heartbeat, recover_lost, worker_record
from cnnspec.sweep.plan import Plan
from cnnspec.sweep.trial import Launcher, TrialResult, run_trial
from cnnspec.sweep.variants import Variants

__all__ = ["MAX_INVALID_IN_A_ROW", "UNCOUNTED", "Worker", "WorkerSummary", "budget_used"]

ATTR = "cnnspec."
#: outcomes that do not use up the trial budget: nothing was trained, or the point runs again
UNCOUNTED = ("invalid", "lost", "interrupted", "surplus")
#: a worker that samples this many invalid points in a row stops
MAX_INVALID_IN_A_ROW = 50


def budget_used(trials: list[Any], me: int | None = None) -> int:
    """Trials that count against the budget; with ``me``, running trials numbered below it only."""
    from optuna.trial import TrialState

    used = 0
    for t in trials:
        if t.number == me or t.state == TrialState.WAITING:
            continue
        if t.state == TrialState.RUNNING:
            used += me is None or t.number < me
        elif t.user_attrs.get(ATTR + "outcome") not in UNCOUNTED:
            used += 1
    return used


@dataclass
class WorkerSummary:
    """What one worker did."""

    ran: dict[str, int] = field(default_factory=dict)
    interrupted: str | None = None


class Worker:
    """Runs trials of ``study`` until the plan's budget is used up."""

    def __init__(self, study: Any, *, variants: Variants, plan: Plan, directory: Path, launcher: Launcher,
                 label: str = "", out: TextIO | None = None, stale_after: float = STALE_AFTER_S,
                 describe: Callable[[TrialResult, Any], str] | None = None) -> None:
        self.study = study
        self.variants = variants
        self.plan = plan
        self.directory = directory
        self.launcher = launcher
        self.label = label
        self.out = out or sys.stdout
        self.stale_after = stale_after
        self.describe = describe
        self.summary = WorkerSummary()

    def say(self, text: str) -> None:
        self.out.write(f"{self.label}{text}\n")
        self.out.flush()

    def run(self) -> WorkerSummary:
        invalid_in_a_row = 0
        while True:
            for number in recover_lost(self.study, stale_after=self.stale_after):
                self.say(f"trial {number} was lost (its process is gone); its point runs again")
            trials = self.study.get_trials(deepcopy=False)
            if budget_used(trials) >= self.plan.trials:
                break
            if self.plan.sampler == "grid" and not _waiting(trials):
                break
            trial = self.study.ask()
            trial.set_user_attr(ATTR + "worker", worker_record())  # at once: a kill from here on is found lost
            if self._surplus(trial):
                break
            result = self._run(trial)
            self.summary.ran[result.outcome] = self.summary.ran.get(result.outcome, 0) + 1
            if result.outcome == "interrupted":
                self.summary.interrupted = result.stop_reason or "interrupted"
                break
            invalid_in_a_row = invalid_in_a_row + 1 if result.outcome == "invalid" else 0
            if invalid_in_a_row >= MAX_INVALID_IN_A_ROW:
                self._too_many_invalid()
                break
        return self.summary

    def _surplus(self, trial: Any) -> bool:
        """Stand down when the budget is spent by lower-numbered trials, or a grid has no point left."""
        from optuna.trial import TrialState

        grid_done = self.plan.sampler == "grid" and ATTR + "params" not in trial.user_attrs
        if not grid_done and budget_used(self.study.get_trials(deepcopy=False), trial.number) < self.plan.trials:
            return False
        trial.set_user_attr(ATTR + "outcome", "surplus")
        self.study.tell(trial, state=TrialState.PRUNED)
        return True

    def _run(self, trial: Any) -> TrialResult:
        started = time.monotonic()
        try:
            with Heartbeat(trial):
                result = run_trial(trial, variants=self.variants, plan=self.plan, directory=self.directory,
                                   launcher=self.launcher)
        except KeyboardInterrupt:
            result = TrialResult("interrupted", stop_reason="interrupted")
            self._finish(trial, result, time.monotonic() - started)
            raise
        except CnnspecError as exc:
            self._finish(trial, TrialResult("failed", message=render_error(exc)), time.monotonic() - started)
            if isinstance(exc, SweepError) or not self._any_completed():
                raise
            return TrialResult("failed", message=render_error(exc))
        except Exception as exc:
            self._finish(trial, TrialResult("failed", message=f"{type(exc).__name__}: {exc}"),
                         time.monotonic() - started)
            if not self._any_completed():
                raise
            return TrialResult("failed", message=f"{type(exc).__name__}: {exc}")
        self._finish(trial, result, time.monotonic() - started)
        return result

    def _any_completed(self) -> bool:
        from optuna.trial import TrialState

        return bool(self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))

    def _finish(self, trial: Any, result: TrialResult, seconds: float) -> None:
        """Record the result on the trial, tell the study, print one line."""
        from optuna.trial import TrialState

        trial.set_user_attr(ATTR + "outcome", result.outcome)
        trial.set_user_attr(ATTR + "seconds", round(seconds, 3))
        if result.message:
            trial.set_user_attr(ATTR + "error", result.message)
        if result.stop_reason:
            trial.set_user_attr(ATTR + "stop_reason", result.stop_reason)
        if result.std is not None:
            trial.set_user_attr(ATTR + "std", result.std)
        if result.outcome == "completed":
            self.study.tell(trial, result.value)
        elif result.outcome in ("pruned", "invalid"):
            # pruned without a value: samplers (TPE) rank an invalid point below every trained one
            self.study.tell(trial, state=TrialState.PRUNED)
        else:
            self.study.tell(trial, state=TrialState.FAIL)
        if result.outcome == "interrupted":  # the point runs again, first, when the sweep resumes
            params = {**trial.user_attrs.get(ATTR + "params", {}), **trial.params}
            self.study.enqueue_trial(params, user_attrs={ATTR + "params": params, ATTR + "retry_of": trial.number})
        if self.describe is not None:
            self.say(self.describe(result, _frozen(self.study, trial)))

    def _too_many_invalid(self) -> None:
        from optuna.trial import TrialState

        valid = [t for t in self.study.get_trials(deepcopy=False)
                 if t.state != TrialState.WAITING and t.user_attrs.get(ATTR + "outcome") != "invalid"]
        if not valid:
            raise SweepError(f"the space produces only invalid specs: the first {MAX_INVALID_IN_A_ROW} points "
                             "sampled were all invalid", hint="cnnspec sweep --status DIR lists their errors")
        self.say(f"stopping: {MAX_INVALID_IN_A_ROW} points in a row were invalid specs")


def _waiting(trials: list[Any]) -> bool:
    from optuna.trial import TrialState

    return any(t.state == TrialState.WAITING for t in trials)


def _frozen(study: Any, trial: Any) -> Any:
    trials = study.get_trials(deepcopy=False)
    if trial.number < len(trials) and trials[trial.number].number == trial.number:
        return trials[trial.number]
    return next((t for t in trials if t.number == trial.number), None)
