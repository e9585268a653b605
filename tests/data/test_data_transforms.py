"""Transforms: the registry against torchvision, batched kernels against torchvision's, fast = slow path."""

from __future__ import annotations

import inspect
import subprocess
import sys
import textwrap

import pytest
import torch
import torchvision
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

from cnnspec.analysis.consistency import static_input_problem, static_sample_shape
from cnnspec.builtin.transforms import TRANSFORMS
from cnnspec.data import batched as B
from cnnspec.data import build_data
from cnnspec.exceptions import SpecError
from cnnspec.plugins.manager import get_plugins
from tests.data.formats import make_cifar, make_mnist, trust_cifar

#: the least each transform needs, to build it in tests
MINIMAL = {
    "Normalize": {"mean": [0.5, 0.4, 0.3], "std": [0.2, 0.2, 0.2]}, "Resize": {"size": 9},
    "CenterCrop": {"size": [6, 5]}, "Pad": {"padding": [1, 2, 3, 4]}, "RandomCrop": {"size": 10, "padding": 2},
    "RandomResizedCrop": {"size": [7, 9]}, "RandomRotation": {"degrees": 20}, "RandomAffine": {"degrees": 10},
    "RandomPosterize": {"bits": 4}, "RandomSolarize": {"threshold": 0.5},
    "RandomAdjustSharpness": {"sharpness_factor": 2.0}, "GaussianBlur": {"kernel_size": 3},
    "ElasticTransform": {"alpha": 5.0, "sigma": 1.0},
    "Grayscale": {"num_output_channels": 3}, "ColorJitter": {"brightness": 0.3, "contrast": 0.3,
                                                             "saturation": 0.3, "hue": 0.1},
}


# -- the registry ----------------------------------------------------------------------


@pytest.mark.parametrize("d", TRANSFORMS, ids=lambda d: d.name)
def test_static_arguments_are_torchvisions(d):
    params = list(inspect.signature(getattr(v2, d.target)).parameters.values())
    assert tuple(p.name for p in params if p.default is p.empty) == d.required
    assert tuple(p.name for p in params if p.default is not p.empty) == d.optional


@pytest.mark.parametrize("d", TRANSFORMS, ids=lambda d: d.name)
def test_every_transform_runs_on_a_float_batch_and_its_shape_rule_holds(d):
    entry = get_plugins().registry("transform").entry(d.name.lower())
    fn = entry.obj.load()(**MINIMAL.get(d.name, {}))
    x = torch.rand(4, 3, 14, 12, generator=torch.Generator().manual_seed(0))
    y = fn(x[0])
    assert y.dtype == torch.float32
    assert tuple(y.shape) == d.shape((3, 14, 12), MINIMAL.get(d.name, {}))
    if entry.obj.meta["batched"]:  # one call on the batch equals a call per sample
        assert torch.allclose(fn(x), torch.stack([fn(s) for s in x]), atol=1e-6)


def test_resize_rule_matches_torchvision_for_odd_shapes():
    from cnnspec.builtin.transforms import _resize

    for shape, args in [((3, 17, 31), {"size": 10}), ((3, 31, 17), {"size": 10}), ((1, 50, 20), {"size": [8]}),
                        ((3, 40, 90), {"size": 20, "max_size": 30}), ((3, 40, 90), {"size": None, "max_size": 45})]:
        real = v2.Resize(**args)(torch.rand(*shape)).shape
        assert _resize(shape, args) == tuple(real)


# -- batched kernels equal torchvision's, sample by sample ------------------------------


