"""Exporting a spec's model to a deployable file, checked against eager torch.

Two formats: ``pt2`` (``torch.export``: an ExportedProgram, loadable with
``torch.export.load`` and no cnnspec installed) and ``onnx`` (the dynamo-based
``torch.onnx.export``). The batch dimension is exported as dynamic.

An export is only worth something if the file computes what the model
computes, so every export is read back from disk and run on random inputs at
batch sizes *other* than the one traced (which also proves the batch is
dynamic): ``torch.export.load`` for pt2; ``onnx.checker`` plus onnxruntime —
or, where it is not installed, onnx's own reference evaluator — for ONNX. The
largest absolute difference from the eager model is reported and compared with
a tolerance scaled by the output's magnitude.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnnspec.build.weights import fit_state, read_weights
from cnnspec.exceptions import ExportError, SpecError
from cnnspec.spec import Spec

__all__ = ["FORMATS", "ExportError", "ExportReport", "export_model", "load_weights"]

FORMATS = ("pt2", "onnx")

#: batch sizes the exported file is checked on (the trace uses TRACE_BATCH)
CHECK_BATCHES = (1, 3)
TRACE_BATCH = 2

#: ONNX weights beyond this go to a side file (``FILE.data``); protobuf stops at 2 GiB
ONNX_SINGLE_FILE_LIMIT = 1 << 30


@dataclass
class ExportReport:
    """What was written and how closely it reproduces the eager model."""

    path: Path
    format: str
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    weights: str
    checked_with: str
    max_abs_diff: float
    tolerance: float
    batches: tuple[int, ...] = CHECK_BATCHES
    details: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.max_abs_diff <= self.tolerance

    @property
    def files(self) -> list[Path]:
        """The written files: the export, and ONNX external weights if any."""
        side = self.path.with_name(self.path.name + ".data")
        return [self.path, *([side] if self.format == "onnx" and side.exists() else [])]

    @property
    def size(self) -> int:
        return sum(f.stat().st_size for f in self.files if f.exists())

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path), "format": self.format, "input_shape": list(self.input_shape),
            "output_shape": list(self.output_shape), "weights": self.weights, "checked_with": self.checked_with,
            "batches": list(self.batches), "max_abs_diff": self.max_abs_diff, "tolerance": self.tolerance,
            "ok": self.ok, "files": [str(f) for f in self.files], "bytes": self.size,
        }


def load_weights(model: Any, checkpoint: str | Path, which: str = "best") -> str:
    """Load a checkpoint (file or run directory) into ``model``; returns where from.

    The state_dict must fit the model exactly: a checkpoint of another spec is
    refused with :func:`cnnspec.build.weights.fit_state`'s message, not loaded partially.
    """
    weights = read_weights(checkpoint, which=which)
    fit_state(model, weights.state, source=weights.path)
    return weights.describe()


def _fixed_input(spec: Spec) -> tuple[int, ...]:
    dims = spec.input
    if not all(isinstance(d, int) for d in dims):
        shown = "[" + ", ".join(str(d) for d in dims) + "]"
        example = "[" + ", ".join(str(d) if isinstance(d, int) else "224" for d in dims) + "]"
        raise SpecError(f"export needs a fixed input size, but the spec's input is {shown}",
                        location=spec.document.locate(("input",)), path="input",
                        hint=f"choose one, e.g. --set 'input={example}'")
    return tuple(int(d) for d in dims)


def _quietly(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run an exporter without its progress chatter on stdout/stderr."""
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        return fn(*args, **kwargs)


def _export_pt2(model: Any, example: Any, path: Path) -> None:
    import torch

    batch = torch.export.Dim("batch", min=1)
    try:
        program = _quietly(torch.export.export, model, (example,), dynamic_shapes=({0: batch},))
    except Exception as exc:
        raise ExportError(f"torch.export could not trace the model: {type(exc).__name__}: {exc}") from None
    torch.export.save(program, str(path))


def _run_pt2(path: Path) -> Any:
    import torch

    module = torch.export.load(str(path)).module()
    return lambda x: module(x).detach().numpy(), "torch.export.load"


