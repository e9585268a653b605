"""Open findings (reliability/findings.py), each pinned by a strict xfail.

Each test states the behaviour the product should have. It fails today;
when the owner fixes the bug it passes, ``strict=True`` turns that into a
red run, and the fix's author removes the mark here and the entry in
``reliability/findings.py``.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from cnnspec.exceptions import SpecError
from cnnspec.spec import load_spec
from reliability.bombs import CASES, MEMORY, run_case
from reliability.findings import FINDINGS
from reliability.harness import Deadline, deadline


def _xfail(finding: str) -> pytest.MarkDecorator:
    f = FINDINGS[finding]
    return pytest.mark.xfail(strict=True, reason=f"{f.id}: {f.title} ({f.owner})")


def _case(name: str):
    return next(c for c in CASES if c.name == name)


@_xfail("F1")
def test_f1_extends_of_a_device_or_fifo_is_refused(tmp_path: Path) -> None:
    # /dev/zero in a subprocess under a memory limit: unbounded reading must not reach this process
    assert run_case(_case("extends /dev/zero"), tmp_path / "zero").verdict == "ok"
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"input: [1]\nmodel: [relu]\nextends: {fifo}\n")
    opened = threading.Event()

    def release() -> None:  # if the loader blocks on the FIFO, open it for writing after the deadline
        if not opened.wait(4.0):
            with open(fifo, "w"):
                pass

    helper = threading.Thread(target=release, daemon=True)
    helper.start()
    try:
        with deadline(2.0, 3.0):
            load_spec(spec)
    except SpecError as exc:
        opened.set()
        assert "extends" in exc.message
        return
    except Deadline:
        pytest.fail("extends: FIFO blocked the loader")
    finally:
        opened.set()
        helper.join()
    pytest.fail("extends: FIFO loaded")


@_xfail("F2")
def test_f2_vars_interpolation_bomb_is_refused(tmp_path: Path) -> None:
    assert MEMORY <= 2 * 1024 ** 3
    result = run_case(_case("a ${vars} string doubling 40 times (1.6 KB)"), tmp_path)
    assert result.verdict == "ok", result.message


@_xfail("F3")
def test_f3_tag_on_a_mapping_key_is_refused() -> None:
    with pytest.raises(SpecError, match="tag"):
        load_spec("!!python/object/apply:os.system input: [1, 8, 8]\nmodel: [relu]\n")


@_xfail("F4")
def test_f4_tensorboard_log_dir_stays_in_the_run_directory(tmp_path: Path) -> None:
    from cnnspec.engine import train

    sandbox = tmp_path / "sandbox"
    spec = ("input: [1, 8, 8]\nmodel: [flatten, {linear: {out_features: 10}}]\n"
            "data: {dataset: digits, batch_size: 512}\ntrain: {epochs: 1, progress: false, threads: 1}\n"
            "callbacks: [{tensorboard: {log_dir: ../../escaped, graph: false, images: 0}}]\n")
    try:
        train(spec, run_dir=sandbox / "runs" / "run", device="cpu")
    except SpecError:
        pass  # refused before training: fine
    assert not (sandbox / "escaped").exists()


@_xfail("F5")
def test_f5_huge_repeat_count_is_refused() -> None:
    from cnnspec.inference import infer_shapes

    spec = "input: [3, 8, 8]\nmodel:\n  - repeat: {times: 1000000000, layers: [relu]}\n"
    try:
        with deadline(2.0, 30.0):
            infer_shapes(load_spec(spec))
    except SpecError:
        return
    except Deadline:
        pytest.fail("repeat: {times: 1000000000} was still being unrolled after 2 s of CPU")
    pytest.fail("repeat: {times: 1000000000} was accepted")


_WORKERS_SPEC = """\
input: [1, 8, 8]
seed: 7
model: [conv2d: {out_channels: 4, kernel_size: 3, padding: 1}, relu, dropout: {p: 0.3}, flatten,
        linear: {out_features: 10}]
