"""Scenario group 6: plugins that misbehave.

Each case is a set of small plugin distributions written to disk in the
format pip installs (a package plus ``NAME-VERSION.dist-info`` with
``METADATA`` and ``entry_points.txt``), found through ``sys.path`` exactly as
installed ones are. For each broken plugin:

* a spec that does not use it validates exactly as without it (unrelated
  work continues);
* ``cnnspec plugins`` exits 0 and names the plugin and its distribution;
* a spec that uses a name it would provide exits 2 with a located message
  naming the plugin (and both distributions for a duplicate name), no
  traceback.

A slow plugin (it sleeps at import) delays ``validate`` but does not change
its answer, and ``-p no:NAME`` skips it without importing it; a plugin that
hangs at import can be interrupted with Ctrl-C (exit 130, no traceback).
A callback plugin that raises mid-training stops the run naming the
callback, and the run resumes from its last checkpoint to the same weights
as a run where it never raised (a worker scenario: it trains).
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reliability.harness import default_signals, python_env
from reliability.rows import Row

__all__ = ["CASES", "Dist", "PluginCase", "callback_raises", "plugin_faults", "slow_and_hanging", "write_dist"]


@dataclass
class Dist:
    """A plugin distribution: its name, version, entry points and module sources."""

    name: str
    entry_points: dict[str, str]
    modules: dict[str, str]
    version: str = "1.0"


def write_dist(folder: Path, dist: Dist) -> Path:
    """Write ``dist`` as pip would have installed it into ``folder`` (a site-packages of its own)."""
    folder.mkdir(parents=True, exist_ok=True)
    for module, source in dist.modules.items():
        path = folder / (module.replace(".", "/") + ".py")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
        for parent in path.relative_to(folder).parents:
            if str(parent) != ".":
                (folder / parent / "__init__.py").touch()
    info = folder / f"{dist.name.replace('-', '_')}-{dist.version}.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist.name}\nVersion: {dist.version}\n")
    (info / "entry_points.txt").write_text(
        "[cnnspec]\n" + "".join(f"{name} = {target}\n" for name, target in dist.entry_points.items()))
    (info / "RECORD").write_text("")
    return folder


_RELU_CLONE = (
    "from cnnspec import hookimpl\n"
    "from cnnspec.builtin.layers.activation import LAYERS\n\n"
    "_relu = next(lt for lt in LAYERS if lt.name == 'ReLU')\n"
)


def _layer_plugin(body: str, *, extra: str = "") -> str:
    return _RELU_CLONE + textwrap.dedent(extra) + "\n\n@hookimpl\ndef cnnspec_layers():\n" + textwrap.indent(
        textwrap.dedent(body), "    ")


def _rule_plugin(rule: str) -> str:
    return (_RELU_CLONE + "from dataclasses import replace\n\n\ndef infer(params, shape, ctx):\n"
            + textwrap.indent(textwrap.dedent(rule), "    ")
            + "\n\n\n@hookimpl\ndef cnnspec_layers():\n    return [replace(_relu, name='Gizmo', infer=infer)]\n")


@dataclass
class PluginCase:
    """Broken distributions, and what must be said about them."""

    name: str
    dists: list[Dist]
    culprits: tuple[str, ...]  # words the messages must contain
    uses: str | None = "gizmo"  # a layer name a spec uses that the plugin would provide
    listed: bool = True  # `cnnspec plugins` must mention the culprits
    extra: dict[str, Any] = field(default_factory=dict)


def _dist(key: str, name: str, source: str, *, entry: str = "gizmo") -> Dist:
    return Dist(f"cnnspec-t-{name}", {entry: f"{key}_{name}.plugin"}, {f"{key}_{name}.plugin": source})


def _cases(key: str) -> list[PluginCase]:
    """The fault cases; ``key`` makes module names unique to one run (they stay in sys.modules)."""
    gizmo = 'return [type(_relu)("Gizmo", _relu.params, _relu.infer, _relu.build)]'
    return [
        PluginCase("import error (a missing dependency)", [_dist(key, "noimport", "import a_dependency_nobody_has\n")],
                   ("gizmo", "cnnspec-t-noimport", "a_dependency_nobody_has")),
        PluginCase("import raises RuntimeError", [_dist(key, "raising", "raise RuntimeError('no licence')\n")],
                   ("gizmo", "cnnspec-t-raising", "no licence")),
        PluginCase("import calls sys.exit", [_dist(key, "exits", "import sys\nsys.exit(3)\n")],
                   ("gizmo", "cnnspec-t-exits", "SystemExit")),
        PluginCase("import recurses without end", [_dist(key, "recursion", "def f():\n    return f()\nf()\n")],
                   ("gizmo", "cnnspec-t-recursion", "RecursionError")),
        PluginCase("a registration hook raises", [_dist(key, "hookraise", _layer_plugin(
            "raise ValueError('catalogue offline')"))], ("gizmo", "cnnspec-t-hookraise", "catalogue offline")),
        PluginCase("a hook returns a dict", [_dist(key, "dict", _layer_plugin("return {'Gizmo': _relu}"))],
                   ("gizmo", "cnnspec-t-dict", "dict")),
        PluginCase("a hook returns a string", [_dist(key, "string", _layer_plugin("return 'Gizmo'"))],
                   ("gizmo", "cnnspec-t-string", "str")),
        PluginCase("a hook returns one object, not a list", [_dist(key, "single", _layer_plugin(
            'return type(_relu)("Gizmo", _relu.params, _relu.infer, _relu.build)'))],
            ("gizmo", "cnnspec-t-single", "list")),
        PluginCase("a hook returns a name with a colon", [_dist(key, "badname", _layer_plugin(
            'return [type(_relu)("Giz:mo", _relu.params, _relu.infer, _relu.build)]'))],
            ("gizmo", "cnnspec-t-badname"), uses=None),
        PluginCase("a misspelled hook", [_dist(key, "typo", _RELU_CLONE + "\n@hookimpl\ndef cnnspec_layer():\n"
                                                "    return []\n")], ("gizmo", "cnnspec-t-typo", "cnnspec_layers")),
        PluginCase("a hook asking for an unknown argument", [_dist(key, "wrongarg", _RELU_CLONE +
                   "\n@hookimpl\ndef cnnspec_layers(config):\n    return []\n")],
                   ("gizmo", "cnnspec-t-wrongarg", "config")),
        PluginCase("the same name twice in one hook", [_dist(key, "twice", _layer_plugin(f"{gizmo} * 2"))],
                   ("gizmo", "cnnspec-t-twice", "twice")),
        PluginCase("two distributions register the same layer name",
                   [_dist(key, "alpha", _layer_plugin(gizmo), entry="alpha"),
                    _dist(key, "beta", _layer_plugin(gizmo), entry="beta")],
                   ("Gizmo", "alpha", "beta")),
        PluginCase("two distributions claim the same plugin name",
                   [_dist(key, "twin1", _layer_plugin(gizmo), entry="twin"),
                    _dist(key, "twin2", _layer_plugin(gizmo.replace("Gizmo", "Gadget")), entry="twin")],
                   ("twin", "cnnspec-t-twin1", "cnnspec-t-twin2"), uses=None),
        PluginCase("an entry point named like a built-in plugin",
                   [_dist(key, "shadow", _layer_plugin(gizmo), entry="layers")],
                   ("layers", "cnnspec-t-shadow"), uses=None),
        PluginCase("a shape rule raises ZeroDivisionError", [_dist(key, "zerodiv", _rule_plugin("return 1 // 0"))],
                   ("Gizmo", "cnnspec-t-zerodiv", "ZeroDivisionError"), listed=False),
        PluginCase("a shape rule returns None", [_dist(key, "norule", _rule_plugin("return None"))],
                   ("Gizmo",), listed=False),
        PluginCase("a shape rule returns a negative size", [_dist(key, "negative", _rule_plugin(
            "from cnnspec.layer import LayerShape\nreturn LayerShape(shape=(-3, 2))"))], ("Gizmo",), listed=False),
        PluginCase("a shape rule recurses without end", [_dist(key, "rulerec", _rule_plugin(
            "def f():\n    return f()\nreturn f()"))], ("Gizmo", "RecursionError"), listed=False),
    ]


#: case names, in order (the cases themselves are built per run)
CASES = [c.name for c in _cases("x")]

_UNRELATED = "input: [3, 16, 16]\nmodel:\n  - conv2d: {out_channels: 4, kernel_size: 3}\n  - relu\n  - flatten\n"


def _cli(folders: list[Path], *argv: str) -> tuple[int, str, str]:
    """``cnnspec ARGV`` in this process with ``folders`` first on sys.path and a fresh plugin set."""
    import importlib

    from cnnspec.cli import main
    from cnnspec.plugins.manager import AUTOLOAD_ENV, reset_plugins

    saved_path, saved_env = list(sys.path), os.environ.pop(AUTOLOAD_ENV, None)
    sys.path[:0] = [str(f) for f in folders]
    importlib.invalidate_caches()
    reset_plugins()
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(argv))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.path[:] = saved_path
        if saved_env is not None:
            os.environ[AUTOLOAD_ENV] = saved_env
        reset_plugins()
    return code, out.getvalue(), err.getvalue()


def _check_case(case: PluginCase, folders: list[Path], specs: Path, baseline: tuple[int, str, str]) -> list[str]:
    problems = []
    unrelated = specs / "unrelated.yaml"
    code, out, err = _cli(folders, "validate", str(unrelated))
    if (code, out) != baseline[:2]:
        problems.append(f"an unrelated spec changed: exit {code}, {err[-300:]}")
    code, out, err = _cli(folders, "plugins")
    if code != 0 or "Traceback" in out + err:
        problems.append(f"cnnspec plugins: exit {code}: {err[-300:]}")
    elif case.listed:
        missing = [c for c in case.culprits if c.lower() not in out.lower()]
        if missing:
            problems.append(f"cnnspec plugins does not mention {missing}")
    if case.uses:
        using = specs / "uses.yaml"
        using.write_text(f"input: [3, 16, 16]\nmodel:\n  - {case.uses}\n")
        code, out, err = _cli(folders, "validate", str(using))
        first = err.splitlines()[0] if err else ""
        if code != 2 or "Traceback" in err or "internal error" in err:
            problems.append(f"a spec using '{case.uses}': exit {code}: {err[-400:]}")
        elif not first.startswith(f"{using}:"):
            problems.append(f"not located: {first[:200]}")
        else:
            missing = [c for c in case.culprits if c.lower() not in err.lower()]
            if missing:
                problems.append(f"the error does not name {missing}: {err[:400]}")
    return problems


def plugin_faults(size: int, seed: int, workdir: Path) -> Row:
    """Scenario: every fault case (``size`` of them, cycling), each in its own site folder."""
    row = Row("plugin-faults", "plugins that fail to import (missing dependency, exception, sys.exit, recursion), "
              "raise in a hook, return dicts/strings/single objects/bad names, misspell a hook, ask for unknown "
              "arguments, register a name twice, collide with another distribution or a built-in, or have shape "
              "rules that raise, return None or negative sizes: unrelated specs validate unchanged, `cnnspec "
              "plugins` names the culprit, a spec that needs it gets a located error naming it", unit="cases")
    folder = workdir / "plugin-faults"
    shutil.rmtree(folder, ignore_errors=True)
    specs = folder / "specs"
    specs.mkdir(parents=True)
    (specs / "unrelated.yaml").write_text(_UNRELATED)
    baseline = _cli([], "validate", str(specs / "unrelated.yaml"))
    with row.timed():
        for i in range(size):
            key = f"p{seed}x{i}"
            case = _cases(key)[i % len(CASES)]
            folders = [write_dist(folder / f"site{i}-{j}", d) for j, d in enumerate(case.dists)]
            row.size += 1
            try:
                problems = _check_case(case, folders, specs, baseline)
            except Exception as exc:
                problems = [f"{type(exc).__name__}: {exc}"]
            if problems:
                row.lose(f"{case.name}: {'; '.join(problems)}")
            else:
                row.hold()
    return row


# -- slow and hanging plugins (fresh interpreters: they sleep in their import) -------------------------

def _run_cli(folder: Path, *argv: str, env: dict[str, str] | None = None,
             interrupt_when: Path | None = None) -> tuple[int, str, float]:
    """``python -m cnnspec ARGV`` with ``folder`` on PYTHONPATH; SIGINT once ``interrupt_when`` exists."""
    full_env = python_env(**(env or {}))
    full_env["PYTHONPATH"] = os.pathsep.join([str(folder), full_env["PYTHONPATH"]])
    began = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "cnnspec", *argv], env=full_env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, preexec_fn=default_signals)
    if interrupt_when is not None:
        deadline = time.monotonic() + 120
        while not interrupt_when.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
    try:
        out, _ = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        return -9, out, time.monotonic() - began
    return proc.returncode, out, time.monotonic() - began


def slow_and_hanging(size: int, seed: int, workdir: Path) -> Row:
    """Scenario: a plugin sleeping 1.5 s at import, and one sleeping forever (interrupted with Ctrl-C)."""
    row = Row("slow-plugins", "a plugin that sleeps 1.5 s at import: validate waits and answers exactly as without "
              "it, -p no:NAME and CNNSPEC_DISABLE_PLUGIN_AUTOLOAD=1 skip it unimported; a plugin that never "
              "finishes importing: Ctrl-C ends validate with exit 130, naming the plugin, no traceback", unit="runs")
    folder = workdir / "slow-plugins"
    shutil.rmtree(folder, ignore_errors=True)
    specs = folder / "specs"
    specs.mkdir(parents=True)
    unrelated = specs / "unrelated.yaml"
    unrelated.write_text(_UNRELATED)
    marker = folder / "imported"
    slow = write_dist(folder / "slow", Dist("cnnspec-t-slow", {"slow": "slow_plugin.plugin"}, {
        "slow_plugin.plugin": f"import pathlib, time\npathlib.Path({str(marker)!r}).touch()\ntime.sleep(1.5)\n"}))
    hang = write_dist(folder / "hang", Dist("cnnspec-t-hang", {"hang": "hang_plugin.plugin"}, {
        "hang_plugin.plugin": f"import pathlib, time\npathlib.Path({str(marker)!r}).touch()\ntime.sleep(10**6)\n"}))
    runs: list[tuple[str, Callable[[], str | None]]] = []
    baseline = _cli([], "validate", str(unrelated))

    def waits() -> str | None:
        code, out, seconds = _run_cli(slow, "validate", str(unrelated))
        row.peak("slow_plugin_validate_s", seconds)
        if not marker.exists():
            return "the slow plugin was never imported"
        return None if (code, out) == baseline[:2] else f"exit {code}: {out[-300:]}"

    def skipped(*argv: str, env: dict[str, str] | None = None) -> Callable[[], str | None]:
        def run() -> str | None:
            code, out, _ = _run_cli(slow, *argv, "validate", str(unrelated), env=env)
            if marker.exists():
                return f"imported despite {argv or env}"
            return None if (code, out) == baseline[:2] else f"exit {code}: {out[-300:]}"
        return run

    def interrupted() -> str | None:
        code, out, _ = _run_cli(hang, "validate", str(unrelated), interrupt_when=marker)
        if code != 130 or "Traceback" in out:
            return f"exit {code}: {out[-300:]}"
        if "-p no:hang" not in out:
            return f"the plugin being imported is not named: {out[-300:]}"
        return None

    runs = [("waits for a slow plugin", waits), ("-p no:slow", skipped("-p", "no:slow")),
            ("autoload disabled", skipped(env={"CNNSPEC_DISABLE_PLUGIN_AUTOLOAD": "1"})),
            ("Ctrl-C during a hanging import", interrupted)]
    with row.timed():
        for i in range(size):
            label, run = runs[i % len(runs)]
            marker.unlink(missing_ok=True)
            row.size += 1
            problem = run()
            if problem:
                row.lose(f"{label}: {problem}")
            else:
                row.hold()
    return row


# -- a callback plugin that raises in the middle of training (forks training runs: a worker scenario) ---

_BOOM = """\
from pathlib import Path

