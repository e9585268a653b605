"""Datasets in their real on-disk formats, loaded through torchvision via cnnspec."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision

from cnnspec.data import build_data
from cnnspec.exceptions import SpecError
from tests.data.formats import make_cifar, make_image_folder, make_mnist, tar_cifar, trust_cifar


def _all(bundle, split):
    xs, ys = zip(*bundle.loader(split))
    return torch.cat(xs), torch.cat(ys)


# -- digits ----------------------------------------------------------------------------


def test_digits_is_offline_with_fixed_split(make_spec):
    from sklearn.datasets import load_digits

    bundle = build_data(make_spec("dataset: digits\nbatch_size: 100"))
    assert (bundle.size("train"), bundle.size("test"), bundle.has("val")) == (1437, 360, False)
    assert bundle.sample_shape == (1, 8, 8) and bundle.classes == [str(d) for d in range(10)]
    x, y = _all(bundle, "test")
    # every test sample is one of sklearn's images, scaled 0..16 -> 0..1, with its label
    ref = load_digits()
    flat = torch.from_numpy(ref.images.reshape(len(ref.images), -1) / 16.0).float()
    match = (x.reshape(len(x), -1)[:, None, :] == flat[None]).all(-1)
    assert (match.sum(1) >= 1).all()
    first = match.float().argmax(1)
    assert torch.equal(torch.from_numpy(ref.target)[first], y)
    # the split is fixed: the same on every build
    assert torch.equal(_all(build_data(make_spec("dataset: digits\nbatch_size: 7")), "test")[0], x)


# -- MNIST family ----------------------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
@pytest.mark.parametrize("name", ["MNIST", "FashionMNIST"])
def test_mnist_idx_files_load_through_torchvision(tmp_path, make_spec, name, gz):
    arrays = make_mnist(tmp_path, name, gz=gz)
    spec = make_spec(f"dataset: {name.lower()}\nroot: {tmp_path}\nbatch_size: 16\nval_indices: [0, 10]",
                     input="[1, 28, 28]")
    bundle = build_data(spec)
    reference = getattr(torchvision.datasets, name)(str(tmp_path), train=True)  # reads what cnnspec extracted
    assert torch.equal(reference.data, torch.from_numpy(arrays["train_images"]))
    assert bundle.classes == list(reference.classes)
    x, y = _all(bundle, "val")
    assert torch.equal(x, torch.from_numpy(arrays["train_images"][:10]).float().div(255).unsqueeze(1))
    assert torch.equal(y, torch.from_numpy(arrays["train_labels"][:10]).long())
    xt, yt = _all(bundle, "test")
    assert torch.equal(yt, torch.from_numpy(arrays["test_labels"]).long())
    assert torch.equal(xt[:, 0], torch.from_numpy(arrays["test_images"]).float().div(255))
    assert bundle.size("train") == 50 and bundle.in_memory("train")


def test_mnist_missing_files_say_how_to_get_them(tmp_path, make_spec):
    spec = make_spec(f"dataset: mnist\nroot: {tmp_path}", input="[1, 28, 28]")
    with pytest.raises(SpecError) as info:
        build_data(spec)
    err = info.value
    assert err.path == "data.dataset" and (err.line, err.column) == (7, 12)
    assert f"MNIST is not in {tmp_path}/MNIST/raw/" in err.message
    assert "train-images-idx3-ubyte" in err.message
    assert "--set data.download=true" in err.hint and "(or their .gz archives)" in err.hint


def test_mnist_download_failure_is_a_spec_error(tmp_path, make_spec, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    spec = make_spec(f"dataset: mnist\nroot: {tmp_path}\ndownload: true", input="[1, 28, 28]")
    with pytest.raises(SpecError, match=r"downloading MNIST into .* failed: Error downloading") as info:
        build_data(spec)
    assert "check the network" in info.value.hint


def test_mnist_damaged_file_is_reported(tmp_path, make_spec):
    make_mnist(tmp_path)
    (tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03garbage")
    spec = make_spec(f"dataset: mnist\nroot: {tmp_path}", input="[1, 28, 28]")
    with pytest.raises(SpecError, match=r"MNIST files in .* (cannot be read|are not valid IDX files)"):
        build_data(spec)


# -- CIFAR -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["cifar10", "cifar100"])
def test_cifar_batches_load_through_torchvision(tmp_path, make_spec, monkeypatch, kind):
    files = make_cifar(tmp_path, kind)
    cls = torchvision.datasets.CIFAR10 if kind == "cifar10" else torchvision.datasets.CIFAR100
    trust_cifar(monkeypatch, cls, files)
    bundle = build_data(make_spec(f"dataset: {kind}\nroot: {tmp_path}\nbatch_size: 8", input="[3, 32, 32]"))
    assert bundle.classes == files["classes"] and bundle.num_classes == len(files["classes"])
    reference = cls(str(tmp_path), train=False)
    assert np.array_equal(reference.data, files["test_images"].transpose(0, 2, 3, 1))
    x, y = _all(bundle, "test")
    assert torch.equal(x, torch.from_numpy(files["test_images"]).float().div(255))
    assert torch.equal(y, torch.from_numpy(files["test_labels"]))
    assert bundle.size("train") == 50 and bundle.in_memory("test")


def test_cifar_unmatched_md5_names_the_file(tmp_path, make_spec):
    make_cifar(tmp_path)  # real md5 constants: every generated file is "damaged"
    with pytest.raises(SpecError) as info:
        build_data(make_spec(f"dataset: cifar10\nroot: {tmp_path}", input="[3, 32, 32]"))
    assert "CIFAR10 files in" in info.value.message and "data_batch_1 (md5 " in info.value.message
    assert "expected c99cafc152244af753f735de768cd75f" in info.value.message


def test_cifar_missing_says_where_the_archive_goes(tmp_path, make_spec):
    with pytest.raises(SpecError) as info:
        build_data(make_spec(f"dataset: cifar10\nroot: {tmp_path}", input="[3, 32, 32]"))
    assert f"CIFAR10 is not in {tmp_path}/cifar-10-batches-py/" in info.value.message
    assert "--set data.download=true" in info.value.hint
    assert f"cifar-10-python.tar.gz in {tmp_path}/" in info.value.hint


def test_cifar_download_extracts_a_local_archive(tmp_path, make_spec, monkeypatch):
    """download: true goes through torchvision's own download(); an archive in place is verified and extracted."""
    source = tmp_path / "made"
    files = make_cifar(source)
    root = tmp_path / "root"
    root.mkdir()
    archive = tar_cifar(root, files, "cifar-10-python.tar.gz")
    trust_cifar(monkeypatch, torchvision.datasets.CIFAR10, files)
    import hashlib

    monkeypatch.setattr(torchvision.datasets.CIFAR10, "tgz_md5", hashlib.md5(archive.read_bytes()).hexdigest())

    def offline(*args, **kwargs):
        raise AssertionError("the network must not be used when the archive is in place")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    bundle = build_data(make_spec(f"dataset: cifar10\nroot: {root}\ndownload: true", input="[3, 32, 32]"))
    assert (root / "cifar-10-batches-py" / "data_batch_5").is_file()
    assert bundle.size("test") == 20


