"""cnnspec.engine.signals: the first signal asks for a clean stop, the second ends the process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from cnnspec.engine.signals import exit_code, signal_from_reason, stop_on_signals


class _Trainer:
    def __init__(self) -> None:
        self.reasons: list[str] = []

    def request_stop(self, reason: str) -> None:
        self.reasons.append(reason)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_first_signal_requests_a_stop_and_says_so(tmp_path: Path, signum: int) -> None:
    trainer = _Trainer()
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    with open(tmp_path / "err", "w+") as stream:
        with stop_on_signals(trainer, stream=stream) as received:
            os.kill(os.getpid(), signum)
            assert received == [signum]
        stream.seek(0)
        said = stream.read()
    name = signal.Signals(signum).name
    assert trainer.reasons == [f"received {name}"]
    again = "Ctrl-C" if signum == signal.SIGINT else name
    assert said == (f"\ncnnspec: {name} received: finishing the current step and saving a checkpoint "
                    f"(send {again} again to stop at once)\n")
    assert {s: signal.getsignal(s) for s in before} == before


SECOND = """
import os, signal, sys
from cnnspec.engine.signals import stop_on_signals

class T:
    def request_stop(self, reason):
        print("stop requested:", reason, flush=True)

with stop_on_signals(T()):
    os.kill(os.getpid(), signal.SIG{name})
    os.kill(os.getpid(), signal.SIG{name})
    print("still running", flush=True)
"""


@pytest.mark.parametrize("name", ["INT", "TERM"])
def test_second_signal_ends_the_process_at_once(name: str) -> None:
    proc = subprocess.run([sys.executable, "-c", SECOND.format(name=name)], capture_output=True, text=True,
                          timeout=60)
    signum = getattr(signal, f"SIG{name}")
    assert proc.returncode == -signum
    assert proc.stdout == f"stop requested: received SIG{name}\n"
    assert f"SIG{name} again: stopping now" in proc.stderr


def test_outside_the_main_thread_nothing_is_installed() -> None:
    seen: list[object] = []

    def body() -> None:
        with stop_on_signals(_Trainer()) as received:
            seen.append(received)
            seen.append(signal.getsignal(signal.SIGTERM))

    before = signal.getsignal(signal.SIGTERM)
    thread = threading.Thread(target=body)
    thread.start()
    thread.join()
    assert seen == [[], before]


def test_exit_codes() -> None:
    assert exit_code("received SIGTERM") == 143
    assert exit_code("received SIGINT") == 130
    assert exit_code("stop requested on another process") == 130
    assert exit_code(None, default=7) == 7
    assert signal_from_reason("received SIGHUP, twice") == signal.SIGHUP
    assert signal_from_reason("SIGNOTREAL") is None
