"""A dead DataLoader worker is reported as one RuntimeError naming it, and its loader is shut down."""

from __future__ import annotations

import multiprocessing
import os
import signal

import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from cnnspec.data.workers import WorkerDied, iterate


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class _BrokenPipeLoader:
    """What torch's iterator does when a worker dies mid-handover: the parent reads a reset connection
    before any SIGCHLD handler runs."""

    def __init__(self) -> None:
        self.shut_down = False
        self.process: multiprocessing.Process | None = None

    target = staticmethod(_die)

    def __iter__(self) -> _BrokenPipeLoader:
        if self.process is None:  # `yield from` asks again; a real loader iterator returns itself too
            self.process = multiprocessing.get_context("fork").Process(target=self.target)
            self.process.start()
        return self

    def __next__(self) -> int:
        raise ConnectionResetError(104, "Connection reset by peer")

    def _shutdown_workers(self) -> None:
        self.shut_down = True


def test_a_reset_connection_from_a_dead_worker_names_the_worker() -> None:
    loader = _BrokenPipeLoader()
    with pytest.raises(WorkerDied, match=r"DataLoader worker \(pid \d+\) is killed by signal: Killed") as info:
        list(iterate(loader))
    assert str(loader.process.pid) in str(info.value)
    assert isinstance(info.value.__cause__, ConnectionResetError)
    assert loader.shut_down


class _ResetWithLiveWorker(_BrokenPipeLoader):
    target = staticmethod(signal.pause)


def test_a_reset_connection_with_every_worker_alive_stays_what_it_was(monkeypatch) -> None:
    import cnnspec.data.workers as workers

    monkeypatch.setattr(workers, "DEATH_GRACE_S", 0.2)
    loader = _ResetWithLiveWorker()
    try:
        with pytest.raises(ConnectionResetError):
            list(iterate(loader))
        assert loader.shut_down
    finally:
        loader.process.kill()
        loader.process.join()


class _DiesAt(Dataset):
    def __len__(self) -> int:
        return 64

    def __getitem__(self, index: int) -> torch.Tensor:
        if index == 40:
            _die()
        return torch.zeros(4)


def test_a_real_worker_killed_mid_epoch_is_named_and_unregistered() -> None:
    from torch.utils.data._utils import signal_handling

    loader = DataLoader(_DiesAt(), batch_size=4, num_workers=2)
    with pytest.raises(RuntimeError, match=r"DataLoader worker \(pid"):
        for _ in iterate(loader):
            pass
    # torch's SIGCHLD check no longer knows the dead worker: a late signal cannot raise elsewhere
    signal_handling._error_if_any_worker_fails()
