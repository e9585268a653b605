"""torchvision classification architectures, written as cnnspec layer lists.

A backbone's shape rule must be static (``cnnspec validate`` imports no
torch), yet exact: output shape, parameters and MACs for any input size,
symbolic ones included. Rather than a table of hand-copied numbers, each
architecture is described here the way a spec would write it, and the
backbone rule runs cnnspec's own inference over that description. The same
descriptions are parity-tested against torchvision (identical outputs after
an in-order state_dict copy), so the rule cannot drift from the real model.

Each architecture is split the way transfer learning cuts it: ``trunk`` (the
convolutional feature extractor), ``pool`` (global pooling and flatten) and
``head`` (the classifier); ``*_attrs`` name the torchvision attributes that
hold each part, so the builder can cut the real model at the same places.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["ARCHITECTURES", "OUTPUTS", "Architecture", "layers_for"]

Layer = dict[str, Any] | str


def _conv(out: int, k: int, *, stride: int = 1, padding: int = 0, groups: int = 1, bias: bool = False,
          in_channels: int | None = None) -> Layer:
    args: dict[str, Any] = {"out_channels": out, "kernel_size": k}
    if in_channels is not None:
        args["in_channels"] = in_channels
    if stride != 1:
        args["stride"] = stride
    if padding:
        args["padding"] = padding
    if groups != 1:
        args["groups"] = groups
    if not bias:
        args["bias"] = False
    return {"conv2d": args}


_RELU: Layer = {"relu": {"inplace": True}}
_RELU6: Layer = {"relu6": {"inplace": True}}


@dataclass(frozen=True)
class Architecture:
    """One torchvision constructor and its description as layers.

    ``stride`` is the trunk's total downsampling factor (its receptive-field
    jump); ``min_size`` the smallest H and W the trunk accepts.
    """

    name: str
    family: str
    trunk: Callable[[], list[Layer]]
    pool: Callable[[], list[Layer]]
    head: Callable[[int], list[Layer]]
    trunk_attrs: tuple[str, ...]
    pool_attrs: tuple[str, ...]
    head_attrs: tuple[str, ...]
    stride: int = 32
    doc: str = ""


# -- ResNet family (torchvision's v1.5: the stride sits on the 3x3 conv) -------------------


def _resnet_trunk(blocks: tuple[int, int, int, int], bottleneck: bool, groups: int = 1,
                  width_per_group: int = 64) -> Callable[[], list[Layer]]:
    def trunk() -> list[Layer]:
        out: list[Layer] = [
            _conv(64, 7, stride=2, padding=3, in_channels=3), "batchnorm2d", _RELU,
            {"maxpool2d": {"kernel_size": 3, "stride": 2, "padding": 1}},
        ]
        channels = 64
        for stage, (planes, count) in enumerate(zip((64, 128, 256, 512), blocks)):
            stage_blocks = []
            for i in range(count):
                stride = 2 if stage > 0 and i == 0 else 1
                if bottleneck:
                    width = int(planes * (width_per_group / 64.0)) * groups
                    expanded = planes * 4
                    body = [_conv(width, 1), "batchnorm2d", _RELU,
                            _conv(width, 3, stride=stride, padding=1, groups=groups), "batchnorm2d", _RELU,
                            _conv(expanded, 1), "batchnorm2d"]
                else:
                    expanded = planes
                    body = [_conv(planes, 3, stride=stride, padding=1), "batchnorm2d", _RELU,
                            _conv(planes, 3, padding=1), "batchnorm2d"]
                residual: dict[str, Any] = {"layers": body}
                if stride != 1 or channels != expanded:
                    residual["shortcut"] = [_conv(expanded, 1, stride=stride), "batchnorm2d"]
                stage_blocks.append({"sequential": {"layers": [{"residual": residual}, _RELU]}})
                channels = expanded
            out.append({"sequential": {"name": f"layer{stage + 1}", "layers": stage_blocks}})
        return out

    return trunk


def _global_pool() -> list[Layer]:
    return [{"adaptiveavgpool2d": {"output_size": 1}}, "flatten"]


def _linear_head(num_classes: int) -> list[Layer]:
    return [{"linear": {"out_features": num_classes}}]


def _resnet(name: str, blocks: tuple[int, int, int, int], bottleneck: bool, **width: int) -> Architecture:
    return Architecture(
        name, "resnet", _resnet_trunk(blocks, bottleneck, **width), _global_pool, _linear_head,
        trunk_attrs=("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"),
        pool_attrs=("avgpool",), head_attrs=("fc",),
        doc=f"{'Bottleneck' if bottleneck else 'BasicBlock'} ResNet, blocks per stage {list(blocks)}",
    )


# -- VGG and AlexNet ----------------------------------------------------------------------

_VGG_CONFIGS: dict[str, list[int | str]] = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg13": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
              512, 512, 512, 512, "M"],
}


def _vgg_trunk(config: list[int | str], batch_norm: bool) -> Callable[[], list[Layer]]:
    def trunk() -> list[Layer]:
        out: list[Layer] = []
        for i, v in enumerate(config):
            if v == "M":
                out.append({"maxpool2d": {"kernel_size": 2, "stride": 2}})
                continue
            out.append(_conv(int(v), 3, padding=1, bias=True, in_channels=3 if i == 0 else None))
            if batch_norm:
                out.append("batchnorm2d")
            out.append(_RELU)
        return [{"sequential": {"name": "features", "layers": out}}]

    return trunk


def _pool_to(size: int) -> Callable[[], list[Layer]]:
    return lambda: [{"adaptiveavgpool2d": {"output_size": size}}, "flatten"]


def _vgg_head(num_classes: int) -> list[Layer]:
    return [{"sequential": {"name": "classifier", "layers": [
        {"linear": {"out_features": 4096}}, _RELU, {"dropout": {"p": 0.5}},
        {"linear": {"out_features": 4096}}, _RELU, {"dropout": {"p": 0.5}},
        {"linear": {"out_features": num_classes}},
    ]}}]


def _vgg(name: str, batch_norm: bool) -> Architecture:
    config = _VGG_CONFIGS[name.removesuffix("_bn")]
    return Architecture(
        name, "vgg", _vgg_trunk(config, batch_norm), _pool_to(7), _vgg_head,
        trunk_attrs=("features",), pool_attrs=("avgpool",), head_attrs=("classifier",),
        doc=f"VGG, {sum(1 for v in config if v != 'M')} conv layers{', batch norm' if batch_norm else ''}",
    )


def _alexnet_trunk() -> list[Layer]:
    pool = {"maxpool2d": {"kernel_size": 3, "stride": 2}}
    return [{"sequential": {"name": "features", "layers": [
        _conv(64, 11, stride=4, padding=2, bias=True, in_channels=3), _RELU, pool,
        _conv(192, 5, padding=2, bias=True), _RELU, pool,
        _conv(384, 3, padding=1, bias=True), _RELU,
        _conv(256, 3, padding=1, bias=True), _RELU,
        _conv(256, 3, padding=1, bias=True), _RELU, pool,
    ]}}]


def _alexnet_head(num_classes: int) -> list[Layer]:
    return [{"sequential": {"name": "classifier", "layers": [
        {"dropout": {"p": 0.5}}, {"linear": {"out_features": 4096}}, _RELU,
        {"dropout": {"p": 0.5}}, {"linear": {"out_features": 4096}}, _RELU,
        {"linear": {"out_features": num_classes}},
    ]}}]


# -- MobileNetV2 --------------------------------------------------------------------------

_MOBILENET_V2 = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                 (6, 320, 1, 1)]


def _mobilenet_v2_trunk() -> list[Layer]:
    out: list[Layer] = [_conv(32, 3, stride=2, padding=1, in_channels=3), "batchnorm2d", _RELU6]
    channels = 32
    for t, c, n, s in _MOBILENET_V2:
        for i in range(n):
            stride = s if i == 0 else 1
            hidden = round(channels * t)
            body: list[Layer] = [_conv(hidden, 1), "batchnorm2d", _RELU6] if t != 1 else []
            body += [_conv(hidden, 3, stride=stride, padding=1, groups=hidden), "batchnorm2d", _RELU6,
                     _conv(c, 1), "batchnorm2d"]
            kind = "residual" if stride == 1 and channels == c else "sequential"
            out.append({kind: {"layers": body}})
            channels = c
    out += [_conv(1280, 1), "batchnorm2d", _RELU6]
    return [{"sequential": {"name": "features", "layers": out}}]


def _mobilenet_head(num_classes: int) -> list[Layer]:
    return [{"sequential": {"name": "classifier", "layers": [
        {"dropout": {"p": 0.2}}, {"linear": {"out_features": num_classes}},
    ]}}]


def _catalog() -> dict[str, Architecture]:
    archs = [
        _resnet("resnet18", (2, 2, 2, 2), False),
        _resnet("resnet34", (3, 4, 6, 3), False),
        _resnet("resnet50", (3, 4, 6, 3), True),
        _resnet("resnet101", (3, 4, 23, 3), True),
        _resnet("resnet152", (3, 8, 36, 3), True),
        _resnet("resnext50_32x4d", (3, 4, 6, 3), True, groups=32, width_per_group=4),
        _resnet("resnext101_32x8d", (3, 4, 23, 3), True, groups=32, width_per_group=8),
        _resnet("wide_resnet50_2", (3, 4, 6, 3), True, width_per_group=128),
        _resnet("wide_resnet101_2", (3, 4, 23, 3), True, width_per_group=128),
        *(_vgg(f"{name}{suffix}", bool(suffix)) for name in _VGG_CONFIGS for suffix in ("", "_bn")),
        Architecture("alexnet", "alexnet", _alexnet_trunk, _pool_to(6), _alexnet_head,
                     trunk_attrs=("features",), pool_attrs=("avgpool",), head_attrs=("classifier",),
                     doc="AlexNet (torchvision's single-GPU variant)"),
        Architecture("mobilenet_v2", "mobilenet", _mobilenet_v2_trunk, _global_pool, _mobilenet_head,
                     trunk_attrs=("features",), pool_attrs=(), head_attrs=("classifier",),
                     doc="MobileNetV2, width 1.0"),
    ]
    return {a.name: a for a in archs}


#: torchvision constructor name -> its description
ARCHITECTURES: dict[str, Architecture] = _catalog()

#: what a backbone outputs: the feature map, the pooled vector, or the class scores
OUTPUTS = ("features", "pooled", "logits")


def layers_for(name: str, output: str, num_classes: int = 1000) -> list[Layer]:
    """The layer list of ``name`` cut after its trunk, its pooling, or its head."""
    arch = ARCHITECTURES[name]
    out = arch.trunk()
    if output in ("pooled", "logits"):
        out += arch.pool()
    if output == "logits":
        out += arch.head(num_classes)
    return out