def _x(n=16, c=3, h=12, w=10):
    return torch.rand(n, c, h, w, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize(("cls", "kernel"), [(v2.RandomHorizontalFlip, F.horizontal_flip),
                                               (v2.RandomVerticalFlip, F.vertical_flip)])
def test_batched_flips(cls, kernel):
    t, x = cls(p=0.5), _x()
    out = B.batched_impl(t)(t, x.clone(), torch.Generator().manual_seed(5))
    mask = torch.rand(len(x), generator=torch.Generator().manual_seed(5)) < 0.5
    assert 0 < mask.sum() < len(x)
    for i in range(len(x)):
        assert torch.equal(out[i], kernel(x[i]) if mask[i] else x[i])


@pytest.mark.parametrize("args", [{"size": 10, "padding": 3}, {"size": [8, 6]},
                                  {"size": 14, "pad_if_needed": True, "padding_mode": "reflect"},
                                  {"size": 12, "padding": [1, 2], "fill": 0.5}])
def test_batched_random_crop(args):
    t, x = v2.RandomCrop(**args), _x()
    out = B.batched_impl(t)(t, x.clone(), torch.Generator().manual_seed(2))
    params = t.make_params([x])
    g = torch.Generator().manual_seed(2)
    padded_h = x.shape[-2] + params["padding"][1] + params["padding"][3]
    padded_w = x.shape[-1] + params["padding"][0] + params["padding"][2]
    tops = torch.randint(0, padded_h - params["height"] + 1, (len(x),), generator=g)
    lefts = torch.randint(0, padded_w - params["width"] + 1, (len(x),), generator=g)
    for i in range(len(x)):
        p = {**params, "top": int(tops[i]), "left": int(lefts[i]), "needs_crop": True}
        assert torch.equal(out[i], t.transform(x[i], p))


@pytest.mark.parametrize("args", [{"degrees": 30}, {"degrees": [-90, 45], "interpolation": "bilinear", "fill": 0.3},
                                  {"degrees": 15, "center": [2, 3]}])
def test_batched_rotation(args):
    if "interpolation" in args:
        args = {**args, "interpolation": v2.InterpolationMode.BILINEAR}
    t, x = v2.RandomRotation(**args), _x(c=3, h=11, w=11)
    out = B.batched_impl(t)(t, x.clone(), torch.Generator().manual_seed(4))
    angles = torch.empty(len(x), dtype=torch.float64).uniform_(
        t.degrees[0], t.degrees[1], generator=torch.Generator().manual_seed(4))
    for i in range(len(x)):
        ref = t.transform(x[i], {"angle": float(angles[i])})
        if t.interpolation == v2.InterpolationMode.NEAREST:
            assert (out[i] == ref).float().mean() > 0.99
        else:
            assert torch.allclose(out[i], ref, atol=1e-5)


@pytest.mark.parametrize("args", [{"degrees": 20, "translate": [0.2, 0.1], "scale": [0.8, 1.2], "shear": 10},
                                  {"degrees": 0, "shear": [-5, 5, -8, 8], "interpolation": "bilinear"}])
def test_batched_affine(args):
    if "interpolation" in args:
        args = {**args, "interpolation": v2.InterpolationMode.BILINEAR}
    t, x = v2.RandomAffine(**args), _x()
    out = B.batched_impl(t)(t, x.clone(), torch.Generator().manual_seed(6))
    p = B.affine_params(t, len(x), 12, 10, torch.Generator().manual_seed(6))
    for i in range(len(x)):
        params = {"angle": float(p["angle"][i]), "translate": [int(v) for v in p["translate"][i]],
                  "scale": float(p["scale"][i]), "shear": p["shear"][i].tolist()}
        ref = t.transform(x[i], params)
        if t.interpolation == v2.InterpolationMode.NEAREST:
            assert (out[i] == ref).float().mean() > 0.99
        else:
            assert torch.allclose(out[i], ref, atol=1e-5)


@pytest.mark.parametrize(("channels", "args"), [(3, {"brightness": 0.4, "contrast": 0.4, "saturation": 0.4,
                                                     "hue": 0.2}),
                                                (3, {"contrast": [0.2, 0.5]}), (1, {"brightness": 0.5, "contrast": 0.5,
                                                                                     "saturation": 0.2})])
def test_batched_color_jitter(channels, args):
    t, x = v2.ColorJitter(**args), _x(c=channels)
    out = B.batched_impl(t)(t, x.clone(), torch.Generator().manual_seed(8))
    p = B.color_jitter_params(t, len(x), torch.Generator().manual_seed(8))
    kernels = [F.adjust_brightness, F.adjust_contrast, F.adjust_saturation, F.adjust_hue]
    keys = ["brightness", "contrast", "saturation", "hue"]
    for i in range(len(x)):
        ref = x[i]
        for op in p["order"][i].tolist():
            if p[keys[op]] is not None:
                ref = kernels[op](ref, float(p[keys[op]][i]))
        assert torch.allclose(out[i], ref, atol=2e-6)


def test_batched_random_grayscale():
    t, x = v2.RandomGrayscale(p=0.5), _x()
    out = B.batched_impl(t)(t, x.clone(), torch.Generator().manual_seed(9))
    mask = torch.rand(len(x), generator=torch.Generator().manual_seed(9)) < 0.5
    for i in range(len(x)):
        assert torch.equal(out[i], F.rgb_to_grayscale(x[i], 3) if mask[i] else x[i])


# -- fast path equals the per-item path ------------------------------------------------

SEED_004_AUGMENT = """\
train_transforms:
  - {randomcrop: {size: 32, padding: 4}}
  - randomhorizontalflip
  - {randomrotation: {degrees: 15}}
  - {colorjitter: {brightness: 0.2, contrast: 0.2}}
  - {randomerasing: {p: 0.5}}
transforms: [{normalize: {mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5]}}]
"""


@pytest.mark.parametrize("augment", [False, True])
def test_cifar_fast_path_equals_per_item_path(tmp_path, make_spec, monkeypatch, augment):
    files = make_cifar(tmp_path, per_batch=12)
    trust_cifar(monkeypatch, torchvision.datasets.CIFAR10, files)
    data = f"dataset: cifar10\nroot: {tmp_path}\nbatch_size: 16\nval_split: 0.25\n" + (
        SEED_004_AUGMENT if augment else "transforms: [{normalize: {mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5]}}]")
    fast = build_data(make_spec(data + "\nin_memory: true", input="[3, 32, 32]"))
    slow = build_data(make_spec(data + "\nin_memory: false", input="[3, 32, 32]"))
    assert fast.in_memory("train") and not slow.in_memory("train")
    for split in ("train", "val", "test"):
        for (xa, ya), (xb, yb) in zip(fast.loader(split, epoch=1), slow.loader(split, epoch=1), strict=True):
            assert torch.equal(xa, xb) and torch.equal(ya, yb)


def test_normalized_fast_path_equals_the_seed_000_pipeline(tmp_path, make_spec, monkeypatch):
    """Seed 000: torchvision.datasets.CIFAR10 + Compose([ToTensor(), Normalize((0.5,)*3, (0.5,)*3)])."""
    from torchvision import transforms

    files = make_cifar(tmp_path)
    trust_cifar(monkeypatch, torchvision.datasets.CIFAR10, files)
    bundle = build_data(make_spec(f"dataset: cifar10\nroot: {tmp_path}\nbatch_size: 8\n"
                                  "transforms: [{normalize: {mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5]}}]",
                                  input="[3, 32, 32]"))
    seed = torchvision.datasets.CIFAR10(str(tmp_path), train=False, transform=transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))]))
    loader = torch.utils.data.DataLoader(seed, batch_size=8, shuffle=False)
    for (xa, ya), (xb, yb) in zip(bundle.loader("test"), loader, strict=True):
        assert torch.allclose(xa, xb, atol=1e-6) and torch.equal(ya, yb)


