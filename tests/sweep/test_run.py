"""Sweeps that train (digits, 1-2 epochs): the study agrees with the run directories it points at."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from optuna.trial import TrialState
from scipy.stats import ttest_ind

from cnnspec.cli import main
from tests.sweep.conftest import TINY, final, load_study


def test_a_grid_with_seeds_scores_each_point_by_its_mean(tiny, tmp_path, sweep):
    code, out, err = sweep(tiny, "--dir", "s", "--sweep", "train.optimizer.sgd.lr=choice(0.02, 0.2)",
                           "--sweep", "seed=range(3)")
    assert code == 0, err
    study = load_study(tmp_path / "s")
    trials = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(trials) == 2 == len(study.trials)
    for trial in trials:
        runs = [Path(r["run_dir"]) for r in trial.user_attrs["cnnspec.seeds"]]
        assert [r.name for r in runs] == ["seed-0", "seed-1", "seed-2"]
        values = [final(r)["val_loss"] for r in runs]
        assert trial.value == pytest.approx(np.mean(values), rel=1e-12)
        assert trial.user_attrs["cnnspec.std"] == pytest.approx(np.std(values, ddof=1), rel=1e-9)
        for seed, run in enumerate(runs):
            assert yaml.safe_load((run / "spec.yaml").read_text())["seed"] == seed
            assert json.loads((run / "env.json").read_text())["seed"] == seed
        # each run's curve is what the trial was told, epoch by epoch
        first = [json.loads(x)["val_loss"] for x in (runs[0] / "metrics.jsonl").read_text().splitlines()]
        assert [trial.intermediate_values[s] for s in sorted(trial.intermediate_values)] == first

    code, out, _ = sweep("--status", "s", "--format", "json")
    status = json.loads(out)
    best, other = status["trials"]
    assert best["rank"] == 1 and best["value"] <= other["value"]
    assert other["p_vs_best"] == pytest.approx(ttest_ind(best["values"], other["values"], equal_var=False).pvalue)
    assert status["counts"] == {"completed": 2}

    code, out, _ = sweep("--status", "s")
    assert "each point trained with seed in [0, 1, 2]: mean ± std" in out
    assert "train.optimizer.sgd.lr: 0.05 -> 0.2" in out and "train.optimizer.sgd.lr: 0.05 -> 0.02" in out
    assert ("within noise" in out) == (other["p_vs_best"] >= 0.05)

    import matplotlib.image

    for name in ("objective_vs_train.optimizer.sgd.lr.png", "parallel_coordinates.png"):
        picture = matplotlib.image.imread(tmp_path / "s" / "plots" / name)
        assert picture.ndim == 3 and min(picture.shape[:2]) > 200

    # the best spec is a plain spec that trains alone, the same spec as the best trial's first seed
    text = (tmp_path / "s" / "best.yaml").read_text()
    assert "sweep" not in yaml.safe_load(text)
    assert main(["train", str(tmp_path / "s" / "best.yaml"), "--run-dir", str(tmp_path / "again")]) == 0
    fingerprint = json.loads((tmp_path / "again" / "env.json").read_text())["spec_fingerprint"]
    best_run = Path(best["directory"]) / "seed-0"
    assert fingerprint == json.loads((best_run / "env.json").read_text())["spec_fingerprint"]


def test_pruning_stops_poor_trials_after_an_epoch(tmp_path, sweep):
    spec = tmp_path / "spec.yaml"
    spec.write_text(TINY.replace("epochs: 1", "epochs: 3") + "sweep:\n"
                    "  space: {train.optimizer.sgd.lr: [0.2, 0.00001]}\n"
                    "  objective: {metric: val_acc}\n"
                    "  pruner: {median: {n_startup_trials: 1, n_warmup_steps: 0}}\n")
    code, out, err = sweep(spec, "--dir", "s")
    assert code == 0, err
    study = load_study(tmp_path / "s")
    good, poor = study.trials
    assert good.state == TrialState.COMPLETE and poor.state == TrialState.PRUNED
    history = [json.loads(x) for x in (Path(poor.user_attrs["cnnspec.dir"]) / "metrics.jsonl").read_text().splitlines()]
    assert len(history) == 1 and poor.intermediate_values == {1: history[0]["val_acc"]}
    assert final(poor.user_attrs["cnnspec.dir"])["stop_reason"].startswith("pruned by the sweep after epoch 1")
    assert "pruned after epoch 1" in out


def test_tpe_with_a_conditional_space_trains_exactly_the_budget_and_extends(tiny, tmp_path, sweep):
    args = [tiny, "--dir", "s", "--sweep", "train.optimizer=choice(sgd, adam)",
            "--sweep", "train.optimizer.sgd.momentum=uniform(0, 0.95)", "--sampler", "tpe"]
    code, _, err = sweep(*args, "--trials", "5")
    assert code == 0, err
    study = load_study(tmp_path / "s")
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 5
    for trial in study.trials:
        written = yaml.safe_load((Path(trial.user_attrs["cnnspec.dir"]) / "spec.yaml").read_text())
        if trial.params["train.optimizer"] == "adam":
            assert "train.optimizer.sgd.momentum" not in trial.params
            assert trial.user_attrs["cnnspec.inactive"] == ["train.optimizer.sgd.momentum"]
            assert written["train"]["optimizer"] == "adam"
        else:
            assert written["train"]["optimizer"] == {"sgd": {"momentum": trial.params["train.optimizer.sgd.momentum"]}}
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "s" / "trials").rglob("final.json")}
    code, _out, err = sweep(*args, "--trials", "7")  # the same sweep, a larger budget: two more
    assert code == 0, err
    assert len(load_study(tmp_path / "s").get_trials(states=(TrialState.COMPLETE,))) == 7
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items())


def test_invalid_points_are_reported_and_never_trained(tiny, tmp_path, sweep):
    code, out, err = sweep(tiny, "--dir", "s", "--sweep", "model[0].conv2d.kernel_size=int(7, 12)",
                           "--sampler", "random", "--trials", "3")
    assert code == 0, err
    study = load_study(tmp_path / "s")
    invalid = [t for t in study.trials if t.user_attrs.get("cnnspec.outcome") == "invalid"]
    trained = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert len(trained) == 3 and invalid  # seed 0 of the sampler draws 11 or 12 early
    for t in invalid:
        assert t.params["model[0].conv2d.kernel_size"] >= 10  # 10 leaves 1x1 for the 2x2 pooling
        assert "cnnspec.dir" not in t.user_attrs
        assert "output height would be" in t.user_attrs["cnnspec.error"]
    assert "invalid, skipped: --sweep[0]:1:1: model[0] conv2d 'conv1': output height would be" in out
    assert {p.name for p in (tmp_path / "s" / "trials").iterdir()} == {f"{t.number:04d}" for t in trained}


def test_a_lost_trial_runs_again_and_finished_ones_are_kept(tiny, tmp_path, sweep):
    """A trial whose process is gone (a pid that exited) is failed as lost and its point re-run."""
    args = [tiny, "--dir", "s", "--sweep", "train.optimizer.sgd.lr=choice(0.01, 0.02, 0.05)"]
    code, _, err = sweep(*args, "--sampler", "grid", "--trials", "2")  # two of the three grid points
    assert code == 0, err
    study = load_study(tmp_path / "s")
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "s" / "trials").rglob("final.json")}
    # the third point claimed by a process that no longer exists, as kill -9 leaves it
    from cnnspec.sweep.liveness import host_id

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    claimed = study.ask()
    params = claimed.user_attrs["cnnspec.params"]
    claimed.set_user_attr("cnnspec.worker", {"host": host_id(), "pid": int(dead.stdout), "start": "1", "beat": 0})
    code, out, err = sweep(*args)
    assert code == 0, err
    assert f"trial {claimed.number} was lost (its process is gone); its point runs again" in out
    study = load_study(tmp_path / "s")
    lost = study.trials[claimed.number]
    assert lost.state == TrialState.FAIL and lost.user_attrs["cnnspec.outcome"] == "lost"
    rerun = next(t for t in study.trials if t.user_attrs.get("cnnspec.retry_of") == claimed.number)
    assert rerun.state == TrialState.COMPLETE and rerun.params == params
    done = [t.params["train.optimizer.sgd.lr"] for t in study.trials if t.state == TrialState.COMPLETE]
    assert sorted(done) == [0.01, 0.02, 0.05]  # every grid point once
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items())
    code, out, _ = sweep("--status", "s")
    assert f"lost (its process was gone); ran again as trial {rerun.number}" in out


def test_a_mistake_of_every_trial_stops_the_first_and_keeps_nothing(tiny, tmp_path, sweep):
    code, _, err = sweep(tiny, "--dir", "s", "--sweep", "train.optimizer.sgd.lr=choice(0.1, 0.2)",
                           "--set", "~data.val_split")
    assert code == 2
    assert f"{tiny}:10:7: objective val_loss: the runs have no validation split" in err
    assert "nothing was trained; the sweep was not kept" in err
    assert not (tmp_path / "s").exists()
    code, _out, err = sweep(tiny, "--dir", "s", "--sweep", "train.optimizer.sgd.lr=choice(0.1, 0.2)",
                           "--set", "~data.val_split", "--objective", "train_loss")
    assert code == 0, err


def test_liveness_of_a_trials_worker():
    from datetime import datetime, timezone

    from cnnspec.sweep.liveness import host_id, is_alive, worker_record

    me = worker_record()
    assert is_alive(me, None)
    assert not is_alive({**me, "start": "not-this-process"}, None)  # the pid now belongs to another process
    elsewhere = {**me, "host": "other/host"}
    assert is_alive(elsewhere, None, stale_after=60, now=me["beat"] + 59)
    assert not is_alive(elsewhere, None, stale_after=60, now=me["beat"] + 61)
    started = datetime.now(timezone.utc)
    assert is_alive(None, started, stale_after=60) and not is_alive(None, started, stale_after=60,
                                                                     now=started.timestamp() + 61)
    assert host_id().count("/") == 1 and os.getpid() == me["pid"]


def test_each_job_gets_its_share_of_cpus_and_a_gpu_in_turn(monkeypatch):
    from cnnspec.sweep.parallel import worker_environment

    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    envs = [worker_environment(i, 4, device=None, threads_set=False, gpus=2) for i in range(4)]
    assert [e["CUDA_VISIBLE_DEVICES"] for e in envs] == ["0", "1", "0", "1"]
    assert {e["OMP_NUM_THREADS"] for e in envs} == {"4"}
    assert "CUDA_VISIBLE_DEVICES" not in worker_environment(0, 2, device="cpu", threads_set=False, gpus=2)
    kept = worker_environment(0, 2, device=None, threads_set=True, gpus=0)  # train.threads decides
    assert kept.get("OMP_NUM_THREADS") == os.environ.get("OMP_NUM_THREADS")


def test_json_output_is_one_object_on_stdout(tiny, sweep):
    code, out, err = sweep(tiny, "--dir", "s", "--sweep", "train.optimizer.sgd.lr=choice(0.05, 0.1)",
                           "--format", "json")
    assert code == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 1  # the plan and the per-trial lines went to stderr
    result = json.loads(lines[0])
    assert result["counts"] == {"completed": 2} and result["best"]["rank"] == 1
    assert Path(result["best_spec"]).is_file() and len(result["plots"]) == 2
    assert "trial 0  lr=0.05" in err
