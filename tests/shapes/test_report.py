"""The summary table: kernel / stride / padding columns against the built torch modules, and --depth."""

from __future__ import annotations

import pytest

from cnnspec.cli import main
from cnnspec.shapes.report import argument_cells, table, visible_rows
from cnnspec.shapes.walker import infer_shapes
from cnnspec.spec import load_spec
from tests.conftest import ROOT

SPECS = ["seed000_lenet_cifar10.yaml", "seed003_cifar10cnn.yaml", "resnet18.yaml", "googlenet.yaml",
         "mobilenet_v2.yaml", "any_size_cnn.yaml"]


def _cell_values(text: str, n: int) -> tuple:
    """``3x3`` / ``2`` / ``same`` as torch's per-dim tuple (or the string)."""
    if text in ("same", "valid"):
        return (text,)
    parts = [int(p) for p in text.split("x")]
    return tuple(parts * n if len(parts) == 1 else parts)


def _torch_values(value, n: int) -> tuple:
    if isinstance(value, str):
        return (value,)
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * n


def _module(modules: dict, qualname: str):
    if qualname in modules:
        return modules[qualname]
    # concat branches sit under a ``branches`` container in the built model
    parts = qualname.split(".")
    for i, part in enumerate(parts):
        if part.startswith("branch"):
            alt = ".".join([*parts[:i], "branches", *parts[i:]])
            if alt in modules:
                return modules[alt]
    return None


@pytest.mark.parametrize("name", SPECS)
def test_kernel_stride_padding_are_those_of_the_built_modules(name: str):
    torch = pytest.importorskip("torch")
    from cnnspec.build import build_from_trace

    spec = load_spec(ROOT / "specs" / name)
    trace = infer_shapes(spec, input_shape=[d if isinstance(d, int) else 64 for d in spec.input])
    modules = dict(build_from_trace(trace).named_modules())
    checked = 0
    for info in trace.leaves():
        kernel, stride, padding = argument_cells(info)
        module = _module(modules, info.qualname)
        if module is None:
            continue
        has_kernel = hasattr(module, "kernel_size") and not isinstance(module, torch.nn.Flatten)
        assert bool(kernel) == has_kernel, info.qualname
        if not kernel:
            continue
        n = len(info.output_shape) - 1
        assert _cell_values(kernel, n) == _torch_values(module.kernel_size, n), info.qualname
        assert _cell_values(stride, n) == _torch_values(module.stride, n), info.qualname
        assert _cell_values(padding, n) == _torch_values(module.padding, n), info.qualname
        checked += 1
    assert checked >= 2


@pytest.mark.parametrize("name", ["resnet50.yaml", "googlenet.yaml", "seed001_mnist_cnn.yaml"])
@pytest.mark.parametrize("depth", [1, 2, 3])
def test_depth_keeps_the_top_levels_with_their_totals(name: str, depth: int):
    trace = infer_shapes(load_spec(ROOT / "specs" / name))
    rows = list(visible_rows(trace, depth))
    assert rows == [i for i in trace.walk() if i.depth < depth]
    assert sum(r.params for r in rows if r.depth == 0) == trace.params
    text = table(trace, depth=depth, arguments=True)
    body = text.split("\n")[2:2 + len(rows)]
    assert [line.split()[0] for line in body] == [r.name for r in rows]


def test_summary_command_prints_depth_and_columns(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert main(["summary", "specs/resnet50.yaml", "--depth", "1"]) == 0
    out = capsys.readouterr().out
    header = out.splitlines()[1].split()
    assert header[:6] == ["Layer", "Type", "Output", "shape", "Kernel", "Stride"]
    names = [line.split()[0] for line in out.splitlines()[3:]]
    assert "layer1" in names and "block1" not in names and "conv1" in names
    assert "conv1     Conv2d             [64, 112, 112]  7x7     2       3" in out
    with pytest.raises(SystemExit) as exc:
        main(["summary", "specs/resnet50.yaml", "--depth", "0"])
    assert exc.value.code == 2
    assert "depth must be at least 1" in capsys.readouterr().err
