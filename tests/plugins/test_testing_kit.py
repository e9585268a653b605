"""The author kit itself: check_layer over every built-in layer, and proof that it
catches wrong shape rules with small counterexamples."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from pydantic import BaseModel, Field

from cnnspec.layer import LayerShape, LayerType
from cnnspec.plugins.manager import PluginSet
from cnnspec.shapes.arithmetic import conv_size
from cnnspec.testing import CannotDraw, LayerCheckError, ParamDrawer, check_components, check_layer

BUILTINS = PluginSet(autoload=False)
BUILTIN_LAYERS = sorted(e.name for e in BUILTINS.layers() if e.provider.distribution == "cnnspec")
#: built-in layers whose every build is a whole torchvision model: checked in the slow tier only
HEAVY = {"Backbone"}


def _batched(dim: int, shape: tuple[int, ...]) -> int:
    return dim % (len(shape) + 1)


#: inputs the built-in rules reject on purpose although torch runs them
STRICTER = {
    # flattening or unflattening the batch dim mixes samples
    "Flatten": lambda p, s: -(len(s) + 1) <= p.start_dim <= len(s) and _batched(p.start_dim, s) == 0,
    "Unflatten": lambda p, s: -(len(s) + 1) <= p.dim <= len(s) and _batched(p.dim, s) == 0,
    # torch's global-mean shortcut runs on other ranks when the output is 1x1 (or 1x1x1)
    "AdaptiveAvgPool2d": lambda p, s: len(s) not in (2, 3),
    "AdaptiveAvgPool3d": lambda p, s: len(s) not in (3, 4),
    # without weights or running stats torch never looks at num_features; a wrong one is still a mistake
    **{f"BatchNorm{n}d": lambda p, s: p.num_features is not None and not p.affine and not p.track_running_stats
       for n in (1, 2, 3)},
    # a classifier size that the chosen output never uses is refused as a mistake
    "Backbone": lambda p, s: p.num_classes is not None and p.output != "logits",
}


#: arguments and inputs a layer needs to be built at all
OPTIONS = {
    "Backbone": {"choices": {"model": ["resnet18", "alexnet", "mobilenet_v2"]},
                 "shapes": lambda rng: (3, rng.randint(1, 48), rng.randint(1, 48))},
}


def _layer(name: str) -> LayerType:
    return BUILTINS.layers().get(name)


def _check(name: str, trials: int, seed: int):
    if name in HEAVY:
        trials = max(6, trials // 25)
    return check_layer(_layer(name), trials=trials, seed=seed, stricter=STRICTER.get(name), **OPTIONS.get(name, {}))


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in HEAVY else n
                                  for n in BUILTIN_LAYERS])
def test_builtin_rule_agrees_with_torch(name):
    report = _check(name, trials=40, seed=1)
    assert report.accepted > 0


@pytest.mark.slow
@pytest.mark.parametrize("name", BUILTIN_LAYERS)
def test_builtin_rule_agrees_with_torch_thoroughly(name):
    _check(name, trials=400, seed=7)


def test_every_builtin_layer_is_covered():
    assert len(BUILTIN_LAYERS) == sum(1 for e in BUILTINS.layers() if e.provider.distribution == "cnnspec") >= 40
    assert {"Conv2d", "MaxPool2d", "BatchNorm2d", "Linear", "Flatten", "ReLU"} <= set(BUILTIN_LAYERS)


# -- wrong rules are caught ----------------------------------------------------------------------
def _conv2d_rule(*, dilation: bool = True, bias: bool = True, padding: bool = True):
    """Conv2d's rule with one piece of the arithmetic forgotten."""
    real = _layer("Conv2d")

    def infer(p, shape, ctx):
        result = real.infer(p, shape, ctx)
        if dilation and padding and bias:
            return result
        k = p.kernel_size if isinstance(p.kernel_size, list) else [p.kernel_size] * 2
        s = p.stride if isinstance(p.stride, list) else [p.stride] * 2
        pad = p.padding if isinstance(p.padding, list) else [p.padding] * 2
        d = p.dilation if isinstance(p.dilation, list) else [p.dilation] * 2
        out = [conv_size(size, ki, si, pi if padding else 0, di if dilation else 1)
               for size, ki, si, pi, di in zip(shape[1:], k, s, pad, d)]
        params = result.params - (0 if bias or not p.bias else p.out_channels)
        return LayerShape((p.out_channels, *out), params=params, kwargs=result.kwargs)

    return replace(real, infer=infer)


