"""Atomic saves, the manifest, and detection of torn or altered files."""

from __future__ import annotations

import errno
import json
import os
import random
import re
from pathlib import Path

import pytest
import torch

from cnnspec import checkpoint as ck
from cnnspec.checkpoint import atomic


def _state(seed: int) -> dict:
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Flatten(),
                                torch.nn.Linear(4 * 6 * 6, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(torch.randn(2, 1, 8, 8)).sum().backward()
    opt.step()
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt)
    return {"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
            "rng": {"torch": torch.get_rng_state(), "python": [3, list(range(5)), None]},
            "history": [{"train_loss": 1.5, "val_acc": None}]}


def _assert_same(a, b) -> None:
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _assert_same(x, y)
    else:
        assert a == b


def _temps(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith(atomic.TMP_PREFIX))


def test_roundtrip_with_manifest_and_aliases(tmp_path: Path) -> None:
    state = _state(0)
    entry = ck.save_checkpoint(tmp_path, "epoch000-step0000010.pt", state,
                               meta={"epoch": 0, "step": 10, "metrics": {"val_loss": torch.tensor(0.5),
                                                                          "train_loss": float("nan")}},
                               aliases=["last"])
    loaded = ck.load_checkpoint(tmp_path / "last.pt")
    _assert_same(state, ck.trainer_state(loaded))
    assert loaded["cnnspec"]["format"] == ck.FORMAT and loaded["meta"]["step"] == 10
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["aliases"] == {"last": "epoch000-step0000010.pt"}
    (listed,) = manifest["checkpoints"]
    data = (tmp_path / "epoch000-step0000010.pt").read_bytes()
    import hashlib

    assert listed == entry and listed["sha256"] == hashlib.sha256(data).hexdigest() and listed["size"] == len(data)
    assert listed["metrics"] == {"val_loss": 0.5, "train_loss": None}  # JSON-safe copy
    assert os.path.samefile(tmp_path / "last.pt", tmp_path / "epoch000-step0000010.pt")
    assert _temps(tmp_path) == []
    # what users do by hand: plain torch.load with weights_only=True gives the model's state dict
    plain = torch.load(tmp_path / "last.pt", weights_only=True)
    _assert_same(state["model"], plain["model"])


def test_spec_and_fingerprint_are_stored(tmp_path: Path) -> None:
    from cnnspec.spec import load_spec

    spec = load_spec({"name": "tiny", "input": [1, 8, 8], "model": ["flatten", {"linear": {"out_features": 3}}]})
    ck.save_checkpoint(tmp_path, "a.pt", {"x": torch.ones(1)}, spec=spec)
    loaded = ck.load_checkpoint(tmp_path / "a.pt")
    assert loaded["spec"] == spec.to_dict() and loaded["fingerprint"] == spec.fingerprint()
    assert ck.read_manifest(tmp_path)["checkpoints"][0]["fingerprint"] == spec.fingerprint()


def test_reserved_keys_and_bad_names_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="reserved keys"):
        ck.save_checkpoint(tmp_path, "a.pt", {"meta": 1})
    for name in ("../escape.pt", "manifest.json", "a.bin", ""):
        with pytest.raises(ValueError, match="plain file name"):
            ck.save_checkpoint(tmp_path, name, {"x": torch.ones(1)})
    assert not (tmp_path.parent / "escape.pt").exists()


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_state_is_never_written(tmp_path: Path, value: float) -> None:
    state = _state(0)
    state["optimizer"]["state"][0]["exp_avg"].view(-1)[3] = value
    with pytest.raises(ck.NonFiniteStateError, match=r"optimizer\.state\.0\.exp_avg holds non-finite"):
        ck.save_checkpoint(tmp_path, "a.pt", state)
    assert list(tmp_path.iterdir()) == []


# -- injected failures: a full disk at every step of a save ------------------------------


def _enospc(*_a, **_k):
    raise OSError(errno.ENOSPC, "No space left on device")


class _FailNth:
    """Call the real function, except the ``n``-th call (1-based) fails with ENOSPC."""

    def __init__(self, real, n: int) -> None:
        self.real, self.n, self.calls = real, n, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.calls == self.n:
            _enospc()
        return self.real(*args, **kwargs)


# (function in os, which call fails): the first call writes the checkpoint, the second the manifest
FAULTS = [("write", 1), ("fsync", 1), ("replace", 1), ("write", 2), ("fsync", 2), ("replace", 2)]