def test_mnist_per_item_path_with_workers_equals_fast_path(tmp_path, make_spec):
    make_mnist(tmp_path, n_train=40)
    data = (f"dataset: mnist\nroot: {tmp_path}\nbatch_size: 8\n"
            "train_transforms: [{randomaffine: {degrees: 10, translate: [0.1, 0.1]}}, {gaussianblur: {kernel_size: 3}}]"
            "\ntransforms: [{normalize: {mean: [0.1307], std: [0.3081]}}]")
    fast = build_data(make_spec(data, input="[1, 28, 28]"))
    slow = build_data(make_spec(data + "\nin_memory: false\nnum_workers: 1", input="[1, 28, 28]"))
    for (xa, ya), (xb, yb) in zip(fast.loader("train", epoch=2), slow.loader("train", epoch=2), strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)


# -- spec errors -----------------------------------------------------------------------


@pytest.mark.parametrize(("data", "line", "message"), [
    ("dataset: digits\ntransforms: [normalise]", 8, "unknown transform 'normalise'; did you mean 'Normalize'?"),
    ("dataset: digits\ntransforms: [{normalize: {mena: [0.5], std: [0.5]}}]", 8, "unknown argument 'mena'"),
    ("dataset: digits\ntrain_transforms: [randomcrop]", 8, "missing required argument 'size'"),
])
def test_names_and_arguments_are_checked_when_the_spec_loads(make_spec, data, line, message):
    with pytest.raises(SpecError) as info:
        make_spec(data)
    assert info.value.line == line and message in info.value.format()


