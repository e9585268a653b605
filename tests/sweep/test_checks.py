"""Bad input: each a located message, exit 2, and nothing trained (no trial directory, no study)."""

from __future__ import annotations

import pytest

from tests.sweep.conftest import TINY

LR = "train.optimizer.sgd.lr=choice(0.1, 0.2)"


@pytest.mark.parametrize(("args", "expected"), [
    (["--sweep", "train.optimizer.sgd.lrr=choice(0.1, 0.2)"],
     "--sweep[0]:1:1: train.optimizer.sgd.lrr: SGD has no argument 'lrr': unknown argument 'lrr'; did you mean 'lr'?"),
    (["--sweep", "trian.epochs=choice(1, 2)"], "--sweep[0]:1:1: unknown top-level key 'trian'; did you mean 'train'?"),
    (["--sweep", LR, "--sweep", "model[0].conv2d.out_chanels=choice(4, 8)"],
     "--sweep[1]:1:1: model[0] conv2d: unknown argument 'out_chanels'; did you mean 'out_channels' or 'in_channels'?"),
    (["--sweep", "model[9].conv2d.out_channels=choice(4, 8)"],
     "--sweep[0]:1:1: model[9].conv2d.out_channels: there is no 9 in model"),
    (["--sweep", "train.optimizer.adam.lr=choice(0.1, 0.2)"],
     "--sweep[0]:1:1: train.optimizer.adam.lr: train.optimizer is sgd here, not adam"),
    (["--sweep", "vars.width=choice(4, 8)"],
     "--sweep[0]:1:1: vars.width: every value tried gives the same spec; sweeping it changes nothing"),
    (["--sweep", "lr=loguniform(0, 1)"], "--sweep[0]:1:15: lr=loguniform(0, 1): loguniform needs 0 < LOW"),
    (["--sweep", "train.optimizer.sgd.lr=uniform(0.1, 0.2)", "--sampler", "grid"],
     "--sweep[0]:1:1: train.optimizer.sgd.lr: a grid lists values, and uniform(0.1, 0.2) is continuous"),
    (["--sweep", LR, "--objective", "val_acc2"],
     "--objective:1:1: objective: no run reports a metric 'val_acc2'; did you mean 'val_acc'?"),
    (["--sweep", LR, "--pruner", "medain"], "--pruner:1:1: pruner: unknown pruner 'medain'; did you mean 'median'?"),
    (["--sweep", "seed=uniform(0, 4)"], "--sweep[0]:1:1: seed: the seed axis lists whole numbers"),
    (["--sweep", "model[0].conv2d.kernel_size=choice(11, 12)"],
     "--sweep[0]:1:1: model[0].conv2d.kernel_size=11: model[0] conv2d 'conv1': output height would be 0"),
    (["--sweep", "model[0].conv2d.kernel_size=choice(9, 10)", "--sweep", "model[2].maxpool2d.kernel_size=choice(3, 4)"],
     "error: the space produces only invalid specs: all 4 points tried are invalid; the most common problem (4 of 4):"
     "\n--sweep[1]:1:1: model[2] maxpool2d 'pool1': output height would be 0"),
    (["--sweep", LR, "--storage", "postgresql://me:secret@localhost:1/db"],
     "error: --storage postgresql://me:***@localhost:1/db: cannot open the study storage"),
    (["--sweep", LR, "--storage", "nosuchdialect://x"], "error: --storage nosuchdialect://x: cannot open the study"),
    (["--sweep", LR, "--storage", "/no/such/dir/study.db"],
     "error: --storage sqlite:////no/such/dir/study.db: cannot open the study storage: no such directory: "
     "/no/such/dir"),
    (["--sweep", LR, "--storage", "journal:/no/such/dir/study.log"],
     "error: --storage journal:/no/such/dir/study.log: cannot open the study storage"),
    (["--sweep", LR, "--storage", "just-a-name"], "error: --storage just-a-name: not a storage this can open"),
    (["--sweep", LR, "--jobs", "0"], "error: --jobs must be >= 1, got 0"),
])
def test_bad_input_is_a_located_message_and_nothing_trains(tiny, tmp_path, sweep, args, expected):
    code, _, err = sweep(tiny, "--dir", tmp_path / "s", *args)
    assert code == 2, err
    assert expected in err, err
    assert "Traceback" not in err
    assert not (tmp_path / "s" / "trials").exists()
    assert not (tmp_path / "s" / "study.db").exists() or "storage" in " ".join(args)


def test_a_study_of_another_spec_is_refused_with_the_diff(tiny, tmp_path, sweep):
    code, _, err = sweep(tiny, "--dir", tmp_path / "s", "--sweep", LR, "--epochs", "1")
    assert code == 0, err
    trained = sorted((tmp_path / "s" / "trials").iterdir())
    code, _, err = sweep(tiny, "--dir", tmp_path / "s", "--sweep", LR, "--epochs", "2")
    assert code == 2
    assert "error: the study 'tiny' holds a sweep of" in err and "base spec: train.epochs: 1 -> 2" in err
    code, _, err = sweep(tiny, "--dir", tmp_path / "s", "--sweep", "train.optimizer.sgd.lr=choice(0.1, 0.3)")
    assert code == 2 and 'space: [{"distribution": "choice(0.1, 0.2)"' in err
    code, _, err = sweep(tiny, "--dir", tmp_path / "s", "--sweep", LR, "--study", "other")
    assert code == 2 and "belongs to the study 'tiny', not 'other'" in err
    assert sorted((tmp_path / "s" / "trials").iterdir()) == trained  # nothing more was trained


def test_check_prints_the_plan_and_trains_nothing(tiny, tmp_path, sweep):
    code, out, err = sweep(tiny, "--dir", tmp_path / "s", "--check", "--sweep", "seed=range(3)",
                           "--sweep", "model[0].conv2d.kernel_size=choice(3, 5, 11)")
    assert code == 0, err
    assert out.splitlines()[:4] == [
        "sweep tiny: 1 dimension, grid, 3 trials x 3 seeds; objective val_loss (minimize)",
        "  model[0].conv2d.kernel_size  choice(3, 5, 11)",
        "  seed                         0, 1, 2 (every point, each seed)",
        "  2 of 3 grid points are valid specs",
    ]
    assert "warning: model[0].conv2d.kernel_size=11 never gives a valid spec" in err
    assert out.rstrip().endswith("check: ok, nothing trained")
    assert not (tmp_path / "s").exists()


def test_the_spec_section_is_read_and_located(tmp_path, sweep):
    spec = tmp_path / "spec.yaml"
    spec.write_text(TINY + 'sweep:\n  space:\n    train.optimizer.sgd.lr: "loguniform(1e-4, 0)"\n')
    code, _, err = sweep(spec, "--check")
    assert code == 2
    assert err.startswith(f"{spec}:14:41: sweep.space train.optimizer.sgd.lr: loguniform needs LOW < HIGH, "
                          "got 0.0001 and 0")
    spec.write_text(TINY + "sweep:\n  space:\n    train.optimizer.sgd.lr: [0.1, 0.2]\n"
                           "    model[0].conv2d.out_chanels: choice(4, 8)\n  objective: {metric: val_acc}\n")
    code, _, err = sweep(spec, "--check")
    assert code == 2
    assert err.startswith(f"{spec}:15:34: model[0] conv2d: unknown argument 'out_chanels'")