data: {dataset: digits, batch_size: 256, val_split: 0.2, in_memory: false, num_workers: %d}
train: {epochs: 2, progress: false, threads: 1, optimizer: {sgd: {lr: 0.1, momentum: 0.9}}}
callbacks: [checkpoint: {every_n_steps: 2}]
"""


@_xfail("F6")
def test_f6_dead_dataloader_worker_is_named_as_such(tmp_path: Path, monkeypatch) -> None:
    """A worker dies while the checkpoint callback saves: the error must name the worker, not the callback."""
    import signal
    import time

    import cnnspec.checkpoint
    from cnnspec.engine import train

    original = cnnspec.checkpoint.save_checkpoint

    def save_and_lose_a_worker(*args, **kwargs):
        workers = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read_text().split()
        if workers:
            os.kill(int(workers[0]), signal.SIGKILL)
            time.sleep(0.5)  # torch's SIGCHLD handler raises here
        return original(*args, **kwargs)

    monkeypatch.setattr(cnnspec.checkpoint, "save_checkpoint", save_and_lose_a_worker)
    with pytest.raises(Exception) as info:
        train(_WORKERS_SPEC % 2, run_dir=tmp_path / "run", device="cpu")
    assert "DataLoader worker" in str(info.value)
    assert "callback 'checkpoint'" not in str(info.value)


@_xfail("F7")
def test_f7_resume_mid_epoch_through_a_dataloader_is_bit_identical(tmp_path: Path) -> None:
    from cnnspec.engine import train
    from cnnspec.resume import resume
    from reliability.training import digest

    class StopAt:
        def on_train_batch_end(self, trainer, *args) -> None:
            if trainer.global_step == 3:
                trainer.request_stop("test stop")

    from cnnspec.callbacks.base import Callback

    stop = type("StopAt", (Callback,), {"on_train_batch_end": StopAt.on_train_batch_end})()
    spec = _WORKERS_SPEC % 0
    whole = train(spec, run_dir=tmp_path / "whole", device="cpu")
    train(spec, run_dir=tmp_path / "stopped", device="cpu", callbacks=[stop])
    resumed = resume(tmp_path / "stopped", device="cpu")
    assert digest(resumed.trainer.state_dict()) == digest(whole.trainer.state_dict())


@_xfail("F8")
def test_f8_manifest_entries_cannot_leave_the_checkpoint_directory(tmp_path: Path) -> None:
    import json

    import torch

    from cnnspec.checkpoint import read_manifest, remove_checkpoints, save_checkpoint

    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    directory = tmp_path / "run" / "checkpoints"
    save_checkpoint(directory, "epoch0001.pt", {"w": torch.ones(2)}, meta={"step": 1})
    manifest = json.loads((directory / "manifest.json").read_text())
    manifest["checkpoints"].insert(0, {"file": "../../victim.txt", "seq": 0, "sha256": "0" * 64, "size": 7})
    (directory / "manifest.json").write_text(json.dumps(manifest))
    listed = [e["file"] for e in read_manifest(directory)["checkpoints"]]
    remove_checkpoints(directory, listed)
    assert victim.exists()
    assert "../../victim.txt" not in listed


@_xfail("F9")
def test_f9_bad_loss_reduction_is_a_spec_error() -> None:
    import torch

    from cnnspec.engine.components import build_loss

    spec = load_spec("input: [4]\nmodel: [{linear: {out_features: 3}}]\n"
                     "train: {loss: {crossentropyloss: {reduction: bogus}}}\n")
    with pytest.raises(SpecError, match="reduction"):
        loss = build_loss(spec, 3)
        loss(torch.randn(2, 3), torch.tensor([0, 1]))


@_xfail("F10")
def test_f10_interrupted_plugin_import_names_the_plugin(tmp_path: Path) -> None:
    from reliability.plugin_faults import Dist, _run_cli, write_dist

    marker = tmp_path / "importing"
    site = write_dist(tmp_path / "site", Dist("cnnspec-t-hang", {"hang": "hang_plugin.plugin"}, {
        "hang_plugin.plugin": f"import pathlib, time\npathlib.Path({str(marker)!r}).touch()\ntime.sleep(10**6)\n"}))
    spec = tmp_path / "spec.yaml"
    spec.write_text("input: [1]\nmodel: [relu]\n")
    code, out, _ = _run_cli(site, "validate", str(spec), interrupt_when=marker)
    assert code == 130 and "Traceback" not in out
    assert "hang" in out


@_xfail("F11")
def test_f11_fix_it_search_is_bounded(monkeypatch) -> None:
    """One bad layer in GoogLeNet: the fix-it search may re-infer the model a bounded number of times."""
    import cnnspec.fixits
    from cnnspec.fixits import fixes_for
    from reliability.harness import ROOT

    text = (ROOT / "specs" / "googlenet.yaml").read_text()
    spec_text = text.replace("maxpool2d: {kernel_size: 3, stride: 1, padding: 1, ceil_mode: true}",
                             "maxpool2d: {kernel_size: 1, stride: 1, padding: 1, ceil_mode: true}", 1)
    assert spec_text != text
    with pytest.raises(SpecError) as info:
        from cnnspec.inference import infer_shapes

        spec = load_spec(spec_text)
        infer_shapes(spec)
    calls = []
    real = cnnspec.fixits.infer_shapes
    monkeypatch.setattr(cnnspec.fixits, "infer_shapes", lambda *a, **k: calls.append(1) or real(*a, **k))
    fixes_for(spec, info.value)
    assert len(calls) <= 100, f"{len(calls)} whole-model inferences"


@_xfail("F12")
def test_f12_many_unknown_keys_are_summarised() -> None:
    text = "".join(f"k{i}: {i}\n" for i in range(2000)) + "input: [1]\nmodel: [relu]\n"
    with pytest.raises(SpecError) as info:
        load_spec(text)
    assert len(info.value.all_errors()) <= 50


def test_every_finding_has_its_test() -> None:
    here = Path(__file__).read_text()
    for finding in FINDINGS.values():
        path, _, name = finding.test.partition("::")
        assert path == "tests/reliability/test_findings.py" and f"def {name}(" in here, finding.id