def _export_onnx(model: Any, example: Any, path: Path, opset: int | None) -> None:
    import torch

    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError as exc:
        raise ExportError(f"ONNX export needs the onnx and onnxscript packages ({exc.name} is missing); "
                          "install them with: pip install 'cnnspec[export]'") from None
    batch = torch.export.Dim("batch", min=1)
    # one self-contained file unless the weights pass protobuf's 2 GiB limit
    weight_bytes = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    kwargs: dict[str, Any] = {"dynamo": True, "verbose": False, "input_names": ["input"],
                              "output_names": ["output"], "dynamic_shapes": ({0: batch},),
                              "external_data": weight_bytes > ONNX_SINGLE_FILE_LIMIT}
    if opset is not None:
        kwargs["opset_version"] = opset
    try:
        _quietly(torch.onnx.export, model, (example,), str(path), **kwargs)
    except Exception as exc:
        raise ExportError(f"torch.onnx.export failed: {type(exc).__name__}: {exc}") from None


def _run_onnx(path: Path) -> Any:
    import onnx

    proto = onnx.load(str(path))
    try:
        onnx.checker.check_model(proto, full_check=True)
    except Exception as exc:
        raise ExportError(f"{path}: onnx.checker rejects the exported model: {exc}") from None
    name = proto.graph.input[0].name
    try:
        import onnxruntime
    except ImportError:
        from onnx.reference import ReferenceEvaluator

        evaluator = ReferenceEvaluator(proto)

        def run(x: Any) -> Any:
            try:
                return evaluator.run(None, {name: x.numpy()})[0]
            except Exception as exc:
                raise ExportError(
                    f"{path} was written, but onnx's reference evaluator cannot run it: {type(exc).__name__}: "
                    f"{exc}. The evaluator has gaps (onnx {onnx.__version__} gets MaxPool with ceil_mode=1 "
                    "wrong); install onnxruntime for the numeric check: pip install onnxruntime") from None

        return run, "onnx.checker + onnx reference evaluator"
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return lambda x: session.run(None, {name: x.numpy()})[0], "onnx.checker + onnxruntime"


def _compare(model: Any, run: Any, shape: Sequence[int], seed: int, batches: Sequence[int]) -> tuple[float, float]:
    """Max abs difference over the batches, and the largest eager output magnitude."""
    import numpy as np
    import torch

    gen = torch.Generator().manual_seed(seed)
    worst, scale = 0.0, 0.0
    for n in batches:
        x = torch.randn(n, *shape, generator=gen)
        with torch.no_grad():
            want = model(x).numpy()
        got = np.asarray(run(x))
        if got.shape != want.shape:
            raise ExportError(f"the exported model gives shape {list(got.shape)} for a batch of {n}, "
                              f"the eager model {list(want.shape)}")
        worst = max(worst, float(np.abs(got.astype(np.float64) - want).max()))
        scale = max(scale, float(np.abs(want).max()))
    return worst, scale


def export_model(
    spec: Spec,
    *,
    fmt: str = "pt2",
    checkpoint: str | Path | None = None,
    output: str | Path | None = None,
    tolerance: float = 1e-4,
    opset: int | None = None,
    which: str = "best",
) -> ExportReport:
    """Build the spec's model, load its weights, export it and check the file.

    Without ``checkpoint`` the weights are the spec's seeded initialisation
    (useful to check a spec is exportable before training it); a run directory
    gives its best checkpoint, or its newest with ``which="last"``. ``tolerance``
    is relative to the largest eager output magnitude (at least 1).
    """
    import torch

    from cnnspec.build import build_from_trace
    from cnnspec.shapes.walker import infer_shapes

    if fmt not in FORMATS:
        raise ExportError(f"unknown export format '{fmt}' (known: {', '.join(FORMATS)})")
    shape = _fixed_input(spec)
    trace = infer_shapes(spec)
    torch.manual_seed(spec.config.seed)
    model = build_from_trace(trace)
    weights = load_weights(model, checkpoint, which) if checkpoint is not None else \
        f"none (initialised with seed {spec.config.seed})"
    model.eval()
    path = Path(output) if output is not None else Path(f"{spec.name}.{fmt}")
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    example = torch.randn(TRACE_BATCH, *shape, generator=torch.Generator().manual_seed(spec.config.seed))
    if fmt == "pt2":
        _export_pt2(model, example, path)
        run, checked_with = _run_pt2(path)
    else:
        _export_onnx(model, example, path, opset)
        run, checked_with = _run_onnx(path)
    diff, scale = _compare(model, run, shape, spec.config.seed + 1, CHECK_BATCHES)
    return ExportReport(
        path=path, format=fmt, input_shape=shape,
        output_shape=tuple(int(d) for d in trace.output_shape),
        weights=weights, checked_with=checked_with, max_abs_diff=diff, tolerance=tolerance * max(1.0, scale),
    )
