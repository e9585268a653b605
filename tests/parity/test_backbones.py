"""The ``backbone`` layer against torchvision.

The static rule (no torch) must give the real forward's output shape, the
real parameter count and torchinfo's MACs, for several input sizes and each
``output`` cut; the catalog's descriptions must be torchvision's models
exactly (in-order state_dict copy, identical outputs); weights load from a
local file; ``freeze`` stops gradients and optimizer updates.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import torch
import torchinfo
import torchvision
from torch import nn

from cnnspec import SpecError, build_model, load_spec
from cnnspec.builtin.backbones.catalog import ARCHITECTURES, layers_for
from cnnspec.shapes.walker import infer_shapes
from tests.conftest import ROOT, SPECS
from tests.parity.helpers import copy_in_order, fill_random, materialize, param_count

#: small enough to build and run in the fast tier (VGG and AlexNet have 60-140M parameters)
FAST = {"resnet18", "mobilenet_v2"}


def spec_for(model: str, *, output: str = "pooled", input_shape=(3, 32, 32), head: bool = False, **args):
    layers = [{"backbone": {"model": model, "output": output, **args}}]
    if head:
        layers.append({"linear": {"out_features": 10}})
    return load_spec({"name": "t", "input": list(input_shape), "model": layers})


def torchvision_model(name: str, **kwargs) -> nn.Module:
    return getattr(torchvision.models, name)(weights=None, **kwargs)


def arch_params(names):
    return [pytest.param(n, marks=[] if n in FAST else [pytest.mark.slow]) for n in names]


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_static_params_equal_torchvision_for_every_catalog_model(name):
    """Whole model (output: logits) and the trunk alone, counted on the meta device."""
    with torch.device("meta"):
        theirs = torchvision_model(name, num_classes=7)
    logits = infer_shapes(spec_for(name, output="logits", num_classes=7, input_shape=(3, 224, 224)))
    assert logits.params == param_count(theirs)
    assert logits.output_shape == (7,)
    arch = ARCHITECTURES[name]
    trunk = sum(p.numel() for attr in arch.trunk_attrs for p in getattr(theirs, attr).parameters())
    assert infer_shapes(spec_for(name, output="features", input_shape=(3, 224, 224))).params == trunk


@pytest.mark.parametrize("name", arch_params(ARCHITECTURES))
def test_catalog_description_is_torchvision_exactly(name):
    """The layers the rule reasons about compute torchvision's function."""
    spec = load_spec({"name": name, "input": [3, 64, 64], "model": layers_for(name, "logits")})
    theirs = materialize(lambda: torchvision_model(name))
    ours = materialize(lambda: build_model(spec))
    fill_random(theirs)
    copy_in_order(theirs, ours)
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(ours.eval()(x), theirs.eval()(x))


SIZES = {
    "resnet18": [(3, 32, 32), (3, 57, 41), (3, 1, 1)],
    "vgg11": [(3, 32, 32), (3, 45, 70)],
    "alexnet": [(3, 63, 63), (3, 100, 131)],
    "mobilenet_v2": [(3, 33, 33), (3, 17, 96)],
}
#: the fast tier checks every cut of resnet18 and one cut of each other family
FAST_CUTS = {("resnet18", "features"), ("resnet18", "pooled"), ("resnet18", "logits"), ("vgg11", "features"),
             ("alexnet", "pooled"), ("mobilenet_v2", "features")}
CUTS = [
    pytest.param(name, output, marks=[] if (name, output) in FAST_CUTS else [pytest.mark.slow], id=f"{name}-{output}")
    for name in SIZES for output in ("features", "pooled", "logits")
]