@pytest.mark.parametrize(("func", "nth"), FAULTS, ids=[f"{f}-{n}" for f, n in FAULTS])
def test_failed_save_leaves_no_temp_files_and_the_previous_checkpoint(tmp_path: Path, monkeypatch, func, nth) -> None:
    old = _state(0)
    ck.save_checkpoint(tmp_path, "old.pt", old, meta={"step": 1}, aliases=["last"])
    manifest_before = (tmp_path / "manifest.json").read_bytes()
    if func == "write":
        # a partial write first, as a filling disk does, then the failure
        real = os.write
        monkeypatch.setattr(atomic.os, "write", _FailNth(lambda fd, b: real(fd, bytes(b)[:7]), nth))
    else:
        monkeypatch.setattr(atomic.os, func, _FailNth(getattr(os, func), nth))
    with pytest.raises(OSError, match="No space left"):
        ck.save_checkpoint(tmp_path, "new.pt", _state(1), meta={"step": 2}, aliases=["last"])
    monkeypatch.undo()
    assert _temps(tmp_path) == []
    assert (tmp_path / "manifest.json").read_bytes() == manifest_before
    found = ck.latest_valid(tmp_path)
    assert found is not None and found[0].name == "old.pt"
    _assert_same(old, ck.trainer_state(found[1]))
    _assert_same(old, ck.trainer_state(ck.load_checkpoint(tmp_path / "last.pt")))


def test_failed_save_of_the_same_name_keeps_the_old_file(tmp_path: Path, monkeypatch) -> None:
    old = _state(0)
    ck.save_checkpoint(tmp_path, "a.pt", old)
    monkeypatch.setattr(atomic.os, "fsync", _enospc)
    with pytest.raises(OSError):
        ck.save_checkpoint(tmp_path, "a.pt", _state(1))
    monkeypatch.undo()
    _assert_same(old, ck.trainer_state(ck.load_checkpoint(tmp_path / "a.pt")))
    assert _temps(tmp_path) == []


def test_orphan_temp_files_are_cleaned(tmp_path: Path) -> None:
    (tmp_path / f"{atomic.TMP_PREFIX}a.pt.x1").write_bytes(b"half")
    (tmp_path / "keep.pt").write_bytes(b"x")
    assert [p.name for p in ck.clean_temp_files(tmp_path)] == [f"{atomic.TMP_PREFIX}a.pt.x1"]
    assert [p.name for p in tmp_path.iterdir()] == ["keep.pt"]


# -- torn and altered files --------------------------------------------------------------


def _two(tmp_path: Path) -> tuple[dict, Path]:
    first = _state(0)
    ck.save_checkpoint(tmp_path, "first.pt", first, meta={"epoch": 0, "step": 5})
    ck.save_checkpoint(tmp_path, "second.pt", _state(1), meta={"epoch": 1, "step": 10}, aliases=["last"])
    return first, tmp_path / "second.pt"


@pytest.mark.parametrize("keep", [0, 1, 100, 0.5, 0.99])
def test_truncated_newest_falls_back_to_previous(tmp_path: Path, keep) -> None:
    first, newest = _two(tmp_path)
    data = newest.read_bytes()
    n = int(len(data) * keep) if isinstance(keep, float) else keep
    newest.write_bytes(data[:n])
    skipped: list[tuple[Path, str]] = []
    path, state = ck.latest_valid(tmp_path.parent / tmp_path.name, on_skip=lambda p, r: skipped.append((p, r)))
    assert path.name == "first.pt"
    _assert_same(first, ck.trainer_state(state))
    assert [p.name for p, _ in skipped] == ["second.pt"] and re.fullmatch(
        rf"it is {n} bytes, the manifest says {len(data)}: truncated or altered", skipped[0][1])
    with pytest.raises(ck.CorruptCheckpointError):
        ck.load_checkpoint(newest)


def test_every_bit_flip_is_detected_by_the_manifest(tmp_path: Path) -> None:
    first, newest = _two(tmp_path)
    data = newest.read_bytes()
    rng = random.Random(0)
    for offset in [0, len(data) - 1, *rng.sample(range(len(data)), 40)]:
        flipped = bytearray(data)
        flipped[offset] ^= 1 << rng.randrange(8)
        newest.write_bytes(bytes(flipped))
        path, state = ck.latest_valid(tmp_path)
        assert path.name == "first.pt", offset
        _assert_same(first, ck.trainer_state(state))


def test_bit_flip_in_tensor_data_detected_without_manifest(tmp_path: Path) -> None:
    """torch itself loads such a file silently; the zip CRC-32 check catches it."""
    import zipfile

    path = tmp_path / "weights.pt"
    torch.save({"w": torch.randn(1000)}, path)
    data = bytearray(path.read_bytes())
    info = next(i for i in zipfile.ZipFile(path).infolist() if i.filename.endswith("data/0"))
    data[info.header_offset + 200 + 64] ^= 0x10  # inside the tensor bytes
    path.write_bytes(bytes(data))
    torch.load(path, weights_only=True)  # the baseline: torch does not notice
    with pytest.raises(ck.CorruptCheckpointError, match="CRC-32"):
        ck.load_checkpoint(path)


