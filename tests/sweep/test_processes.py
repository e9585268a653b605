"""Real processes: two sweeps sharing one study file, kill -9 and resume, --jobs, torchrun trials."""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pytest
from optuna.trial import TrialState

from tests.sweep.conftest import TINY, cli, load_study

GRID = "train.optimizer.sgd.lr=choice(0.01, 0.02, 0.03, 0.05, 0.07, 0.1, 0.15, 0.2)"


def _wait(procs, timeout=300):
    outs = []
    for proc in procs:
        out, err = proc.communicate(timeout=timeout)
        outs.append((proc.returncode, out, err))
    return outs


def _completed_once(study, points: int) -> list:
    done = [t for t in study.trials if t.state == TrialState.COMPLETE]
    values = sorted(t.params["train.optimizer.sgd.lr"] for t in done)
    assert len(done) == points and len(set(values)) == points, values
    assert not [t for t in study.trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    return done


def test_two_processes_share_one_journal_file(tmp_path):
    """Two `cnnspec sweep` commands, as two machines would run them, against one Optuna journal file."""
    (tmp_path / "tiny.yaml").write_text(TINY.replace("epochs: 1", "epochs: 3"))
    journal = tmp_path / "shared" / "study.log"
    journal.parent.mkdir()
    procs = [cli("sweep", "tiny.yaml", "--sweep", GRID, "--storage", f"journal:{journal}", "--dir", f"machine{i}",
                 cwd=tmp_path) for i in (1, 2)]
    for code, out, err in _wait(procs):
        assert code == 0, err
        assert "study in journal:" in out
    study = load_study(tmp_path, storage=_journal(journal))
    done = _completed_once(study, 8)
    workers = {t.user_attrs["cnnspec.worker"]["pid"] for t in done}
    assert len(workers) == 2  # both took part
    for t in done:  # each trial's run directory is under the directory of the process that ran it
        assert Path(t.user_attrs["cnnspec.dir"]).parent.parent.name in ("machine1", "machine2")
    # either directory shows the whole study
    status = cli("sweep", "--status", "machine2", cwd=tmp_path)
    code, out, err = _wait([status])[0]
    assert code == 0 and "8 trials: 8 completed" in out


def _journal(path: Path):
    import optuna
    from optuna.storages.journal import JournalFileBackend

    return optuna.storages.JournalStorage(JournalFileBackend(str(path)))


def test_a_sweep_killed_mid_trial_resumes_with_the_same_command(tmp_path):
    (tmp_path / "tiny.yaml").write_text(TINY.replace("epochs: 1", "epochs: 15"))
    args = ("sweep", "tiny.yaml", "--sweep", "train.optimizer.sgd.lr=choice(0.02, 0.05, 0.1)", "--dir", "s")
    proc = cli(*args, cwd=tmp_path)
    second = tmp_path / "s" / "trials" / "0001" / "metrics.jsonl"
    deadline = time.monotonic() + 240
    while not second.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    first = tmp_path / "s" / "trials" / "0000" / "final.json"
    stamp = first.stat().st_mtime_ns
    code, _, err = _wait([cli(*args, cwd=tmp_path)])[0]
    assert code == 0, err
    study = load_study(tmp_path / "s")
    lost = [t for t in study.trials if t.user_attrs.get("cnnspec.outcome") == "lost"]
    assert [t.number for t in lost] == [1] or (not lost and study.trials[1].state == TrialState.COMPLETE)
    done = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert sorted(t.params["train.optimizer.sgd.lr"] for t in done) == [0.02, 0.05, 0.1]
    assert first.stat().st_mtime_ns == stamp  # the finished trial was kept, not run again


@pytest.mark.slow
def test_jobs_killed_at_random_moments_finish_every_point_once(tmp_path):
    """--jobs 2 on the default SQLite study; the whole process group killed -9 again and again."""
    (tmp_path / "tiny.yaml").write_text(TINY.replace("epochs: 1", "epochs: 25"))
    args = ("sweep", "tiny.yaml", "--sweep", GRID, "--jobs", "2", "--dir", "s")
    rng = random.Random(7)
    stamps: dict[Path, int] = {}
    kills = 0
    for _ in range(5):
        proc = cli(*args, cwd=tmp_path, start_new_session=True)
        time.sleep(rng.uniform(4, 10))
        if proc.poll() is not None:
            break
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        kills += 1
        for path in (tmp_path / "s" / "trials").rglob("final.json"):
            stamps.setdefault(path, path.stat().st_mtime_ns)
    code, _out, err = _wait([cli(*args, cwd=tmp_path)])[0]
    assert code == 0, err
    study = load_study(tmp_path / "s")
    _completed_once(study, 8)
    lost = [t for t in study.trials if t.user_attrs.get("cnnspec.outcome") == "lost"]
    assert kills >= 2 and lost, (kills, len(lost))  # the kills did land mid-trial
    for path, stamp in stamps.items():  # a trial that had finished was never run again
        assert path.stat().st_mtime_ns == stamp, path


@pytest.mark.slow
def test_each_trial_can_be_a_torchrun_job(tmp_path):
    (tmp_path / "tiny.yaml").write_text(TINY.replace("epochs: 1", "epochs: 2"))
    code, _out, err = _wait([cli("sweep", "tiny.yaml", "--sweep", "train.optimizer.sgd.lr=choice(0.05, 0.1)",
                                "--nproc-per-trial", "2", "--pruner", "median", "--dir", "s", cwd=tmp_path)])[0]
    assert code == 0, err
    import json

    study = load_study(tmp_path / "s")
    for trial in study.trials:
        run = Path(trial.user_attrs["cnnspec.dir"])
        assert json.loads((run / "env.json").read_text())["world_size"] == 2
        history = [json.loads(x)["val_loss"] for x in (run / "metrics.jsonl").read_text().splitlines()]
        assert [trial.intermediate_values[s] for s in sorted(trial.intermediate_values)] == history  # rank 0 told
        assert trial.value == history[-1]