@pytest.mark.parametrize(("name", "output"), CUTS)
def test_static_shape_params_macs_equal_real_forward_and_torchinfo(name, output):
    sizes = SIZES[name]
    spec = spec_for(name, output=output, input_shape=sizes[0])
    model = materialize(lambda: build_model(spec))
    fill_random(model)
    model.eval()
    for size in sizes:
        trace = infer_shapes(spec, input_shape=list(size))
        with torch.no_grad():
            out = model(torch.randn(1, *size))
        assert tuple(out.shape[1:]) == trace.output_shape, size
        stats = torchinfo.summary(model, input_size=(1, *size), verbose=0, depth=100)
        assert (trace.params, trace.macs) == (stats.total_params, stats.total_mult_adds), size
        assert trace.params == param_count(model)


def test_backbone_cuts_compute_torchvisions_own_forward():
    """output: logits is torchvision's forward; pooled is it with fc = Identity."""
    theirs = materialize(lambda: torchvision_model("resnet18"))
    fill_random(theirs)
    x = torch.randn(2, 3, 48, 48, generator=torch.Generator().manual_seed(0))
    for output in ("logits", "pooled"):
        ours = materialize(lambda output=output: build_model(spec_for("resnet18", output=output)))
        ours.load_state_dict({f"backbone1.{k}": v for k, v in theirs.state_dict().items()
                              if output == "logits" or not k.startswith("fc.")})
        with torch.no_grad():
            want = theirs.eval()(x) if output == "logits" else nn.Sequential(
                *list(theirs.children())[:-1], nn.Flatten()).eval()(x)
            assert torch.equal(ours.eval()(x), want)


def test_symbolic_input_minimum_matches_brute_force_torch():
    spec = load_spec({"name": "t", "input": [3, "H", "W"], "model": [{"backbone": {"model": "vgg11"}}]})
    trace = infer_shapes(spec)
    assert trace.min_size == {"H": 32, "W": 32}
    model = materialize(lambda: build_model(load_spec({"name": "t", "input": [3, 32, 32],
                                                       "model": [{"backbone": {"model": "vgg11",
                                                                               "output": "features"}}]})))
    fill_random(model)
    working = []
    for n in range(24, 40):
        try:
            with torch.no_grad():
                model.eval()(torch.zeros(1, 3, n, n))
            working.append(n)
        except RuntimeError:
            pass
    assert min(working) == 32 and working == list(range(32, 40))


def test_features_receptive_field_is_the_trunks():
    trace = infer_shapes(spec_for("resnet18", output="features", input_shape=(3, 224, 224)))
    assert trace.layers[0].rf == (435, 435)
    assert infer_shapes(load_spec(SPECS / "resnet18.yaml")).find("layer4").rf == (435, 435)


def test_freeze_stops_gradients_and_updates_but_params_still_count():
    spec = spec_for("resnet18", freeze=True, head=True)
    model = build_model(spec)
    backbone, head = model.backbone1, model.fc1
    assert all(not p.requires_grad for p in backbone.parameters())
    assert all(p.requires_grad for p in head.parameters())
    assert infer_shapes(spec).params == param_count(model)
    before = [p.detach().clone() for p in backbone.parameters()]
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    model.eval()
    loss = nn.functional.cross_entropy(model(torch.randn(4, 3, 32, 32)), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    optimizer.step()
    assert all(p.grad is None for p in backbone.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, backbone.parameters()))
    assert head.weight.grad is not None


@pytest.fixture(scope="module")
def resnet18_weights(tmp_path_factory):
    net = torchvision_model("resnet18")
    path = tmp_path_factory.mktemp("weights") / "resnet18.pth"
    torch.save(net.state_dict(), path)
    return path, net.state_dict()


@pytest.mark.parametrize("wrap", [None, "model", "state_dict"])
def test_weights_load_from_a_local_file(resnet18_weights, tmp_path, wrap):
    path, state = resnet18_weights
    if wrap:
        path = tmp_path / "wrapped.pt"
        torch.save({wrap: state, "epoch": 3}, path)
    model = build_model(spec_for("resnet18", weights=str(path)))
    got = model.backbone1.state_dict()
    assert set(got) == {k for k in state if not k.startswith("fc.")}
    assert all(torch.equal(got[k], state[k]) for k in got)