def test_swapped_in_older_valid_file_is_detected(tmp_path: Path) -> None:
    _, newest = _two(tmp_path)
    newest.write_bytes((tmp_path / "first.pt").read_bytes())
    assert (tmp_path / "first.pt").stat().st_size == newest.stat().st_size
    with pytest.raises(ck.CorruptCheckpointError, match="sha256 differs from the manifest's: the bytes were altered"):
        ck.load_checkpoint(newest)


def test_without_manifest_the_highest_step_wins(tmp_path: Path) -> None:
    _two(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    notes: list[str] = []
    path, state = ck.latest_valid(tmp_path, on_skip=lambda p, r: notes.append(p.name))
    assert state["meta"]["step"] == 10 and path.name in ("second.pt", "last.pt")
    assert notes == ["manifest.json"]


def test_no_checkpoint_at_all(tmp_path: Path) -> None:
    assert ck.latest_valid(tmp_path) is None
    assert ck.latest_valid(tmp_path / "missing") is None


def test_run_dir_resolves_to_its_checkpoints_dir(tmp_path: Path) -> None:
    ck.save_checkpoint(tmp_path / "checkpoints", "a.pt", {"x": torch.ones(2)})
    path, _ = ck.latest_valid(tmp_path)
    assert path == tmp_path / "checkpoints" / "a.pt"


def test_remove_unlists_first_and_keeps_alias_targets(tmp_path: Path) -> None:
    for i in range(3):
        ck.save_checkpoint(tmp_path, f"c{i}.pt", {"x": torch.full((2,), float(i))},
                           aliases=["best"] if i == 0 else ["last"])
    assert ck.remove_checkpoints(tmp_path, ["c0.pt", "c1.pt"]) == ["c1.pt"]
    assert sorted(p.name for p in tmp_path.glob("*.pt")) == ["best.pt", "c0.pt", "c2.pt", "last.pt"]
    assert [e["file"] for e in ck.read_manifest(tmp_path)["checkpoints"]] == ["c0.pt", "c2.pt"]
    assert torch.equal(ck.load_checkpoint(tmp_path / "best.pt")["x"], torch.zeros(2))


def _schedulers(opt: torch.optim.Optimizer) -> dict:
    S = torch.optim.lr_scheduler
    return {
        "steplr": S.StepLR(opt, 2), "multisteplr": S.MultiStepLR(opt, [2, 4]),
        "exponentiallr": S.ExponentialLR(opt, 0.9),
        "cosineannealinglr": S.CosineAnnealingLR(opt, 5), "onecyclelr": S.OneCycleLR(opt, 0.1, total_steps=10),
        "cycliclr": S.CyclicLR(opt, 0.01, 0.1), "reducelronplateau": S.ReduceLROnPlateau(opt),
        "cosineannealingwarmrestarts": S.CosineAnnealingWarmRestarts(opt, 3), "lambdalr": S.LambdaLR(opt, lambda e: 1),
        "linearlr": S.LinearLR(opt), "polynomiallr": S.PolynomialLR(opt), "constantlr": S.ConstantLR(opt),
        "sequentiallr": S.SequentialLR(opt, [S.LinearLR(opt), S.ExponentialLR(opt, 0.9)], milestones=[2]),
    }


OPTIMIZERS = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam", "ASGD", "Rprop",
              "LBFGS"]


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_every_optimizer_and_scheduler_state_passes_the_allowlist(tmp_path: Path, optimizer: str) -> None:
    """The static pickle scan must not refuse what torch's own optimizers and schedulers save."""
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 2)
    opt = getattr(torch.optim, optimizer)(model.parameters(), lr=0.01)
    scheds = _schedulers(opt) if optimizer == "SGD" else {}

    def closure():
        opt.zero_grad()
        loss = model(torch.randn(3, 4)).pow(2).sum()
        loss.backward()
        return loss

    for _ in range(2):
        opt.step(closure)
        for name, s in scheds.items():
            s.step(1.0) if name == "reducelronplateau" else s.step()
    state = {"model": model.state_dict(), "optimizer": opt.state_dict(),
             "schedulers": {k: s.state_dict() for k, s in scheds.items()},
             "scaler": torch.amp.GradScaler("cpu", enabled=True).state_dict()}
    ck.save_checkpoint(tmp_path, "a.pt", state)
    _assert_same(state, ck.trainer_state(ck.load_checkpoint(tmp_path / "a.pt")))


def test_quarantine_unlists_and_renames(tmp_path: Path) -> None:
    for i in range(2):
        ck.save_checkpoint(tmp_path, f"c{i}.pt", {"x": torch.full((2,), float(i))}, aliases=["last"])
    assert ck.quarantine(tmp_path, ["c1.pt"]) == [tmp_path / "c1.pt.damaged"]
    manifest = ck.read_manifest(tmp_path)
    assert [e["file"] for e in manifest["checkpoints"]] == ["c0.pt"] and manifest["aliases"] == {}
    path, _ = ck.latest_valid(tmp_path)
    assert path.name == "c0.pt"