def test_catches_a_rule_that_ignores_dilation():
    with pytest.raises(LayerCheckError) as caught:
        check_layer(_conv2d_rule(dilation=False), trials=200, fixed={"padding": 0})
    err = caught.value
    assert err.kind in ("shape", "torch-raises")
    assert err.arguments.get("dilation") not in (None, 1), err  # the counterexample needs dilation
    assert "Conv2d: the shape rule disagrees with torch" in str(err)
    # shrunk: nothing left that is not needed, and small numbers
    assert set(err.arguments) <= {"out_channels", "kernel_size", "dilation", "padding"}
    assert max(err.input_shape) <= 4 and err.arguments["out_channels"] == 1


def test_catches_a_wrong_parameter_count():
    with pytest.raises(LayerCheckError) as caught:
        check_layer(_conv2d_rule(bias=False), trials=200)
    assert caught.value.kind == "params"
    assert "torch:     2 parameters" in str(caught.value)
    assert "bias" not in caught.value.arguments  # the default, bias=true, is enough


def test_catches_a_rule_that_accepts_what_torch_rejects():
    real = _layer("MaxPool2d")

    def infer(p, shape, ctx):  # forgets that torch wants padding <= kernel_size / 2
        k = p.kernel_size if isinstance(p.kernel_size, int) else p.kernel_size[0]
        pad = p.padding if isinstance(p.padding, int) else p.padding[0]
        if pad > k // 2:
            return LayerShape(tuple(shape), kwargs=p.kwargs())
        return real.infer(p, shape, ctx)

    with pytest.raises(LayerCheckError) as caught:
        check_layer(replace(real, infer=infer), trials=300, ranks=[3])
    err = caught.value
    assert err.kind == "torch-raises"
    assert "torch:     raises RuntimeError: pad should be" in str(err)
    kernel, padding = err.arguments["kernel_size"], err.arguments["padding"]
    assert padding > kernel // 2 if isinstance(kernel, int) and isinstance(padding, int) else True


def test_catches_a_rule_that_rejects_what_torch_runs():
    real = _layer("Linear")

    def infer(p, shape, ctx):
        if len(shape) > 1:
            ctx.fail("only flat inputs")  # torch's Linear takes any number of leading dims
        return real.infer(p, shape, ctx)

    with pytest.raises(LayerCheckError) as caught:
        check_layer(replace(real, infer=infer), trials=100)
    assert caught.value.kind == "rule-rejects"
    assert caught.value.input_shape is not None and len(caught.value.input_shape) == 2
    assert "only flat inputs" in str(caught.value)