def test_weights_errors_are_spec_errors(resnet18_weights, tmp_path):
    path, _ = resnet18_weights
    with pytest.raises(SpecError, match=r"weights file 'nowhere\.pth' not found"):
        build_model(spec_for("resnet18", weights="nowhere.pth"))
    with pytest.raises(SpecError, match=r"resnet18\.pth do not fit torchvision's ResNet: 96 missing keys\n  missing "
                                        r"\(in the model, not in the file\): layer1\.2\.conv1\.weight, .* and 92 more"):
        build_model(spec_for("resnet34", weights=str(path)))
    with pytest.raises(SpecError, match=r"ResNet: 2 shape mismatches\n  shape mismatch: fc\.weight is \[1000, 512\] in "
                                        r"the file, \[7, 512\] in the model\n  shape mismatch: fc\.bias is \[1000\]"):
        build_model(spec_for("resnet18", weights=str(path), output="logits", num_classes=7))
    bad = tmp_path / "bad.pth"
    torch.save([1, 2, 3], bad)
    with pytest.raises(SpecError, match=r"cannot use the backbone weights: .*bad\.pth: holds a list, not a dict"):
        build_model(spec_for("resnet18", weights=str(bad)))
    no_weights = tmp_path / "no_weights.pth"
    torch.save({"epoch": 3, "note": "no weights"}, no_weights)
    with pytest.raises(SpecError, match=r"no_weights\.pth holds no model weights: it is neither a state dict nor"):
        build_model(spec_for("resnet18", weights=str(no_weights)))


@pytest.mark.parametrize(("args", "input_shape", "message"), [
    ({"model": "vgg11"}, [3, 16, 16],
     r"model\[0\] backbone 'backbone1': vgg11 cannot take \[3, 16, 16\]: at maxpool2d 'pool5': output height "
     r"would be 0: floor\(\(1 \+ 2\*0 - 1\*\(2-1\) - 1\) / 2\) \+ 1 = 0, input is \[512, 1, 1\]\.$"),
    ({"model": "resnet18"}, [1, 28, 28],
     r"torchvision's resnet18 takes 3 input channels, the input has 1, input is \[1, 28, 28\]$"),
    ({"model": "resnet18", "num_classes": 10}, [3, 32, 32],
     r"num_classes only applies with output: logits \(output is pooled\)$"),
    ({"model": "resnet81"}, [3, 32, 32], r"unknown torchvision model 'resnet81'; did you mean 'resnet18'"),
    ({"model": "resnet18"}, [3, 32], r"expects a per-sample input of 3 dims"),
])
def test_mistakes_are_located_spec_errors(write_spec, args, input_shape, message):
    import json

    path = write_spec(f"input: {json.dumps(input_shape)}\nmodel:\n  - backbone: {json.dumps(args)}\n")
    with pytest.raises(SpecError) as info:
        infer_shapes(load_spec(path))
    assert re.search(message, info.value.message), info.value.message
    assert info.value.location is not None and info.value.location.line == 3


def test_too_small_hint_names_the_minimum(write_spec):
    path = write_spec("input: [3, 40, 40]\nmodel:\n  - backbone: {model: alexnet}\n")
    with pytest.raises(SpecError) as info:
        infer_shapes(load_spec(path))
    assert info.value.hint == "alexnet needs H and W of at least 63"


def test_validate_with_a_backbone_imports_no_torch():
    code = ("import sys; from cnnspec.cli import main; "
            f"rc = main(['validate', '-q', {str(SPECS / 'transfer-resnet18.yaml')!r}]); "
            "assert rc == 0, rc; assert 'torch' not in sys.modules and 'torchvision' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, capture_output=True)


def test_transfer_spec_trains_only_its_head():
    spec = load_spec(SPECS / "transfer-resnet18.yaml", overrides=["model[0].backbone.weights=null"])
    model = build_model(spec)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable == ["fc.weight", "fc.bias"]
    assert tuple(model(torch.randn(2, 3, 32, 32)).shape) == (2, 10)
