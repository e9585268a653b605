"""The GPU-oriented paths, checked where they can be on the CPU: the loss read, prefetching,
placement, torch.compile and its failure, and the torchrun GPU count."""

from __future__ import annotations

import pytest
import torch

from cnnspec.data.bundle import _prefetched
from cnnspec.engine import train
from cnnspec.engine.distributed import init_distributed
from cnnspec.engine.step import LossReader
from cnnspec.exceptions import CnnspecError
from tests.engine.standin import random_bundle


def test_the_loss_reader_gives_the_loss_off_the_gpu():
    loss = torch.tensor(0.125)
    reader = LossReader(torch.device("cpu"))
    reader.start(loss)
    assert not reader.async_copy and reader.value(loss) == 0.125


def test_prefetching_delivers_every_batch_in_order():
    batches = [(torch.full((2, 1), float(i)), torch.tensor([i, i])) for i in range(5)]
    out = list(_prefetched(iter(batches), torch.device("cpu")))
    assert [int(t[0]) for _, t in out] == [0, 1, 2, 3, 4]
    assert all(torch.equal(a[0], b[0]) for a, b in zip(out, batches))
    assert list(_prefetched(iter([]), torch.device("cpu"))) == []


def test_placing_data_on_the_cpu_moves_nothing(tiny_spec):
    from cnnspec.data import build_data
    from cnnspec.spec import load_spec

    spec = load_spec(tiny_spec.replace("input: [1, 8, 8]", "input: [1, 8, 8]\ndata: {dataset: digits}"))
    bundle = build_data(spec)
    before = bundle.splits["train"].source.arrays[0]
    assert bundle.place(torch.device("cpu")) == []
    assert bundle.splits["train"].source.arrays[0] is before
    inputs, _ = next(iter(bundle.loader("train")))
    assert inputs.device.type == "cpu"


class _Unsupported(Exception):
    """Stands in for a torch._dynamo exception (what a failed compilation raises)."""


_Unsupported.__module__ = "torch._dynamo.exc"


def test_a_model_torch_compile_cannot_handle_is_a_clear_error(tiny_spec, runs, monkeypatch):
    class Refusing(torch.nn.Module):
        def forward(self, x):
            raise _Unsupported("a graph break it cannot handle")

    monkeypatch.setattr(torch, "compile", lambda model: Refusing())
    with pytest.raises(CnnspecError) as info:
        train(tiny_spec, overrides=["train.compile=true"], data=random_bundle(), runs_root=runs)
    assert "train.compile: torch.compile could not compile this model on cpu" in info.value.message
    assert "a graph break it cannot handle" in info.value.message
    assert info.value.hint.startswith("set train.compile: false")


@pytest.mark.slow
def test_a_compiled_model_trains_like_the_eager_one(tiny_spec, runs):
    spec = tiny_spec.replace("  - dropout: {p: 0.2}\n", "")  # compiled dropout draws from its own generator
    eager = train(spec, data=random_bundle(), runs_root=runs)
    compiled = train(spec, overrides=["train.compile=true"], data=random_bundle(), runs_root=runs)
    assert compiled.trainer.compiled and compiled.status == "completed"
    assert compiled.metrics["train_loss"] == pytest.approx(eager.metrics["train_loss"], rel=1e-3)
    assert set(compiled.model.state_dict()) == set(eager.model.state_dict())  # checkpoints stay plain


def test_more_processes_than_gpus_is_refused_by_every_process(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(CnnspecError) as info:
        init_distributed("cuda")
    assert info.value.message == ("torchrun started 2 processes on this machine but it has 1 GPU(s); "
                                  "each process trains on a GPU of its own")
    assert info.value.hint == "use --nproc_per_node=1 (or fewer), or --device cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    with pytest.raises(CnnspecError, match="has no usable GPU"):
        init_distributed("cuda")