# -- ImageFolder, FakeData -------------------------------------------------------------


def test_image_folder_of_pngs(tmp_path, make_spec):
    make_image_folder(tmp_path / "pets" / "train", {"cat": 5, "dog": 4})
    make_image_folder(tmp_path / "pets" / "test", {"cat": 2, "dog": 2}, seed=1)
    spec = make_spec(f"dataset: {{imagefolder: {{train: pets/train, test: pets/test}}}}\nroot: {tmp_path}\n"
                     "batch_size: 4\nval_split: 0.25", input="[3, 10, 12]")
    bundle = build_data(spec)
    assert bundle.classes == ["cat", "dog"] and not bundle.in_memory("train")
    assert (bundle.size("train"), bundle.size("val"), bundle.size("test")) == (7, 2, 4)
    reference = torchvision.datasets.ImageFolder(str(tmp_path / "pets" / "test"))
    x, y = _all(bundle, "test")
    expected = torch.stack([torchvision.transforms.functional.to_tensor(img) for img, _ in reference])
    assert torch.equal(x, expected)
    assert y.tolist() == reference.targets


def test_image_folder_of_mixed_sizes_needs_a_resize(tmp_path, make_spec):
    make_image_folder(tmp_path / "imgs", {"a": 3, "b": 3}, sizes=[(12, 10), (16, 16)])
    with pytest.raises(SpecError) as info:
        build_data(make_spec(f"dataset: {{imagefolder: {{train: imgs}}}}\nroot: {tmp_path}", input="[3, 8, 8]"))
    assert "samples of different sizes ([3, 10, 12] and [3, 16, 16])" in info.value.message
    assert "resize" in info.value.hint
    spec = make_spec(f"dataset: {{imagefolder: {{train: imgs}}}}\nroot: {tmp_path}\n"
                     "transforms: [{resize: {size: [8, 8]}}]", input="[3, 8, 8]")
    x, _ = next(build_data(spec).loader("train"))
    assert x.shape == (6, 3, 8, 8)


def test_image_folder_missing_and_mismatched(tmp_path, make_spec):
    with pytest.raises(SpecError, match=r"the imagefolder train folder .*nowhere .* does not exist"):
        build_data(make_spec(f"dataset: {{imagefolder: {{train: nowhere}}}}\nroot: {tmp_path}"))
    make_image_folder(tmp_path / "tr", {"a": 1, "b": 1})
    make_image_folder(tmp_path / "te", {"a": 1, "c": 1})
    with pytest.raises(SpecError, match=r"the imagefolder test folder has classes \['a', 'c'\]"):
        build_data(make_spec(f"dataset: {{imagefolder: {{train: tr, test: te}}}}\nroot: {tmp_path}"))


def test_fakedata_matches_torchvision_items(make_spec):
    spec = make_spec("dataset: {fakedata: {size: 40, test_size: 8, image_size: [3, 6, 5], num_classes: 4}}",
                     input="[3, 6, 5]")
    bundle = build_data(spec)
    reference = torchvision.datasets.FakeData(8, (3, 6, 5), 4, random_offset=40)
    x, y = _all(bundle, "test")
    expected = torch.stack([torchvision.transforms.functional.to_tensor(img) for img, _ in reference])
    assert torch.equal(x, expected) and y.tolist() == [t for _, t in reference]
    assert bundle.in_memory("train") and bundle.num_classes == 4


def test_root_is_relative_to_the_working_directory(tmp_path, make_spec, monkeypatch):
    make_mnist(tmp_path / "somewhere")
    monkeypatch.chdir(tmp_path)
    bundle = build_data(make_spec("dataset: mnist\nroot: somewhere", input="[1, 28, 28]"))
    assert bundle.size("train") == 60 and Path("somewhere/MNIST/raw").is_dir()


def test_image_folder_cannot_be_forced_in_memory(tmp_path, make_spec):
    make_image_folder(tmp_path / "imgs", {"a": 2, "b": 2})
    with pytest.raises(SpecError) as info:
        build_data(make_spec(f"dataset: {{imagefolder: {{train: imgs}}}}\nroot: {tmp_path}\nin_memory: true",
                             input="[3, 10, 12]"))
    assert info.value.path == "data.in_memory" and "cannot be held as one tensor" in info.value.message
