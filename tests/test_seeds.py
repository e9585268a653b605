"""Every model in the seed tutorials, as a spec, against its hand-written class.

The classes below are the tutorials' own code (seeds 000-004). Each spec must
build a model with the same parameter count and output shape; copying the
hand-written model's state_dict in order must give identical outputs; static
totals must equal torchinfo's.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
import torchinfo
from torch import nn

from cnnspec import build_model, infer_shapes, load_spec
from tests.conftest import SPECS


class LeNet(nn.Module):  # seed 000
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 20, 5, 1, 0)
        self.conv2 = nn.Conv2d(20, 50, 5, 1, 0)
        self.fc1 = nn.Linear(5 * 5 * 50, 500)
        self.fc2 = nn.Linear(500, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2, 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2, 2)
        x = x.view(-1, 5 * 5 * 50)
        return self.fc2(F.relu(self.fc1(x)))


def mnist_cnn(extra_conv: bool = False) -> nn.Module:  # seed 001, built with add_module
    model = nn.Sequential()
    model.add_module("conv1", nn.Conv2d(1, 32, kernel_size=5, padding=2))
    model.add_module("relu1", nn.ReLU())
    model.add_module("pool1", nn.MaxPool2d(kernel_size=2))
    model.add_module("conv2", nn.Conv2d(32, 64, kernel_size=5, padding=2))
    model.add_module("relu2", nn.ReLU())
    model.add_module("pool2", nn.MaxPool2d(kernel_size=2))
    if extra_conv:
        model.add_module("conv3", nn.Conv2d(64, 128, kernel_size=5, padding=2))
        model.add_module("relu_extra", nn.ReLU())
    model.add_module("flatten", nn.Flatten())
    model.add_module("fc1", nn.Linear(128 * 7 * 7 if extra_conv else 3136, 1024))
    model.add_module("relu3", nn.ReLU())
    model.add_module("dropout", nn.Dropout(p=0.5))
    model.add_module("fc2", nn.Linear(1024, 10))
    return model


class CNNModel(nn.Module):  # seed 002, models A (max, pad 2), B (avg, pad 2), C (max, pad 0)
    def __init__(self, pool: type[nn.Module], padding: int):
        super().__init__()
        self.cnn1 = nn.Conv2d(in_channels=1, out_channels=16, kernel_size=5, stride=1, padding=padding)
        self.relu1 = nn.ReLU()
        self.pool1 = pool(kernel_size=2)
        self.cnn2 = nn.Conv2d(in_channels=16, out_channels=32, kernel_size=5, stride=1, padding=padding)
        self.relu2 = nn.ReLU()
        self.pool2 = pool(kernel_size=2)
        side = 7 if padding else 4
        self.fc1 = nn.Linear(32 * side * side, 10)

    def forward(self, x):
        out = self.pool1(self.relu1(self.cnn1(x)))
        out = self.pool2(self.relu2(self.cnn2(out)))
        return self.fc1(out.view(out.size(0), -1))


class CIFAR10CNN(nn.Module):  # seed 003, with the channel counts its comments suggest
    def __init__(self):
        super().__init__()
        self.feature_extractor = nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(128, 128, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(in_features=128 * 4 * 4, out_features=256), nn.ReLU(),
            nn.Linear(in_features=256, out_features=10), nn.LogSoftmax(dim=1),
        )

    def forward(self, x):
        return self.classifier(self.feature_extractor(x))


class SimpleCNN(nn.Module):  # seed 004, optionally with its BatchNorm exercise
    def __init__(self, batchnorm: bool = False):
        super().__init__()
        bn = (lambda c: nn.BatchNorm2d(c)) if batchnorm else (lambda c: nn.Identity())
        self.conv1, self.bn1 = nn.Conv2d(3, 32, kernel_size=3, padding=1), bn(32)
        self.relu1, self.pool1 = nn.ReLU(), nn.MaxPool2d(kernel_size=2)
        self.conv2, self.bn2 = nn.Conv2d(32, 64, kernel_size=3, padding=1), bn(64)
        self.relu2, self.pool2 = nn.ReLU(), nn.MaxPool2d(kernel_size=2)
        self.conv3, self.bn3 = nn.Conv2d(64, 128, kernel_size=3, padding=1), bn(128)
        self.relu3, self.pool3 = nn.ReLU(), nn.MaxPool2d(kernel_size=2)
        self.fc1 = nn.Linear(128 * 4 * 4, 512)
        self.relu4 = nn.ReLU()
        self.dropout = nn.Dropout(0.5)
        self.fc2 = nn.Linear(512, 10)

    def forward(self, x):
        x = self.pool1(self.relu1(self.bn1(self.conv1(x))))
        x = self.pool2(self.relu2(self.bn2(self.conv2(x))))
        x = self.pool3(self.relu3(self.bn3(self.conv3(x))))
        x = x.view(-1, 128 * 4 * 4)
        return self.fc2(self.dropout(self.relu4(self.fc1(x))))


SEEDS = {
    "seed000_lenet_cifar10.yaml": LeNet,
    "seed001_mnist_cnn.yaml": lambda: mnist_cnn(False),
    "seed001_mnist_cnn_extra_conv.yaml": lambda: mnist_cnn(True),
    "seed002_model_a.yaml": lambda: CNNModel(nn.MaxPool2d, 2),
    "seed002_model_b.yaml": lambda: CNNModel(nn.AvgPool2d, 2),
    "seed002_model_c.yaml": lambda: CNNModel(nn.MaxPool2d, 0),
    "seed003_cifar10cnn.yaml": CIFAR10CNN,
    "seed004_simplecnn.yaml": lambda: SimpleCNN(False),
    "seed004_simplecnn_bn.yaml": lambda: SimpleCNN(True),
}


def _copy_in_order(src: nn.Module, dst: nn.Module) -> None:
    src_state, dst_state = src.state_dict(), dst.state_dict()
    assert [v.shape for v in src_state.values()] == [v.shape for v in dst_state.values()]
    dst.load_state_dict(dict(zip(dst_state, src_state.values())))


@pytest.mark.parametrize("spec_file", sorted(SEEDS))
def test_seed_spec_matches_hand_written_model(spec_file: str) -> None:
    torch.manual_seed(0)
    reference = SEEDS[spec_file]().eval()
    spec = load_spec(SPECS / spec_file)
    trace = infer_shapes(spec)
    model = build_model(spec).eval()

    ref_params = sum(p.numel() for p in reference.parameters())
    assert sum(p.numel() for p in model.parameters()) == ref_params == trace.params

    x = torch.randn(4, *spec.input)
    _copy_in_order(reference, model)
    with torch.no_grad():
        expected, actual = reference(x), model(x)
    assert tuple(actual.shape[1:]) == tuple(expected.shape[1:]) == trace.output_shape
    assert torch.equal(actual, expected)

    stats = torchinfo.summary(model, input_data=x[:1], verbose=0)
    assert (stats.total_params, stats.total_mult_adds) == (trace.params, trace.macs)


#: examples that name files a fresh clone does not have (pretrained weights)
OFFLINE = {"transfer-resnet18.yaml": ["model[0].backbone.weights=null"]}


@pytest.mark.parametrize("spec_file", sorted(p.name for p in SPECS.glob("*.yaml")))
def test_every_example_spec_agrees_with_torch_and_torchinfo(spec_file: str) -> None:
    """Per leaf: static output shape, params and MACs equal torchinfo's forward."""
    from cnnspec.build.compare import compare

    trace = infer_shapes(load_spec(SPECS / spec_file, overrides=OFFLINE.get(spec_file, [])))
    report = compare(trace)
    assert report.ok, report.text
