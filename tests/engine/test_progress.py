"""Progress output: a live bar on a terminal, plain lines in logs."""

from __future__ import annotations

import io

from cnnspec.callbacks.progress import ProgressCallback, format_duration
from cnnspec.engine import train
from tests.engine.standin import random_bundle


class Terminal(io.StringIO):
    def isatty(self):
        return True


def _run(tiny_spec, runs, stream, monkeypatch, **args):
    monkeypatch.setattr("sys.stdout", stream)
    return train(tiny_spec, overrides=["train.progress=true"], data=random_bundle(), runs_root=runs,
                 progress=args or None)


def test_logs_get_one_plain_line_per_epoch(tiny_spec, runs, monkeypatch):
    out = io.StringIO()
    result = _run(tiny_spec, runs, out, monkeypatch)
    text = out.getvalue()
    assert "\r" not in text and "\033" not in text
    lines = text.splitlines()
    assert lines[0].startswith("training tiny: ") and "40 train, 20 val, 20 test samples, 2 epochs" in lines[0]
    epochs = [line for line in lines if line.startswith("epoch ")]
    assert len(epochs) == 2
    assert epochs[0].startswith("epoch 1/2  train_loss ") and " val_acc " in epochs[0] and " lr 0.05 " in epochs[0]
    assert lines[-2].startswith("test  test_loss ")
    assert lines[-1].startswith("done in ") and str(result.run_dir) in lines[-1]


def test_a_terminal_gets_a_bar_with_loss_and_eta(tiny_spec, runs, monkeypatch):
    out = Terminal()
    _run(tiny_spec, runs, out, monkeypatch, refresh=1e-9)
    text = out.getvalue()
    bars = [part for part in text.split("\r") if part.startswith("epoch ") and "|" in part]
    assert bars, text
    assert all(" loss " in b and " ETA " in b for b in bars)
    assert "epoch 2/2 |" in text
    assert text.endswith("\n") and "test  test_loss" in text


def test_stderr_stream_keeps_stdout_clean(tiny_spec, runs, monkeypatch, capsys):
    train(tiny_spec, overrides=["train.progress=true"], data=random_bundle(), runs_root=runs,
          progress={"stream": "stderr"})
    captured = capsys.readouterr()
    assert captured.out == "" and "epoch 2/2" in captured.err


def test_listing_progress_in_the_spec_replaces_the_default(tiny_spec, runs, capsys):
    spec = tiny_spec + "callbacks: [{progress: {bar: false, stream: stderr}}]\n"
    result = train(spec, data=random_bundle(), runs_root=runs, overrides=["train.checkpoint=false"])
    assert [type(c) for c in result.trainer.callbacks] == [ProgressCallback]
    assert "epoch 1/2" in capsys.readouterr().err


def test_format_duration():
    assert [format_duration(s) for s in (0, 59.6, 75, 3725)] == ["0:00", "1:00", "1:15", "1:02:05"]