def test_catches_a_rule_that_crashes():
    real = _layer("ReLU")

    def infer(p, shape, ctx):
        return LayerShape((shape[0] // (len(shape) - 1), *shape[1:]))

    with pytest.raises(LayerCheckError) as caught:
        check_layer(replace(real, infer=infer), trials=100)
    assert caught.value.kind == "crash" and "ZeroDivisionError" in str(caught.value)
    assert caught.value.input_shape == (1,)


def test_catches_a_symbolic_rule_that_differs_from_the_numeric_one():
    from cnnspec.symbolic import Expr

    real = _layer("AvgPool1d")

    def infer(p, shape, ctx):
        result = real.infer(p, shape, ctx)
        if isinstance(shape[-1], Expr):  # a second code path for symbolic dims, off by one
            return replace(result, shape=(*result.shape[:-1], result.shape[-1] + 1))
        return result

    with pytest.raises(LayerCheckError) as caught:
        check_layer(replace(real, infer=infer), trials=100)
    assert caught.value.kind == "symbolic"
    assert "S1=" in str(caught.value)


def test_a_rule_that_accepts_nothing_is_not_a_pass():
    real = _layer("ReLU")

    def infer(p, shape, ctx):
        ctx.fail("never")

    def build(kwargs):
        raise TypeError("never built")

    with pytest.raises(LayerCheckError, match="accepted none of 30 random draws") as caught:
        check_layer(LayerType("Never", real.params, infer, build), trials=30)
    assert caught.value.kind == "vacuous"


def test_same_seed_same_report_and_the_callers_torch_rng_is_untouched():
    import torch

    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    a = check_layer(_layer("Conv1d"), trials=30, seed=5)
    after = torch.rand(3)
    b = check_layer(_layer("Conv1d"), trials=30, seed=5)
    assert a == b
    assert torch.equal(before, after)


def test_a_layer_by_registered_name():
    assert check_layer("MaxPool1d", trials=20).layer == "MaxPool1d"


# -- drawing arguments -----------------------------------------------------------------------
@pytest.mark.parametrize("name", BUILTIN_LAYERS)
def test_drawn_arguments_mostly_pass_the_params_model(name):
    model = _layer(name).params
    drawer = ParamDrawer(model, choices=OPTIONS.get(name, {}).get("choices"))
    rng = random.Random(0)
    draws = [drawer.draw(rng) for _ in range(50)]
    valid = 0
    for args in draws:
        assert "name" not in args
        try:
            model.model_validate(args)
            valid += 1
        except Exception:
            pass
    assert valid >= 40, name


def test_drawer_respects_choices_and_fixed_and_refuses_free_strings():
    class Params(BaseModel):
        width: int = Field(ge=2, le=5)
        mode: str
        flag: bool = False

    drawer = ParamDrawer(Params, choices={"mode": ["a", "b"]}, fixed={"flag": True})
    rng = random.Random(1)
    for _ in range(30):
        args = drawer.draw(rng)
        assert 2 <= args["width"] <= 5 and args["mode"] in ("a", "b") and args["flag"] is True
    with pytest.raises(CannotDraw, match=r"Params\.mode: .*pass choices=\{'mode': \[\.\.\.\]\}"):
        ParamDrawer(Params).draw(rng)
    with pytest.raises(ValueError, match="has no field"):
        ParamDrawer(Params, fixed={"wdith": 3})


# -- check_components on the built-ins ------------------------------------------------------------
@pytest.mark.parametrize("plugin", [pytest.param(p, marks=pytest.mark.slow) if p == "datasets" else p
                                    for p in sorted(set(BUILTINS.info) - {"layers", "backbones"})])
def test_builtin_components_build(plugin):
    examples = {"FakeData": {"size": 16, "test_size": 4}}
    report = check_components(plugin, plugins=BUILTINS, static=False, args=examples)
    assert report.checked, report
    assert not report.failed


def test_check_components_reports_a_broken_factory(tmp_path, monkeypatch):
    (tmp_path / "cnnspec_t_kit.py").write_text(
        "from cnnspec import hookimpl\n"
        "from cnnspec.component import Component\n"
        "@hookimpl\n"
        "def cnnspec_losses():\n"
        "    return [Component('good', 'torch.nn:CrossEntropyLoss'), Component('gone', 'torch.nn:NoSuchLoss'),\n"
        "            Component('wrong', 'builtins:dict')]\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins = PluginSet(autoload=False, enabled=["cnnspec_t_kit"])
    with pytest.raises(AssertionError) as caught:
        check_components("cnnspec_t_kit", plugins=plugins, static=False)
    message = str(caught.value)
    assert message.startswith("2 of 3 checks of plugin 'cnnspec_t_kit' failed:")
    assert "- loss gone: AttributeError" in message and "NoSuchLoss" in message
    assert "- loss wrong: TypeError" in message
    assert "loss good" not in message
