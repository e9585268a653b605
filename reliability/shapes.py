"""Scenario group 2: static shape inference against torch's real forward, at scale.

Random stacks come from the project's own strategies (``tests/strategies.py``:
every built-in layer family, residual / concat / repeat / sequential
containers) plus the example plugin's layers (``ConvBNReLU``,
``SqueezeExcite``), loaded through the plugin manager as a third-party
plugin would be. The reference runs each stack in torch without consulting
cnnspec's inference; a plugin layer is built from its own module class with
the spec's arguments and the channel count read off the real tensor.

Counted per stack: both accept with equal output shape and parameter count
(and the built ``nn.Sequential`` produces that shape), both reject, or a
loss: a false accept, a false reject, a mismatch.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any

from reliability.fuzz import _run_hypothesis
from reliability.harness import ROOT
from reliability.rows import Row

__all__ = ["EXAMPLE_PLUGIN", "differential", "example_plugins", "plugin_kit"]

EXAMPLE_SRC = ROOT / "plugins" / "cnnspec-example" / "src"
#: the example plugin's hook module, loaded the way ``-p cnnspec_example.plugin`` does
EXAMPLE_PLUGIN = "cnnspec_example.plugin"


def example_plugins() -> Any:
    """A plugin set with the built-ins and the example plugin (from its source tree)."""
    from cnnspec.plugins.manager import PluginSet

    if str(EXAMPLE_SRC) not in sys.path:
        sys.path.insert(0, str(EXAMPLE_SRC))
    plugins = PluginSet(enabled=[EXAMPLE_PLUGIN])
    info = plugins.info.get(EXAMPLE_PLUGIN)
    plugins.layers()
    if info is None or info.status != "loaded":
        raise RuntimeError(f"the example plugin did not load: {info.error if info else 'not found'}")
    return plugins


def _strategy() -> Any:
    from hypothesis import strategies as st

    from tests.strategies import entry, size_arg

    @st.composite
    def plugin_leaf(draw: Any) -> Any:
        if draw(st.booleans()):
            groups = draw(st.sampled_from([1, 1, 2]))
            args: dict[str, Any] = {"out_channels": groups * draw(st.integers(1, 4)),
                                    "kernel_size": draw(size_arg(2, 1, 5))}
            if draw(st.booleans()):
                args["stride"] = draw(size_arg(2, 1, 3))
            if draw(st.booleans()):
                args["padding"] = draw(size_arg(2, 0, 3))
            if groups > 1:
                args["groups"] = groups
            if draw(st.integers(0, 5)) == 0:
                args["in_channels"] = draw(st.integers(1, 6))
            return {"convbnrelu": args}
        if draw(st.booleans()):
            return "squeezeexcite"
        return {"squeezeexcite": {"reduction": draw(st.integers(1, 8)),
                                  "gate": draw(st.sampled_from(["sigmoid", "hardsigmoid"]))}}

    @st.composite
    def item(draw: Any, nd: int, depth: int) -> Any:
        choice = draw(st.integers(0, 9))
        if choice <= 5:
            return draw(entry(nd, depth))
        if choice <= 8 or depth >= 2:
            return draw(plugin_leaf())
        body = draw(st.lists(st.one_of(plugin_leaf(), entry(nd, depth + 1)), min_size=1, max_size=3))
        kind = draw(st.sampled_from(["sequential", "residual", "repeat"]))
        if kind == "repeat":
            return {"repeat": {"times": draw(st.integers(1, 2)), "layers": body}}
        return {kind: {"layers": body}}

    @st.composite
    def stacks(draw: Any) -> tuple[list[int], list[Any]]:
        nd = draw(st.sampled_from([1, 2, 2, 2, 2, 3]))
        hi = {1: 30, 2: 20, 3: 8}[nd]
        shape = [draw(st.integers(1, 6)), *(draw(st.integers(1, hi)) for _ in range(nd))]
        return shape, draw(st.lists(item(nd, 0), min_size=1, max_size=6))

    return stacks()


def _reference() -> Any:
    """``tests.strategies.Reference`` that also runs the example plugin's modules."""
    from tests.strategies import Reference, _split

    class PluginReference(Reference):
        def one(self, item: Any, x: Any) -> Any:
            name, args = _split(item)
            if name.lower() not in ("convbnrelu", "squeezeexcite"):
                return super().one(item, x)
            from cnnspec_example.modules import ConvBNReLU, SqueezeExcite

            if name.lower() == "convbnrelu":
                if x.dim() != 4:  # as for Conv2d: an unbatched reading would mix the batch into channels
                    raise RuntimeError("ConvBNReLU needs a batched input of 4 dims")

                def pair(v: Any) -> tuple[int, int]:
                    return tuple(v) if isinstance(v, list) else (v, v)

                k = pair(args["kernel_size"])
                padding = pair(args["padding"]) if "padding" in args else (k[0] // 2, k[1] // 2)
                module = ConvBNReLU(args.get("in_channels", x.shape[1]), args["out_channels"], k,
                                    pair(args.get("stride", 1)), padding, groups=args.get("groups", 1))
            else:
                channels = x.shape[1]
                module = SqueezeExcite(channels, max(1, channels // args.get("reduction", 4)),
                                       args.get("gate", "sigmoid"))
            return self.forward(module, x)

    return PluginReference


def differential(size: int, seed: int, workdir: Path) -> Row:
    """Scenario: ``size`` random stacks, static verdict and shapes vs torch's forward."""
    import torch

    from cnnspec.build import build_from_trace
    from cnnspec.exceptions import SpecError
    from cnnspec.shapes.walker import infer_shapes
    from cnnspec.spec import load_spec

    row = Row("shapes-differential", "random layer stacks (every built-in family, residual/concat/repeat/"
              "sequential, the example plugin's ConvBNReLU and SqueezeExcite) vs torch's forward",
              unit="stacks")
    plugins = example_plugins()
    reference = _reference()
    torch.manual_seed(seed)

    def compare(stack: tuple[list[int], list[Any]]) -> None:
        shape, layers = stack
        row.size += 1
        spec = {"input": shape, "model": layers}
        if any(k in str(layers).lower() for k in ("convbnrelu", "squeezeexcite")):
            row.count("with_plugin_layer")
        try:
            trace, static_error = infer_shapes(load_spec(spec, plugins=plugins)), None
        except SpecError as exc:
            trace, static_error = None, exc
        except Exception as exc:
            row.lose(f"static check raised {type(exc).__name__}: {exc} for {spec}")
            return
        ref = reference()
        try:
            with torch.no_grad():
                out, torch_error = ref.run(layers, torch.randn(2, *shape)), None
        except Exception as exc:
            out, torch_error = None, exc
        if static_error is not None:
            if torch_error is None:
                row.lose(f"false reject of {spec}: {static_error.format()[:300]}")
            else:
                row.count("both_reject")
                row.hold()
            return
        if torch_error is not None:
            row.lose(f"false accept of {spec}: torch raised {torch_error!r}"[:400])
            return
        if tuple(out.shape[1:]) != trace.output_shape or ref.params != trace.params:
            row.lose(f"mismatch for {spec}: torch {tuple(out.shape[1:])}/{ref.params} params, "
                     f"static {trace.output_shape}/{trace.params}")
            return
        model = build_from_trace(trace)
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            built = model(torch.randn(2, *shape))
        if tuple(built.shape[1:]) != trace.output_shape or sum(p.numel() for p in model.parameters()) != trace.params:
            row.lose(f"built model differs for {spec}: {tuple(built.shape[1:])}")
            return
        row.count("both_accept")
        row.hold()

    with row.timed():
        _run_hypothesis(_strategy(), size, seed, compare)
    return row


#: layers the author kit checks: the example plugin's, and the built-in convolutions and pools
KIT_LAYERS = ("ConvBNReLU", "SqueezeExcite", "Conv1d", "Conv2d", "Conv3d", "MaxPool2d", "AvgPool2d")


def plugin_kit(size: int, seed: int, workdir: Path) -> Row:
    """Scenario: the author kit's ``check_layer`` on the plugin's layer rules and the built-in conv/pool rules."""
    from cnnspec.testing import LayerCheckError, check_layer

    row = Row("shapes-kit", "cnnspec.testing.check_layer (the plugin author kit) on the example plugin's "
              "ConvBNReLU and SqueezeExcite and on the built-in Conv1d/2d/3d, MaxPool2d, AvgPool2d: random "
              "arguments (dilation, groups, padding...) and inputs, rule vs module, also symbolically",
              unit="draws")
    plugins = example_plugins()
    layers = [plugins.layers().get(name) for name in KIT_LAYERS]
    with row.timed():
        for i, layer in enumerate(layers):
            trials = size // len(layers) + (1 if i < size % len(layers) else 0)
            try:
                report = check_layer(layer, trials=trials, seed=seed)
            except LayerCheckError as exc:
                row.size += trials
                row.lose(f"{layer.name}: {exc}")
                continue
            row.size += report.trials
            row.hold(report.trials)
            row.count("accepted_by_both", report.accepted)
            row.note(str(report))
    return row
