"""Scenario group 5: inputs written by an attacker.

* checkpoints whose pickle runs code when loaded (``exec``, ``os.system``,
  ``subprocess.Popen``, ``eval``; protocols 0-4; zip and legacy files; hidden
  deep in optimizer state or a second record; listed in a manifest whose
  hash the attacker updated), loaded through every entry point, also with
  ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``, and each of the two fences (the
  static pickle scan, torch's weights-only unpickler) alone;
* spec values naming Python objects (``os.system``, ``builtins:eval``...) in
  every slot that names a component or a layer, and as arguments;
* paths that try to leave the run directory: spec names, dataset roots,
  TensorBoard's ``log_dir``, a crafted ``manifest.json``.

Every payload would create a marker file if it ran; a positive control shows
that each one does run under a plain ``torch.load(weights_only=False)``. A
sandbox folder is snapshotted around each case: nothing may appear outside
the run directory.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import pickle
import random
import shutil
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from reliability.harness import Snapshot, python_env, run_python
from reliability.rows import Row

__all__ = ["PAYLOADS", "path_traversal", "pickle_payloads", "spec_object_names"]

FORCE = "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"


class _Reduce:
    """Unpickling this calls ``target(*args)``."""

    def __init__(self, target: Callable[..., Any], *args: Any) -> None:
        self.target, self.args = target, args

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return self.target, self.args


def _calls(marker: Path) -> dict[str, _Reduce]:
    import builtins
    import subprocess

    code = f"open({str(marker)!r}, 'w').write('ran')"
    return {
        "exec": _Reduce(builtins.exec, code),
        "eval": _Reduce(builtins.eval, f"__import__('builtins').exec({code!r})"),
        "os.system": _Reduce(os.system, f"touch {marker}"),
        "subprocess.Popen": _Reduce(subprocess.call, ["touch", str(marker)]),
    }


def _torch_zip(obj: Any) -> bytes:
    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def _replace_data_pkl(obj: Any, protocol: int, extra_record: bool = False) -> bytes:
    """A torch zip whose data.pkl is ``pickle.dumps(obj, protocol)`` (or, with ``extra_record``, a clean
    data.pkl plus a second .pkl record holding the payload)."""
    import torch

    good = zipfile.ZipFile(io.BytesIO(_torch_zip({"w": torch.ones(2)})))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
        for info in good.infolist():
            data = good.read(info)
            if info.filename.endswith("data.pkl") and not extra_record:
                data = pickle.dumps(obj, protocol=protocol)
            z.writestr(info.filename, data)
        if extra_record:
            prefix = good.infolist()[0].filename.split("/")[0]
            z.writestr(f"{prefix}/extra.pkl", pickle.dumps(obj, protocol=protocol))
    return out.getvalue()


def _inst_pickle(marker: Path) -> bytes:
    """Protocol 0 with the INST opcode: ``os.system`` called by name, no __reduce__ needed."""
    return f"(S'touch {marker}'\nios\nsystem\n.".encode()


#: payload name -> builder(call object, marker) -> file bytes
PAYLOADS: dict[str, Callable[[Any, Path], bytes]] = {
    "torch.save, payload beside the weights": lambda call, m: _torch_zip({"model": _weights(), "x": call}),
    "torch.save, deep in optimizer state": lambda call, m: _torch_zip(
        {"model": _weights(), "optimizer": {"state": {0: {"momentum_buffer": call}}, "param_groups": []}}),
    "torch.save, in the meta header": lambda call, m: _torch_zip({"model": _weights(), "meta": {"step": call}}),
    "zip, data.pkl protocol 4 (STACK_GLOBAL)": lambda call, m: _replace_data_pkl({"w": call}, 4),
    "zip, data.pkl protocol 0 (GLOBAL)": lambda call, m: _replace_data_pkl({"w": call}, 0),
    "zip, data.pkl protocol 2": lambda call, m: _replace_data_pkl({"w": call}, 2),
    "zip, clean data.pkl plus a second record": lambda call, m: _replace_data_pkl({"w": call}, 2, True),
    "legacy pickle (not a zip)": lambda call, m: pickle.dumps({"model": call}, protocol=2),
    "legacy pickle, INST opcode": lambda call, m: _inst_pickle(m),
}


def _weights() -> dict[str, Any]:
    import torch

    return {"0.weight": torch.ones(2, 2), "0.bias": torch.zeros(2)}


@contextlib.contextmanager
def _env(name: str, value: str | None) -> Iterator[None]:
    old = os.environ.get(name)
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


def _loaders(folder: Path) -> dict[str, Callable[[Path], Any]]:
    """Every way cnnspec reads a checkpoint, in this process."""
    from cnnspec.checkpoint import latest_valid, load_checkpoint, save_checkpoint
    from cnnspec.checkpoint.safety import scan_pickle, torch_load, verify_container
    from cnnspec.engine import load_weights

    def in_a_run(path: Path) -> Any:
        """The payload as the newest checkpoint of a run, its manifest hash updated by the attacker."""
        import hashlib

        run = folder / "run"
        shutil.rmtree(run, ignore_errors=True)
        save_checkpoint(run / "checkpoints", "good.pt", {"model": _weights()}, meta={"step": 1})
        data = path.read_bytes()
        (run / "checkpoints" / "evil.pt").write_bytes(data)
        manifest = json.loads((run / "checkpoints" / "manifest.json").read_text())
        manifest["checkpoints"].append({"file": "evil.pt", "seq": 99, "step": 2, "size": len(data),
                                        "sha256": hashlib.sha256(data).hexdigest()})
        (run / "checkpoints" / "manifest.json").write_text(json.dumps(manifest))
        found = latest_valid(run)
        if found is None or found[0].name != "good.pt":
            raise AssertionError(f"latest_valid did not fall back to good.pt: {found and found[0]}")
        return "fell back"

    def scan_alone(path: Path) -> Any:
        data = path.read_bytes()
        if zipfile.is_zipfile(io.BytesIO(data)):
            return verify_container(data)
        return scan_pickle(data)

    return {
        "load_checkpoint": load_checkpoint,
        "engine.load_weights (evaluate, explain, export)": load_weights,
        "latest_valid / resume (manifest hash updated)": in_a_run,
        "the static pickle scan alone": scan_alone,
        "torch's weights-only load alone": lambda p: torch_load(p.read_bytes()),
    }


def _refused(exc: BaseException) -> bool:
    from cnnspec.exceptions import CnnspecError

    return isinstance(exc, CnnspecError)


def pickle_payloads(size: int, seed: int, workdir: Path) -> Row:
    """Scenario: checkpoints that run code when unpickled, through every loader, with and without the env var."""

    row = Row("pickle-payloads", "checkpoints whose pickle runs code (exec, eval, os.system, subprocess; protocols "
              "0/2/4; zip and legacy; hidden in optimizer state, the header or a second record; listed in a "
              "manifest with its hash updated), through load_checkpoint, load_weights, latest_valid/resume, each "
              "fence alone, and the CLI; with and without TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1: refused, nothing "
              "ran (each payload's positive control: it does run when unpickled without the fences)",
              unit="loads")
    rng = random.Random(seed)
    folder = workdir / "pickle-payloads"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    marker = folder / "marker"
    loaders = _loaders(folder)
    cases = [(p, c, lo, env) for p in PAYLOADS for c in _calls(marker) for lo in loaders for env in (None, "1")
             if not (p == "legacy pickle, INST opcode" and c != "os.system")]
    rng.shuffle(cases)
    controls: set[tuple[str, str]] = set()
    cli_every = 25
    with row.timed():
        for n, (payload, call, loader, env) in enumerate(cases[:size]):
            row.size += 1
            path = folder / "evil.pt"
            path.write_bytes(PAYLOADS[payload](_calls(marker)[call], marker))
            if (payload, call) not in controls:  # positive control: the payload is live
                controls.add((payload, call))
                row.size += 1
                _unpickle_everything(path.read_bytes())
                row.count("positive_controls_that_ran" if marker.exists() else "positive_controls_inert")
                if not marker.exists():
                    row.lose(f"positive control: {payload} / {call} did not run under weights_only=False")
                else:
                    row.hold()
                marker.unlink(missing_ok=True)
                path.write_bytes(PAYLOADS[payload](_calls(marker)[call], marker))
            label = f"{payload} / {call} / {loader}{' / ' + FORCE + '=1' if env else ''}"
            outcome = "loaded"
            with _env(FORCE, env):
                try:
                    loaders[loader](path)
                    if loader.startswith("latest_valid"):
                        outcome = "refused"
                except Exception as exc:
                    outcome = "refused" if _refused(exc) else f"{type(exc).__name__}: {exc}"
            if marker.exists():
                row.lose(f"CODE RAN: {label}")
                marker.unlink()
            elif outcome == "loaded" and loader.startswith("torch's") and "second record" in payload:
                row.count("harmless_loads_torch_never_reads_that_record")
                row.hold()
            elif outcome != "refused":
                row.lose(f"{label}: {outcome}")
            else:
                row.hold()
            if n % cli_every == 0:
                row.size += 1
                row.count("cli_checks")
                _cli_check(row, folder, path, marker, label)
    return row


def _unpickle_everything(data: bytes) -> None:
    """What an unguarded loader does: torch.load(weights_only=False), and every other pickle record."""
    import torch

    with contextlib.suppress(Exception):
        torch.load(io.BytesIO(data), weights_only=False)
    if zipfile.is_zipfile(io.BytesIO(data)):
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            for name in z.namelist():
                if name.endswith(".pkl") and not name.endswith("data.pkl"):
                    with contextlib.suppress(Exception):
                        pickle.loads(z.read(name))


_SPEC = "input: [2]\nmodel: [{linear: {out_features: 2}}]\ndata: {dataset: digits}\n"


def _cli_check(row: Row, folder: Path, path: Path, marker: Path, label: str) -> None:
    """``cnnspec evaluate SPEC --checkpoint EVIL`` in a fresh interpreter with the env var set."""
    spec = folder / "cli.yaml"
    spec.write_text(_SPEC)
    done = run_python(["-m", "cnnspec", "evaluate", str(spec), "--checkpoint", str(path)], timeout=300,
                      env=python_env(**{FORCE: "1"}), cwd=folder)
    if marker.exists():
        row.lose(f"CODE RAN via the CLI: {label}")
        marker.unlink()
    elif done.returncode != 2 or "Traceback" in done.stderr:
        row.lose(f"CLI evaluate of {label}: exit {done.returncode}: {done.stderr[-300:]}")
    else:
        row.hold()


# -- spec values naming Python objects -----------------------------------------------------------------

_NAMES = [
    "os.system", "os:system", "posix:system", "builtins.eval", "builtins:eval", "builtins:exec", "exec", "eval",
    "subprocess:Popen", "subprocess.Popen", "torch.nn:Module", "cnnspec.cli:main", "__import__",
    "__import__('os').system('touch {marker}')", "eval(\"open('{marker}','w')\")", "lambda: 0", "sgd:os.system",
    "os.system('touch {marker}')", "${{__import__('os').system('touch {marker}')}}", "builtins",
]

#: slot -> how to put ``value`` there in a minimal valid spec
_SLOTS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "data.dataset": lambda v: {"data": {"dataset": v}},
    "data.dataset (with args)": lambda v: {"data": {"dataset": {v: {}}}},
    "data.transforms": lambda v: {"data": {"dataset": "digits", "transforms": [v]}},
    "data.train_transforms": lambda v: {"data": {"dataset": "digits", "train_transforms": [v]}},
    "data.eval_transforms": lambda v: {"data": {"dataset": "digits", "eval_transforms": [v]}},
    "train.optimizer": lambda v: {"train": {"optimizer": v}},
    "train.optimizer (with args)": lambda v: {"train": {"optimizer": {v: {"lr": 0.1}}}},
    "train.loss": lambda v: {"train": {"loss": v}},
    "train.scheduler": lambda v: {"train": {"scheduler": v}},
    "callbacks": lambda v: {"callbacks": [v]},
    "callbacks (with args)": lambda v: {"callbacks": [{v: {}}]},
    "a layer type": lambda v: {"model": [v]},
    "a layer type (with args)": lambda v: {"model": [{v: {}}]},
    "an optimizer argument": lambda v: {"train": {"optimizer": {"sgd": {"lr": v}}}},
    "an optimizer argument's name": lambda v: {"train": {"optimizer": {"sgd": {v: 1}}}},
    "a layer argument": lambda v: {"model": [{"conv2d": {"out_channels": v, "kernel_size": 3}}]},
    "a loss argument": lambda v: {"train": {"loss": {"crossentropyloss": {"reduction": v}}}},
    "a callback argument": lambda v: {"callbacks": [{"checkpoint": {"mode": v}}]},
}


def spec_object_names(size: int, seed: int, workdir: Path) -> Row:
    """Scenario: names of Python objects in every slot that names something: a located SpecError, nothing runs."""
    from cnnspec.exceptions import SpecError
    from cnnspec.shapes.walker import infer_shapes
    from cnnspec.spec import load_spec

    row = Row("spec-object-names", "os.system, builtins:eval, subprocess:Popen, __import__(...) and the like as the "
              "dataset, a transform, the optimizer, loss, scheduler, a callback, a layer type, argument names and "
              "values, also through --set: refused with a located SpecError (validate exits 2), nothing ran",
              unit="specs")
    folder = workdir / "spec-object-names"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    marker = folder / "marker"
    rng = random.Random(seed)
    slots, names = list(_SLOTS), list(_NAMES)
    rng.shuffle(names)
    # round robin over the slots, so even a small run puts something in every slot
    cases = [(slots[i % len(slots)], names[(i // len(slots) + i) % len(names)]) for i in range(len(slots) * len(names))]
    with row.timed():
        for n, (slot, name) in enumerate(cases[:size]):
            value = name.format(marker=marker)
            doc = {"input": [1, 8, 8], "model": [{"conv2d": {"out_channels": 2, "kernel_size": 3}}, "flatten",
                                                {"linear": {"out_features": 10}}]}
            for key, part in _SLOTS[slot](value).items():
                doc[key] = part
            via_set = n % 3 == 2 and slot in ("train.optimizer", "train.loss", "data.dataset", "callbacks")
            row.size += 1
            path = folder / "spec.json"
            path.unlink(missing_ok=True)
            overrides: list[str] = []
            if via_set:  # the same value from the command line instead of the file
                key = {"callbacks": "callbacks[0]"}.get(slot, slot)
                overrides = [f"{key}={json.dumps(value)}"]
            path.write_text(json.dumps(doc))
            try:
                spec = load_spec(path, overrides=overrides)
                infer_shapes(spec)
                _build_components(spec)  # arguments checked against torch's signatures when built
                outcome = "accepted"
            except SpecError as exc:
                outcome = "refused" if exc.location is not None or via_set else f"unlocated: {exc.format()}"
            except Exception as exc:
                outcome = f"{type(exc).__name__}: {exc}"
            label = f"{slot} = {value!r}{' via --set' if via_set else ''}"
            if marker.exists():
                row.lose(f"CODE RAN: {label}")
                marker.unlink()
            elif outcome != "refused":
                row.lose(f"{label}: {outcome}")
            else:
                row.hold()
    return row


def _build_components(spec: Any) -> None:
    """Build the optimizer, loss and scheduler as training would, and run the loss once."""
    if spec.train is None:
        return
    import torch

    from cnnspec.engine.components import build_loss, build_optimizer, build_scheduler

    model = torch.nn.Linear(4, 10)
    optimizer, _ = build_optimizer(spec, model)
    build_scheduler(spec, optimizer, epochs=1, steps_per_epoch=1)
    loss = build_loss(spec, 10)
    loss(model(torch.randn(2, 4)), torch.tensor([1, 2]))


# -- paths that try to leave the run directory ----------------------------------------------------------

_NAMES_FOR_DIRS = ["../../escaped", "/tmp/reliability-escaped", "a/../../escaped", "..", ".", ".hidden", "a/b",
                   "~/escaped", "$HOME", "escaped\\..\\..", "x" * 300, "CON", " leading-space", "ok-name"]


def path_traversal(size: int, seed: int, workdir: Path) -> Row:
    """Scenario: spec names, dataset roots, log_dir and a crafted manifest trying to write outside the run dir."""
    from cnnspec.engine.rundir import resolve_run_dir
    from cnnspec.exceptions import CnnspecError, SpecError
    from cnnspec.spec import load_spec

    row = Row("path-traversal", "spec names used as run-directory names (../, absolute, ~, 300 characters...), "
              "dataset roots outside the tree, TensorBoard log_dir, and a crafted manifest.json whose entries point "
              "outside the run (resume prunes old checkpoints): nothing created, changed or deleted outside the run "
              "directory", unit="cases")
    rng = random.Random(seed)
    sandbox = workdir / "path-traversal"
    shutil.rmtree(sandbox, ignore_errors=True)
    (sandbox / "work").mkdir(parents=True)
    (sandbox / "precious.txt").write_text("keep me")
    cases: list[tuple[str, Callable[[], str | None]]] = []

    def run_name(name: str) -> Callable[[], str | None]:
        def case() -> str | None:
            try:
                spec = load_spec({"name": name, "input": [1], "model": ["relu"]})
                created = resolve_run_dir(spec, None, sandbox / "work" / "runs")
            except (SpecError, CnnspecError, OSError):
                return None  # refused
            inside = os.path.commonpath([created.resolve(), (sandbox / "work" / "runs").resolve()])
            return None if inside == str((sandbox / "work" / "runs").resolve()) else f"created {created}"
        return case

    for name in _NAMES_FOR_DIRS:
        cases.append((f"spec name {name[:40]!r}", run_name(name)))
    for dataset in ("mnist", "cifar10", "fashionmnist"):
        for root in ("../../escaped-data", str(sandbox / "escaped-data")):
            cases.append((f"{dataset} root {root!r} without download", _dataset_root_case(sandbox, dataset, root)))
    cases.append(("imagefolder train: ../../../ (reading only)", _dataset_root_case(
        sandbox, {"imagefolder": {"train": "../../../"}}, "data")))
    cases.append(("manifest entry ../../../precious.txt, then resume and prune", lambda: _manifest_case(sandbox)))
    for log_dir in ("../../escaped-board", str(sandbox / "escaped-board")):
        cases.append((f"tensorboard log_dir {log_dir!r}", _log_dir_case(sandbox, log_dir)))
    rng.shuffle(cases)
    with row.timed():
        for label, case in (cases * (1 + size // len(cases)))[:size]:
            row.size += 1
            before = Snapshot.take(sandbox)
            try:
                problem = case()
            except Exception as exc:
                problem = f"{type(exc).__name__}: {exc}"
            changes = before.changes(Snapshot.take(sandbox), inside=("work/runs",))
            if problem or changes:
                row.lose(f"{label}: {problem or ''} {changes[:4]}")
            else:
                row.hold()
            _restore(sandbox)
    return row


def _restore(sandbox: Path) -> None:
    """Undo a case: keep only work/ (emptied of runs) and precious.txt."""
    for item in sandbox.iterdir():
        if item.name not in ("work", "precious.txt"):
            shutil.rmtree(item) if item.is_dir() else item.unlink()
    shutil.rmtree(sandbox / "work" / "runs", ignore_errors=True)
    (sandbox / "precious.txt").write_text("keep me")


def _dataset_root_case(sandbox: Path, dataset: Any, root: str) -> Callable[[], str | None]:
    def case() -> str | None:
        from cnnspec.data import build_data
        from cnnspec.exceptions import SpecError
        from cnnspec.spec import load_spec

        spec = load_spec({"input": [1, 28, 28], "model": ["flatten", {"linear": {"out_features": 10}}],
                          "data": {"dataset": dataset, "root": root, "download": False}})
        cwd = os.getcwd()
        os.chdir(sandbox / "work")
        try:
            build_data(spec)
        except SpecError:
            return None
        finally:
            os.chdir(cwd)
        return None  # read what it could; the snapshot says whether anything was written
    return case


def _manifest_case(sandbox: Path) -> str | None:
    from cnnspec.callbacks.checkpoint import CheckpointCallback
    from cnnspec.checkpoint import save_checkpoint

    run = sandbox / "work" / "runs" / "downloaded"
    directory = run / "checkpoints"
    for step in (1, 2):
        save_checkpoint(directory, f"epoch{step:04d}.pt", {"model": _weights()}, meta={"step": step},
                        aliases=["last"])
    manifest = json.loads((directory / "manifest.json").read_text())
    manifest["checkpoints"].insert(0, {"file": "../../../../precious.txt", "seq": 0, "step": 0, "size": 7,
                                       "sha256": "0" * 64})
    (directory / "manifest.json").write_text(json.dumps(manifest))
    callback = CheckpointCallback(keep_last=1)  # what a resumed run does after its next save: prune
    callback.directory = directory
    callback._prune()
    return None if (sandbox / "precious.txt").exists() else "precious.txt outside the run was deleted"


def _log_dir_case(sandbox: Path, log_dir: str) -> Callable[[], str | None]:
    def case() -> str | None:
        from cnnspec.exceptions import SpecError
        from cnnspec.plugins.manager import get_plugins
        from cnnspec.spec import load_spec

        args = {"log_dir": log_dir, "graph": False, "images": 0}
        try:  # refused when the spec loads: fine
            load_spec({"input": [1], "model": ["relu"], "callbacks": [{"tensorboard": args}]})
        except SpecError:
            return None

        class _Trainer:  # what on_fit_start reads when there is no graph and no image grid
            is_main_process = True
            run_dir = sandbox / "work" / "runs" / "run"
            global_step = 0
            data = None

        _Trainer.run_dir.mkdir(parents=True, exist_ok=True)
        callback = get_plugins().registry("callback").get("tensorboard").load()(**args)
        callback.on_fit_start(_Trainer())
        callback.teardown(_Trainer())
        return None
    return case
