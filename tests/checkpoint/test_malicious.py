"""Checkpoints crafted to run code when unpickled are refused, and nothing runs.

Each payload would create a marker file if it were ever unpickled; the
positive control shows that it does, so the refusals are not vacuous. The
two fences (our static pickle scan and torch's weights-only unpickler) are
tested together and separately, with and without
``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``.
"""

from __future__ import annotations

import io
import os
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch

from cnnspec import checkpoint as ck
from cnnspec.checkpoint import safety


class _Payload:
    """Unpickling this calls ``exec`` with code that writes the marker file."""

    def __init__(self, marker: Path) -> None:
        self.code = f"open({str(marker)!r}, 'w').write('ran')"

    def __reduce__(self):
        import builtins

        return (builtins.exec, (self.code,))


def _torch_file(path: Path, marker: Path) -> Path:
    torch.save({"model": {"w": torch.ones(2)}, "extra": _Payload(marker)}, path)
    return path


def _stack_global_file(path: Path, marker: Path) -> Path:
    """A zip checkpoint whose data.pkl uses protocol 4 (STACK_GLOBAL, MEMOIZE)."""
    good = io.BytesIO()
    torch.save({"w": torch.ones(2)}, good)
    src = zipfile.ZipFile(io.BytesIO(good.getvalue()))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as out:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("data.pkl"):
                data = pickle.dumps({"w": _Payload(marker)}, protocol=4)
            out.writestr(info.filename, data)
    return path


def _legacy_file(path: Path, marker: Path) -> Path:
    path.write_bytes(pickle.dumps({"w": _Payload(marker)}, protocol=2))
    return path


MAKERS = {"torch-zip": _torch_file, "stack-global": _stack_global_file, "legacy-pickle": _legacy_file}


@pytest.fixture(params=[False, True], ids=["env-unset", "force-no-weights-only"])
def env(request, monkeypatch):
    monkeypatch.delenv("TORCH_FORCE_WEIGHTS_ONLY_LOAD", raising=False)
    if request.param:
        monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    else:
        monkeypatch.delenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", raising=False)
    return request.param


def test_positive_control_the_payload_really_runs(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    path = _torch_file(tmp_path / "evil.pt", marker)
    torch.load(path, weights_only=False)
    assert marker.read_text() == "ran"


@pytest.mark.parametrize("kind", list(MAKERS))
def test_load_checkpoint_refuses(tmp_path: Path, env, kind: str) -> None:
    marker = tmp_path / "marker"
    path = MAKERS[kind](tmp_path / "evil.pt", marker)
    with pytest.raises((ck.UnsafeCheckpointError, ck.CorruptCheckpointError)):
        ck.load_checkpoint(path)
    assert not marker.exists()


@pytest.mark.parametrize("kind", list(MAKERS))
def test_latest_valid_skips_it(tmp_path: Path, env, kind: str) -> None:
    marker = tmp_path / "marker"
    ck.save_checkpoint(tmp_path, "good.pt", {"w": torch.ones(2)}, meta={"step": 1})
    MAKERS[kind](tmp_path / "evil.pt", marker)
    (tmp_path / "manifest.json").unlink()  # no hashes: only the load-time fences stand
    path, state = ck.latest_valid(tmp_path)
    assert path.name == "good.pt" and torch.equal(state["w"], torch.ones(2))
    assert not marker.exists()


@pytest.mark.parametrize("kind", ["torch-zip", "stack-global"])
def test_static_scan_alone_refuses(tmp_path: Path, kind: str) -> None:
    marker = tmp_path / "marker"
    path = MAKERS[kind](tmp_path / "evil.pt", marker)
    data_pkl = next(n for n in zipfile.ZipFile(path).namelist() if n.endswith("data.pkl"))
    with pytest.raises(ck.UnsafeCheckpointError, match=r"builtins?\.exec|__builtin__\.exec"):
        ck.scan_pickle(zipfile.ZipFile(path).read(data_pkl))
    assert not marker.exists()


def test_static_scan_refuses_computed_global_names() -> None:
    # STACK_GLOBAL whose module name comes from a call result, not a literal
    import pickletools

    payload = b"\x80\x04" + b"\x8c\x05torch\x8c\x04Size\x93" + b"\x8c\x02os" + b")R" + b"\x8c\x06system\x93."
    list(pickletools.genops(payload))  # well-formed
    with pytest.raises(ck.UnsafeCheckpointError, match="computed values"):
        ck.scan_pickle(payload)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol 4")
@pytest.mark.parametrize("kind", list(MAKERS))
def test_torch_fence_alone_refuses(tmp_path: Path, env, kind: str) -> None:
    """Our call of torch.load, without the static scan in front, still refuses:
    the explicit weights_only=True wins over the environment variable."""
    marker = tmp_path / "marker"
    path = MAKERS[kind](tmp_path / "evil.pt", marker)
    with pytest.raises((ck.UnsafeCheckpointError, ck.CorruptCheckpointError)):
        safety.torch_load(path.read_bytes())
    assert not marker.exists()


def test_env_var_does_turn_off_a_load_that_does_not_say_weights_only(tmp_path: Path, monkeypatch) -> None:
    """Why the explicit argument matters: torch's default alone is not enough."""
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    marker = tmp_path / "marker"
    path = _torch_file(tmp_path / "evil.pt", marker)
    with pytest.warns(UserWarning, match="TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"):
        torch.load(path)
    assert marker.exists()


def test_refused_in_a_fresh_process_with_the_env_var(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    path = _torch_file(tmp_path / "evil.pt", marker)
    code = ("import sys\nfrom cnnspec.checkpoint import load_checkpoint, CheckpointError\n"
            "try:\n    load_checkpoint(sys.argv[1])\nexcept CheckpointError as e:\n    print(e); sys.exit(3)\n")
    env = {**os.environ, "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"}
    proc = subprocess.run([sys.executable, "-c", code, str(path)], env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 3, proc.stderr
    assert "not tensor data" in proc.stdout
    assert not marker.exists()
