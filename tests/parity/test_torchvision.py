"""The specs in ``specs/`` that re-create torchvision models, against torchvision.

For each architecture: the static parameter count equals torchvision's; the
built model's state_dict lines up with torchvision's entry for entry (same
shapes, same order), and after copying torchvision's values in that order the
two models give identical outputs (max abs diff 0) on random inputs; static
params and MACs equal torchinfo's count on the torchvision model itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
import torch
import torchinfo
import torchvision

from cnnspec import build_model, load_spec
from cnnspec.shapes.walker import infer_shapes
from tests.conftest import SPECS
from tests.parity.helpers import copy_in_order, fill_random, materialize, max_abs_diff, param_count


@dataclass(frozen=True)
class Case:
    spec: str
    model: str
    size: int  # a small input side that still exercises every layer
    kwargs: dict[str, Any] = field(default_factory=dict)
    slow: bool = False

    def param(self):
        marks = [pytest.mark.slow] if self.slow else []
        return pytest.param(self, id=self.model, marks=marks)


CASES = [
    Case("resnet18.yaml", "resnet18", 64),
    Case("vgg11_bn.yaml", "vgg11_bn", 64),
    Case("mobilenet_v2.yaml", "mobilenet_v2", 64),
    Case("googlenet.yaml", "googlenet", 64, {"aux_logits": False, "init_weights": False}),
    Case("resnet34.yaml", "resnet34", 64, slow=True),
    Case("resnet50.yaml", "resnet50", 64, slow=True),
    Case("alexnet.yaml", "alexnet", 96, slow=True),
    Case("vgg16.yaml", "vgg16", 64, slow=True),
]


def torchvision_model(case: Case) -> torch.nn.Module:
    return getattr(torchvision.models, case.model)(weights=None, **case.kwargs)


@pytest.fixture(scope="module", params=[c.param() for c in CASES])
def pair(request):
    """(case, ours, theirs): both built on meta, theirs filled, copied into ours."""
    case: Case = request.param
    spec = load_spec(SPECS / case.spec)
    theirs = materialize(lambda: torchvision_model(case))
    ours = materialize(lambda: build_model(spec))
    fill_random(theirs)
    copy_in_order(theirs, ours)
    return case, ours, theirs


def test_static_params_equal_torchvision(pair):
    case, ours, theirs = pair
    trace = infer_shapes(load_spec(SPECS / case.spec))
    assert trace.params == param_count(theirs) == param_count(ours)


def test_outputs_identical_in_eval_mode(pair):
    case, ours, theirs = pair
    ours.eval()
    theirs.eval()
    x = torch.randn(3, 3, case.size, case.size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want, got = theirs(x), ours(x)
    assert got.shape == want.shape == (3, 1000)
    assert want.abs().max() > 0.1  # the comparison means something
    assert max_abs_diff(got, want) == 0.0
    assert torch.equal(got, want)


@pytest.mark.slow
def test_outputs_identical_at_the_spec_input_size(pair):
    """At the spec's own input shape (224x224), one sample."""
    case, ours, theirs = pair
    spec = load_spec(SPECS / case.spec)
    ours.eval()
    theirs.eval()
    x = torch.randn(1, *spec.input, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        assert torch.equal(ours(x), theirs(x))


@pytest.mark.slow
def test_training_mode_forward_and_gradients_match(pair):
    """Batch statistics (train-mode BatchNorm) and backward agree too; dropout is
    the only randomness, so it is switched off for the comparison."""
    case, ours, theirs = pair
    for model in (ours, theirs):
        model.train()
        for m in model.modules():
            if isinstance(m, torch.nn.Dropout):
                m.eval()
    x = torch.randn(2, 3, case.size, case.size, generator=torch.Generator().manual_seed(3))
    # a deep copy keeps the running statistics of the shared fixture untouched
    import copy

    a, b = copy.deepcopy(ours), copy.deepcopy(theirs)
    out_a, out_b = a(x), b(x)
    assert torch.equal(out_a, out_b)
    out_a.square().mean().backward()
    out_b.square().mean().backward()
    grads_a = [p.grad for p in a.parameters()]
    grads_b = [p.grad for p in b.parameters()]
    assert len(grads_a) == len(grads_b)
    assert all(torch.equal(ga, gb) for ga, gb in zip(grads_a, grads_b))


def test_static_totals_equal_torchinfo_on_torchvision(pair):
    case, _, theirs = pair
    spec = load_spec(SPECS / case.spec)
    trace = infer_shapes(spec, input_shape=[3, case.size, case.size])
    stats = torchinfo.summary(theirs.eval(), input_size=(1, 3, case.size, case.size), verbose=0, depth=100)
    assert trace.params == stats.total_params
    assert trace.macs == stats.total_mult_adds