@pytest.mark.parametrize(("data", "path", "message"), [
    ("dataset: digits\ntransforms: [{randomhorizontalflip: {p: 2}}]", "data.transforms[0].randomhorizontalflip",
     "data.transforms[0] randomhorizontalflip: `p` should be a floating point value in the interval [0.0, 1.0]."),
    ("dataset: digits\ntransforms: [{resize: {size: 8, interpolation: bilnear}}]",
     "data.transforms[0].resize.interpolation", "data.transforms[0] resize interpolation: unknown value 'bilnear'"),
    ("dataset: digits\ntransforms: [{normalize: {mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5]}}]",
     "data.transforms[0].normalize",
     "data.transforms[0] normalize turns the [1, 8, 8] samples of digits into [3, 8, 8], where [1, 8, 8] was expected"),
    ("dataset: digits\ntrain_transforms: [{randomcrop: {size: 12}}]", "data.train_transforms[0].randomcrop",
     "data.train_transforms[0] randomcrop fails on the [1, 8, 8] samples of digits: Required crop size (12, 12)"),
    ("dataset: digits\ntrain_transforms: [{randomresizedcrop: {size: 6}}]", "data.train_transforms",
     "the training samples of digits are [1, 6, 6] after the training transforms, but its test samples are [1, 8, 8]"),
])
def test_transform_problems_are_located(make_spec, data, path, message):
    with pytest.raises(SpecError) as info:
        build_data(make_spec(data))
    assert info.value.path == path and info.value.message.startswith(message), info.value.message


def test_interpolation_by_name_and_eval_transforms(make_spec):
    spec = make_spec("dataset: digits\ntrain_transforms: [{randomresizedcrop: {size: 6, interpolation: BILINEAR}}]\n"
                     "eval_transforms: [{resize: {size: 7, interpolation: nearest}}, {centercrop: {size: 6}}]",
                     input="[1, 6, 6]")
    bundle = build_data(spec)
    assert bundle.sample_shape == (1, 6, 6)
    assert next(bundle.loader("train"))[0].shape[1:] == next(bundle.loader("test"))[0].shape[1:] == (1, 6, 6)
    assert static_sample_shape(spec) == (1, 6, 6)


def test_input_mismatch_points_at_input(make_spec):
    spec = make_spec("dataset: digits", input="[3, 32, 32]")
    with pytest.raises(SpecError) as info:
        build_data(spec)
    err = info.value
    assert (err.path, err.line, err.column) == ("input", 1, 8)
    assert err.message == "input: [3, 32, 32], but digits gives [1, 8, 8] samples"
    assert err.hint.startswith("write input: [1, 8, 8]")
    assert static_input_problem(spec).format() == err.format()  # known without torch, same words
    resized = make_spec("dataset: digits\ntransforms: [{resize: {size: [32, 32]}}, {grayscale: "
                        "{num_output_channels: 3}}]", input="[3, 32, 32]")
    assert build_data(resized).sample_shape == (3, 32, 32) and static_input_problem(resized) is None
    symbolic = make_spec("dataset: digits", input="[1, H, W]")
    assert build_data(symbolic).sample_shape == (1, 8, 8)


def test_sample_batch_and_unnormalize(make_spec):
    bundle = build_data(make_spec("dataset: digits\ntrain_transforms: [{randomerasing: {p: 1.0}}]\n"
                                  "transforms: [{normalize: {mean: [0.5], std: [0.25]}}]"))
    x, y = bundle.sample_batch("train", 5)
    images = bundle.splits["train"].source.arrays[0][bundle.splits["train"].positions[:5]]
    assert torch.allclose(bundle.unnormalize(x), images, atol=1e-6)  # no erasing: evaluation transforms only
    assert x.shape == (5, 1, 8, 8) and y.dtype == torch.int64


def test_static_path_does_not_import_torch(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text("input: [3, 32, 32]\nmodel: [flatten, {linear: {out_features: 10}}]\n"
                    "data: {dataset: cifar10, transforms: [{pad: {padding: 2}}, {centercrop: {size: 32}}]}\n")
    code = textwrap.dedent(f"""
        import sys
        from cnnspec.spec import load_spec
        from cnnspec.analysis.consistency import static_input_problem, static_sample_shape
        import cnnspec.data
        spec = load_spec({str(spec)!r})
        assert static_sample_shape(spec) == (3, 32, 32), static_sample_shape(spec)
        assert static_input_problem(spec) is None
        assert not [m for m in sys.modules if m.split('.')[0] in ('torch', 'torchvision', 'sklearn')]
    """)
    subprocess.run([sys.executable, "-c", code], check=True)


def test_eval_transform_names_are_checked_before_training(make_spec):
    with pytest.raises(SpecError) as info:
        build_data(make_spec("dataset: digits\neval_transforms: [centercrap]"))
    assert info.value.path == "data.eval_transforms[0]" and "did you mean 'CenterCrop'?" in info.value.message
