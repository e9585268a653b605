"""The server's answers, each against the real thing it describes.

Diagnostics against ``validate``'s golden messages and locations; fix-its by
validating the edited text; signatures read from source against
``inspect.signature`` of the imported classes; hover's shapes and arithmetic
against torch's forward pass; completion against the argument models.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from cnnspec.analysis.fixits import fixes_for
from cnnspec.lsp.actions import apply_edits, fix_edits
from cnnspec.lsp.analysis import analyze
from cnnspec.lsp.completion import complete
from cnnspec.lsp.diagnostics import problems
from cnnspec.lsp.hover import hover
from cnnspec.lsp.signatures import ENGINE_ARGS, component_arguments
from cnnspec.plugins.manager import PluginSet
from cnnspec.render import render_located
from tests.conftest import ROOT

PLUGINS = PluginSet(autoload=False)
GOLDEN = sorted((ROOT / "tests" / "golden" / "errors").glob("*.y*ml")) + \
    sorted((ROOT / "tests" / "golden" / "errors").glob("*.json"))
_LOCATED = re.compile(r"^(?P<file>[^\s:]+):(?P<line>\d+):(?P<col>\d+): (?P<rest>.*)$")


def _analysis(path: Path):
    return analyze(path.read_text(encoding="utf-8"), str(path), PLUGINS)


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.stem)
def test_diagnostics_say_what_validate_says_where_it_says_it(path: Path):
    """Each golden error's located lines, with the editor's range instead of ``file:line:col:``."""
    golden = (path.with_suffix(".txt")).read_text(encoding="utf-8").split("  Fixes (")[0].rstrip("\n")
    analysis = _analysis(path)
    found = problems(analysis)
    assert found, path.name
    shown = []
    for p in found:
        shown.append(f"{p.span.line + 1}:{p.span.col + 1}: {p.message}")
    expected = []
    for line in golden.split("\n"):
        m = _LOCATED.match(line)
        if m:
            expected.append(f"{m['line']}:{m['col']}: {m['rest']}")
        elif expected:
            expected[-1] += "\n" + line
        else:
            expected.append(line)
    assert shown == expected


@pytest.mark.parametrize("path", [p for p in GOLDEN if p.suffix == ".yaml"], ids=lambda p: p.stem)
def test_every_fix_it_written_into_the_text_validates(path: Path):
    analysis = _analysis(path)
    fixes = fixes_for(None, analysis.error) if analysis.error is not None else []
    if not fixes:
        pytest.skip("no fix-its for this error")
    text = path.read_text(encoding="utf-8")
    for fix in fixes:
        edits = fix_edits(analysis, fix, lambda f: text.split("\n"))
        assert edits, fix.description
        again = analyze(apply_edits(text, edits), str(path), PLUGINS)
        assert again.errors == [], (fix.description, [render_located(e) for e in again.errors])


# -- signatures read from source ------------------------------------------------------------------

COMPONENTS = [(kind, entry) for kind in ("optimizer", "scheduler", "loss", "dataset", "transform", "callback")
              for entry in PLUGINS.registry(kind)]


@pytest.mark.parametrize(("kind", "entry"), COMPONENTS, ids=[f"{k}-{e.name}" for k, e in COMPONENTS])
def test_arguments_read_without_importing_match_the_real_signature(kind: str, entry):
    pytest.importorskip("torch")
    args = component_arguments(entry.obj, kind)
    assert args is not None
    if entry.obj.params is not None:
        assert [a.name for a in args] == [n for n in entry.obj.params.model_fields if n != "name"]
        return
    real = inspect.signature(entry.obj.load())
    params = [p for p in list(real.parameters.values())[ENGINE_ARGS.get(kind, 0):]
              if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    assert [a.name for a in args] == [p.name for p in params]
    for a, p in zip(args, params):
        assert (a.default is None) == (p.default is p.empty), a.name
        if p.default is not p.empty and isinstance(p.default, (int, float, bool, str, type(None))):
            assert a.default == repr(p.default), a.name


def test_the_server_side_never_imports_torch():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from cnnspec.lsp.analysis import analyze\n"
        "from cnnspec.lsp.completion import complete\n"
        "from cnnspec.lsp.hover import hover\n"
        "from cnnspec.lsp.signatures import component_arguments\n"
        "from cnnspec.plugins.manager import get_plugins\n"
        "P = get_plugins()\n"
        "a = analyze(open('specs/resnet18.yaml').read(), 'specs/resnet18.yaml', P)\n"
        "hover(a, 8, 10)\n"
        "for kind in ('optimizer', 'scheduler', 'loss', 'transform', 'dataset', 'callback'):\n"
        "    [component_arguments(e.obj, kind) for e in P.registry(kind)]\n"
        "complete(['model:', '  - '], 1, 4, P)\n"
        "assert 'torch' not in sys.modules, sorted(m for m in sys.modules if m.startswith('torch'))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


# -- hover against torch ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["seed000_lenet_cifar10.yaml", "seed003_cifar10cnn.yaml", "googlenet.yaml"])
def test_hover_shapes_and_arithmetic_are_what_torch_computes(name: str):
    torch = pytest.importorskip("torch")
    from cnnspec.build import build_from_trace

    path = ROOT / "specs" / name
    analysis = _analysis(path)
    trace = analysis.trace
    model = build_from_trace(trace).eval()
    seen: dict[str, tuple] = {}

    def record(name: str):
        def hook(module, inputs, output) -> None:
            seen.setdefault(name, tuple(output.shape[1:]))

        return hook

    hooks = [m.register_forward_hook(record(q)) for q, m in model.named_modules() if q]
    with torch.no_grad():
        model(torch.zeros(1, *trace.input_shape))
    for h in hooks:
        h.remove()
    checked = 0
    for info in trace.leaves():
        if info.location is None or info.qualname not in seen or "kernel_size" not in (info.kwargs or {}):
            continue
        text, _ = hover(analysis, info.location.line - 1, info.location.column + 1)
        real = list(seen[info.qualname])
        assert f"output `{real}`" in text.replace("'", ""), (info.qualname, text)
        results = [int(r) for r in re.findall(r"= (\d+)`", text.split("params:")[0])]
        assert results == real[-len(results):], (info.qualname, text)  # each formula's result, per dim
        checked += 1
    assert checked >= 3


# -- completion against the models ----------------------------------------------------------------------

def test_completed_arguments_are_the_models_fields_and_validate():
    for entry in PLUGINS.layers():
        lines = ["input: [3, 8, 8]", "model:", f"  - {entry.name.lower()}: {{"]
        items, _ = complete(lines, 2, len(lines[2]), PLUGINS)
        offered = {i.label for i in items}
        assert offered == {n for n in entry.obj.params.model_fields if n != "name"}, entry.name


def test_completion_inside_a_half_typed_document():
    text = "input: [3, 32, 32]\nmodel:\n  - conv2d: {out_channels: 8, kernel_size: 3\n  - maxp"
    lines = text.split("\n")
    items, start = complete(lines, 3, len(lines[3]), PLUGINS)
    assert "maxpool2d" in {i.label for i in items} and start == 4
    items, _ = complete(["train:", "  optimizer: {adam: {"], 1, 22, PLUGINS)
    assert {"lr", "betas", "weight_decay"} <= {i.label for i in items}
    items, _ = complete(["data:", "  dataset: "], 1, 11, PLUGINS)
    assert {"cifar10", "mnist", "digits"} <= {i.label for i in items}
    items, _ = complete(["vars: {width: 8}", "model:", "  - conv2d: {out_channels: ${va"], 2, 35, PLUGINS,
                        variables={"width": 8})
    assert [i.label for i in items] == ["vars.width"]
