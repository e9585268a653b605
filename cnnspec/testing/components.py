"""``check_components``: everything one plugin registers loads and builds.

Listing a name is cheap; the mistakes show up when the engine builds it, an
epoch into a run. This builds each of a plugin's components the way the
engine does (factory called with the spec arguments, after the params model)
and exercises it once on small real tensors: an optimizer steps, a scheduler
steps, a loss gives a finite scalar that backpropagates, a transform maps an
image, a callback's event methods take the engine's arguments, its state
round-trips and a short fake fit sends it every event
(:mod:`cnnspec.testing.callbacks`), a dataset yields ``(image, label)``
pairs of the shape its ``meta`` declares. Layers go through
:func:`~cnnspec.testing.layers.check_layer`. And loading the plugin must not
import torch, or ``cnnspec validate`` would pay for it.

Example arguments come from ``args={"NAME": {...}}`` or from the component's
``meta["example"]``; a component that needs arguments and has none, or a
dataset whose files are absent, is reported as skipped, not failed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnnspec.exceptions import ComponentCheckError
from cnnspec.plugins.manager import KINDS, PluginSet
from cnnspec.testing.layers import check_layer

__all__ = ["ComponentCheckError", "ComponentReport", "check_components"]


@dataclass
class ComponentReport:
    """Per component: ``(kind, name, status, detail)`` with status ok / skipped / failed."""

    plugin: str
    results: list[tuple[str, str, str, str]] = field(default_factory=list)

    def add(self, kind: str, name: str, status: str, detail: str = "") -> None:
        self.results.append((kind, name, status, detail))

    @property
    def failed(self) -> list[tuple[str, str, str, str]]:
        return [r for r in self.results if r[2] == "failed"]

    @property
    def checked(self) -> list[str]:
        return [f"{kind}:{name}" for kind, name, status, _ in self.results if status == "ok"]

    def __str__(self) -> str:
        lines = [f"plugin '{self.plugin}':"]
        lines += [f"  {kind} {name}: {status}{f' ({detail})' if detail else ''}"
                  for kind, name, status, detail in self.results]
        return "\n".join(lines)


class _Skip(Exception):
    pass


def check_components(
    plugin: str,
    *,
    plugins: PluginSet | None = None,
    kinds: Iterable[str] | None = None,
    args: Mapping[str, Mapping[str, Any]] | None = None,
    layer_trials: int = 50,
    data_root: str | Path | None = None,
    static: bool = True,
) -> ComponentReport:
    """Build every component plugin ``plugin`` registers; raise if any fails.

    ``plugins`` defaults to the plugins the CLI would load (plus ``plugin``
    itself when autoload is disabled). ``kinds`` limits the kinds checked.
    ``args`` maps a component name (or ``kind:name``) to example arguments.
    ``layer_trials`` is passed to :func:`check_layer` for each layer type.
    ``data_root`` is where datasets look for files (a fresh empty folder by
    default). ``static`` also checks, in a fresh interpreter, that loading
    the plugin and running its registration hooks does not import torch.
    """
    plugins = plugins or _plugin_set(plugin)
    info = plugins.info.get(plugin)
    if info is None:
        raise ComponentCheckError(
            f"no plugin named '{plugin}'; found: {', '.join(plugins.info) or '(none)'} "
            "(is the distribution installed, with an entry point in group 'cnnspec'?)")
    plugins.all_registries()
    if info.status != "loaded":
        raise ComponentCheckError(f"plugin '{plugin}' is {info.status}: {info.error or '; '.join(info.notes)}")
    report = ComponentReport(plugin)
    if static:
        _check_static(plugin, report)
    wanted = set(kinds or KINDS)
    examples = {k.lower(): v for k, v in (args or {}).items()}
    with tempfile.TemporaryDirectory(prefix="cnnspec-check-") as tmp:
        root = Path(data_root) if data_root is not None else Path(tmp)
        for kind in KINDS:
            if kind not in wanted:
                continue
            for entry in plugins.registry(kind):
                if entry.provider.plugin != plugin:
                    continue
                example = examples.get(f"{kind}:{entry.name}".lower(), examples.get(entry.name.lower()))
                try:
                    detail = _check_one(kind, entry.obj, example, layer_trials, root)
                except _Skip as exc:
                    report.add(kind, entry.name, "skipped", str(exc))
                except Exception as exc:
                    report.add(kind, entry.name, "failed", f"{type(exc).__name__}: {exc}")
                else:
                    report.add(kind, entry.name, "ok", detail)
    if report.failed:
        lines = [f"{len(report.failed)} of {len(report.results)} checks of plugin '{plugin}' failed:"]
        for kind, name, _, detail in report.failed:
            lines.append(f"- {kind} {name}: {detail}")
        raise ComponentCheckError("\n".join(lines))
    return report


def _plugin_set(plugin: str) -> PluginSet:
    plugins = PluginSet()
    if plugin not in plugins.info and not plugins.autoload:
        plugins = PluginSet(enabled=[plugin])
    return plugins


def _check_static(plugin: str, report: ComponentReport) -> None:
    code = (
        "import sys\n"
        "from cnnspec.plugins.manager import PluginSet\n"
        f"ps = PluginSet(autoload=False, enabled=[{plugin!r}])\n"
        "ps.all_registries()\n"
        "print('torch' in sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    if done.returncode != 0:
        report.add("plugin", plugin, "failed", f"loading it in a fresh interpreter failed: {done.stderr.strip()}")
    elif done.stdout.strip() != "False":
        report.add("plugin", plugin, "failed",
                   "loading it imports torch, which `cnnspec validate` must not do: import torch inside "
                   "builders and factories, and give factories as 'module:attribute' strings")
    else:
        report.add("plugin", plugin, "ok", "registers without importing torch")


# -- one component ------------------------------------------------------------------------------
def _check_one(kind: str, obj: Any, example: Mapping[str, Any] | None, layer_trials: int, root: Path) -> str:
    if kind == "layer":
        obj.params.model_json_schema()
        report = check_layer(obj, trials=layer_trials)
        return f"{report.accepted} accepted, {report.rejected} rejected by both"
    if obj.params is not None:
        obj.params.model_json_schema()  # what `cnnspec schema` publishes
    factory = obj.load()
    if not callable(factory):
        raise TypeError(f"factory {obj.factory!r} is not callable")
    meta = dict(obj.meta)
    if meta.get("unsupported"):
        raise _Skip(str(meta["unsupported"]))
    args = dict(example if example is not None else meta.get("example") or {})
    if example is None and "example" not in meta and _needs_args(obj, factory, kind):
        raise _Skip("needs arguments; give meta['example'] or args=")
    if obj.params is not None:
        args = obj.params.model_validate(args).model_dump(exclude_unset=True)
    return _BUILDERS[kind](factory, args, meta, root)


def _needs_args(obj: Any, factory: Callable[..., Any], kind: str) -> bool:
    if obj.params is not None:
        return any(f.is_required() for f in obj.params.model_fields.values())
    import inspect

    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):
        return False
    skip = {"optimizer": 1, "scheduler": 1, "dataset": 2}.get(kind, 0)
    params = list(sig.parameters.values())[skip:]
    return any(p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) for p in params)


def _param() -> Any:
    import torch

    return torch.nn.Parameter(torch.randn(4, 3))


def _optimizer(factory: Callable[..., Any], args: dict[str, Any], meta: dict[str, Any], root: Path) -> str:
    import torch

    p = _param()
    opt = factory([p], **args)
    if not isinstance(opt, torch.optim.Optimizer):
        raise TypeError(f"returned {type(opt).__name__}, not a torch.optim.Optimizer")
    before = p.detach().clone()

    def closure() -> Any:
        opt.zero_grad()
        loss = (p ** 2).sum()
        loss.backward()
        return loss

    closure()
    opt.step(closure) if meta.get("closure") else opt.step()
    return "stepped" + (" (parameters changed)" if not torch.equal(before, p.detach()) else "")


def _scheduler(factory: Callable[..., Any], args: dict[str, Any], meta: dict[str, Any], root: Path) -> str:
    import torch

    opt = torch.optim.SGD([_param()], lr=0.1)
    if meta.get("fill_total_steps") and not ({"total_steps", "epochs", "steps_per_epoch"} & set(args)):
        args = {**args, "total_steps": 10}
    sched = factory(opt, **args)
    opt.step()
    sched.step(1.0) if meta.get("monitor") else sched.step()
    return f"lr after one step: {opt.param_groups[0]['lr']:.4g}"


def _loss(factory: Callable[..., Any], args: dict[str, Any], meta: dict[str, Any], root: Path) -> str:
    import torch

    fn = factory(**args)
    logits = torch.randn(4, 3, requires_grad=True)
    output = {"log_probs": lambda t: t.log_softmax(1), "probs": lambda t: t.softmax(1)}.get(
        meta.get("output", "logits"), lambda t: t)(logits)
    index = torch.tensor([0, 2, 1, 2])
    target = torch.nn.functional.one_hot(index, 3).float() if meta.get("target") == "onehot" else index
    value = fn(output, target)
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"loss returned {type(value).__name__}, not a tensor")
    value = value.sum() if value.dim() else value
    if not torch.isfinite(value):
        raise ValueError(f"loss is not finite: {value.item()}")
    value.backward()
    return f"value {value.item():.4g}, gradient flows"


def _transform(factory: Callable[..., Any], args: dict[str, Any], meta: dict[str, Any], root: Path) -> str:
    import torch

    transform = factory(**args)
    if not callable(transform):
        raise TypeError(f"returned {type(transform).__name__}, which is not callable")
    errors = []
    size = 64  # large enough for blur and elastic kernels
    images: list[tuple[str, Any]] = [("float CHW tensor", torch.rand(3, size, size)),
                                     ("uint8 CHW tensor", torch.randint(0, 256, (3, size, size), dtype=torch.uint8))]
    try:
        from PIL import Image

        images.append(("PIL image", Image.new("RGB", (size, size), (120, 30, 200))))
    except ImportError:
        pass
    for label, image in images:
        try:
            transform(image)
        except Exception as exc:
            errors.append(f"{label}: {type(exc).__name__}: {exc}")
            continue
        return f"applies to a {label}"
    raise ValueError("fails on every kind of image: " + "; ".join(errors))


def _callback(factory: Callable[..., Any], args: dict[str, Any], meta: dict[str, Any], root: Path) -> str:
    from cnnspec.testing.callbacks import check_callback

    return check_callback(lambda: factory(**args))


def _dataset(factory: Callable[..., Any], args: dict[str, Any], meta: dict[str, Any], root: Path) -> str:
    from cnnspec.data.protocol import DatasetNotFound, DatasetSplits

    try:
        splits = factory(root, False, **args)
    except DatasetNotFound as exc:
        raise _Skip(f"no files under {root}: {exc.message}") from None
    if not isinstance(splits, DatasetSplits):
        raise TypeError(f"returned {type(splits).__name__}, not cnnspec.data.protocol.DatasetSplits")
    if len(splits.train) == 0:
        raise ValueError("the train split is empty")
    image, target = splits.train[0]
    shape = _sample_shape(image)
    want = meta.get("sample_shape")
    want = want(args) if callable(want) else want
    if want is not None and shape and tuple(shape) != tuple(want):
        raise ValueError(f"a sample has shape {list(shape)}, but meta['sample_shape'] says {list(want)}")
    classes = meta.get("num_classes")
    classes = classes(args) if callable(classes) else classes
    if classes is not None and not 0 <= int(target) < int(classes):
        raise ValueError(f"label {target} is outside 0..{int(classes) - 1}")
    return f"{len(splits.train)} training samples of shape {list(shape)}"


def _sample_shape(image: Any) -> tuple[int, ...]:
    """``(C, H, W)`` of a CHW tensor, an HWC array or a PIL image (the protocol's three forms)."""
    if hasattr(image, "getbands") and hasattr(image, "size"):  # PIL
        width, height = image.size
        return (len(image.getbands()), height, width)
    shape = tuple(int(d) for d in getattr(image, "shape", ()))
    if type(image).__module__.startswith("numpy") and len(shape) == 3:
        return (shape[2], shape[0], shape[1])
    if type(image).__module__.startswith("numpy") and len(shape) == 2:
        return (1, *shape)
    return shape


_BUILDERS: dict[str, Callable[[Callable[..., Any], dict[str, Any], dict[str, Any], Path], str]] = {
    "optimizer": _optimizer,
    "scheduler": _scheduler,
    "loss": _loss,
    "transform": _transform,
    "callback": _callback,
    "dataset": _dataset,
}