from cnnspec import hookimpl
from cnnspec.callbacks.base import Callback
from cnnspec.component import Component


class Boom(Callback):
    def __init__(self, armed: str, at_step: int) -> None:
        self.armed, self.at_step = Path(armed), at_step

    def on_train_batch_end(self, trainer, batch, loss, inputs, targets, outputs):
        if trainer.global_step == self.at_step and self.armed.exists():
            self.armed.unlink()
            raise RuntimeError("boom: the plugin's remote logger is down")


@hookimpl
def cnnspec_callbacks():
    return [Component("boom", "boom_plugin.plugin:Boom")]
"""


def callback_raises(size: int, seed: int, workdir: Path) -> Row:
    """Scenario: a plugin callback raises at a random step; the run stops naming it and resumes identically."""
    import random

    from reliability.runtime import _finish, _resume_identical
    from reliability.training import SPECS, TOTAL_STEPS, Launcher, prepare, reference, spec_file, train_argv

    prepare()
    row = Row("plugin-callback-raises", "a third-party callback raises at a random training step: the run stops "
              "(exit 1) naming the callback, its event and the plugin's file; resumed, it ends bit-identical to "
              "a run where the callback never raised", unit="runs")
    rng = random.Random(seed)
    folder = workdir / "plugin-callback-raises"
    shutil.rmtree(folder, ignore_errors=True)
    launcher = Launcher(folder / "logs")
    site = write_dist(folder / "site", Dist("cnnspec-t-boom", {"boom": "boom_plugin.plugin"},
                                            {"boom_plugin.plugin": _BOOM}))
    faults = (f"syspath:{site}",)
    from reliability.kills import _REFERENCES

    with row.timed():
        ref = reference(launcher, folder, "tiny", _REFERENCES)
        spec_file(folder, "tiny")
        for i in range(size):
            step = rng.randrange(3, TOTAL_STEPS - 1)
            armed = folder / f"armed{i}"
            armed.touch()
            spec = folder / f"boom{i}.yaml"
            spec.write_text(SPECS["tiny"] + f"  - boom: {{armed: {armed}, at_step: {step}}}\n")
            run = folder / f"run{i:03d}"
            row.size += 1
            problems: list[str] = []
            child = launcher.run(train_argv(spec, run), faults=faults)
            out = child.output
            if child.returncode != 1:
                problems.append(f"exit {child.returncode}, expected 1: {out[-400:]}")
            elif "callback 'boom' failed in on_train_batch_end: RuntimeError: boom" not in out \
                    or "boom_plugin" not in out or "Traceback" in out:
                problems.append(f"the culprit is not named plainly: {out[-400:]}")
            else:
                _resume_identical(launcher, run, ref, problems, faults=faults)
            _finish(row, f"raising at step {step + 1}", problems)
            if not problems:
                shutil.rmtree(run, ignore_errors=True)
    return row
