"""Splits, epoch order, resume and sharding, compared with torch's own samplers."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DistributedSampler, random_split

from cnnspec.data import build_data
from cnnspec.data.sources import digits
from cnnspec.exceptions import SpecError

AUGMENT = "train_transforms: [{randomcrop: {size: 8, padding: 1}}, randomhorizontalflip]"


def _digits_train() -> torch.Tensor:
    return digits(None, False).train.images  # type: ignore[arg-type]


def _batches(bundle, split, **kw):
    return list(bundle.loader(split, **kw))


def _cat(batches):
    return torch.cat([x for x, _ in batches]), torch.cat([y for _, y in batches])


def test_val_split_is_random_split_with_the_seed(make_spec):
    """Seed 000's 75/25 random_split, reproducible: the generator is seeded with the spec's seed."""
    bundle = build_data(make_spec("dataset: digits\nval_split: 0.25\nbatch_size: 50", seed=7))
    train_part, val_part = random_split(range(1437), [1078, 359], generator=torch.Generator().manual_seed(7))
    images = _digits_train()
    x_val, _ = _cat(_batches(bundle, "val"))
    assert torch.equal(x_val, images[torch.tensor(val_part.indices)])
    assert (bundle.size("train"), bundle.size("val")) == (1078, 359)
    x_train, _ = _cat(_batches(bundle, "train"))
    rows = {tuple(r.tolist()) for r in images[torch.tensor(train_part.indices)].flatten(1)}
    assert {tuple(r.tolist()) for r in x_train.flatten(1)} == rows


def test_split_seed_pins_the_split_independently_of_the_seed(make_spec):
    a = build_data(make_spec("dataset: digits\nval_split: 0.25\nsplit_seed: 3", seed=1))
    b = build_data(make_spec("dataset: digits\nval_split: 0.25\nsplit_seed: 3", seed=2))
    c = build_data(make_spec("dataset: digits\nval_split: 0.25", seed=1))
    assert torch.equal(_cat(_batches(a, "val"))[0], _cat(_batches(b, "val"))[0])
    assert not torch.equal(_cat(_batches(a, "val"))[0], _cat(_batches(c, "val"))[0])


def test_val_indices_is_a_fixed_range(make_spec):
    """Seed 001: Subset(ds, arange(k)) for validation, Subset(ds, arange(k, n)) for training."""
    bundle = build_data(make_spec("dataset: digits\nval_indices: [0, 100]\nbatch_size: 64"))
    images = _digits_train()
    assert torch.equal(_cat(_batches(bundle, "val"))[0], images[:100])
    x_train, _ = _cat(_batches(bundle, "train"))
    assert x_train.shape[0] == 1337
    assert {tuple(r.tolist()) for r in x_train.flatten(1)} == {tuple(r.tolist()) for r in images[100:].flatten(1)}


@pytest.mark.parametrize(("data", "line", "message"), [
    ("dataset: digits\nval_split: 0.2\nval_indices: [0, 10]", 9,
     "val_split and val_indices both choose the validation split; keep one"),
    ("dataset: digits\nval_indices: [10, 5]", 8, "expected 0 <= start < stop, got [10, 5]"),
    ("dataset: digits\nval_indices: [1, 2, 3]", 8, "expected [start, stop], got 3 numbers [1, 2, 3]"),
    ("dataset: digits\nval_split: 1.5", 8, "less than 1"),
])
def test_split_fields_are_checked_when_the_spec_loads(make_spec, data, line, message):
    with pytest.raises(SpecError) as info:
        make_spec(data)
    assert info.value.line == line and message in info.value.message


@pytest.mark.parametrize(("data", "path", "message"), [
    ("dataset: digits\nval_indices: [0, 5000]", "data.val_indices",
     "data.val_indices: [0, 5000] reaches past the 1437 training samples of digits"),
    ("dataset: digits\nval_indices: [0, 1437]", "data.val_indices",
     "data.val_indices: [0, 1437] takes all 1437 training samples of digits"),
    ("dataset: digits\nval_split: 0.0001", "data.val_split",
     "data.val_split: 0.0001 of 1437 training samples leaves 0 for validation and 1437 for training"),
])
def test_split_sizes_are_checked_against_the_dataset(make_spec, data, path, message):
    with pytest.raises(SpecError) as info:
        build_data(make_spec(data))
    assert info.value.path == path and info.value.message == message and info.value.line == 8


def test_train_order_is_distributed_samplers_permutation(make_spec):
    bundle = build_data(make_spec("dataset: digits\nbatch_size: 100", seed=5))
    images = _digits_train()
    for epoch in (0, 3):
        sampler = DistributedSampler(range(1437), num_replicas=1, rank=0, shuffle=True, seed=5)
        sampler.set_epoch(epoch)
        x, _ = _cat(_batches(bundle, "train", epoch=epoch))
        assert torch.equal(x, images[torch.tensor(list(sampler))])


def test_order_and_augmentation_are_pure_functions_of_seed_and_epoch(make_spec):
    spec = make_spec(f"dataset: digits\nbatch_size: 64\n{AUGMENT}", seed=3)
    one, two = build_data(spec), build_data(spec)
    for epoch in (0, 1):
        for (xa, ya), (xb, yb) in zip(_batches(one, "train", epoch=epoch), _batches(two, "train", epoch=epoch)):
            assert torch.equal(xa, xb) and torch.equal(ya, yb)
    assert not torch.equal(_batches(one, "train", epoch=0)[0][1], _batches(one, "train", epoch=1)[0][1])
    other = build_data(make_spec(f"dataset: digits\nbatch_size: 64\n{AUGMENT}", seed=4))
    assert not torch.equal(_batches(one, "train")[0][1], _batches(other, "train")[0][1])
    # evaluation order is fixed
    assert torch.equal(_cat(_batches(one, "test", epoch=0))[1], _cat(_batches(one, "test", epoch=5))[1])


def test_augmentation_leaves_the_global_rng_alone(make_spec):
    bundle = build_data(make_spec(f"dataset: digits\nbatch_size: 64\n{AUGMENT}\n"
                                  "transforms: [{randomerasing: {p: 1.0}}, {randomrotation: {degrees: 5}}]"))
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    _batches(bundle, "train")
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("start", [0, 3, 22])
def test_resume_at_start_batch_yields_the_remaining_batches(make_spec, start):
    bundle = build_data(make_spec(f"dataset: digits\nbatch_size: 64\n{AUGMENT}", seed=11))
    full = _batches(bundle, "train", epoch=2)
    resumed = _batches(build_data(make_spec(f"dataset: digits\nbatch_size: 64\n{AUGMENT}", seed=11)),
                       "train", epoch=2, start_batch=start)
    assert len(resumed) == len(full) - start == bundle.num_batches("train") - start
    for (xa, ya), (xb, yb) in zip(full[start:], resumed):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    with pytest.raises(ValueError, match=r"start_batch 99 is outside 0\.\.23"):
        bundle.loader("train", start_batch=99)


@pytest.mark.parametrize(("batch_size", "split"), [(64, "train"), (64, "val"), (64, "test"), (359, "test"),
                                                    (7, "train")])
def test_two_ranks_split_every_batch_disjointly_and_completely(make_spec, batch_size, split):
    spec = make_spec(f"dataset: digits\nbatch_size: {batch_size}\nval_split: 0.1")
    single = build_data(spec)
    ranks = [build_data(spec, rank=r, world_size=2) for r in (0, 1)]
    assert ranks[0].num_batches(split) == ranks[1].num_batches(split)
    assert ranks[0].size(split) + ranks[1].size(split) == single.size(split)
    everything = torch.cat([x for x, _ in _batches(single, split, epoch=1)])
    parts = [_batches(r, split, epoch=1) for r in ranks]
    rebuilt = torch.cat([torch.cat([a[0], b[0]]) for a, b in zip(*parts)])
    assert all(x.shape[0] > 0 for p in parts for x, _ in p)
    assert torch.equal(rebuilt, everything)


def test_batch_size_below_world_size_is_a_spec_error(make_spec):
    with pytest.raises(SpecError, match=r"data.batch_size: 2 is smaller than the 4 processes"):
        build_data(make_spec("dataset: digits\nbatch_size: 2"), rank=0, world_size=4)


def test_drop_last(make_spec):
    bundle = build_data(make_spec("dataset: digits\nbatch_size: 100\ndrop_last: true"))
    assert bundle.num_batches("train") == 14 and bundle.size("train") == 1400
    assert all(x.shape[0] == 100 for x, _ in bundle.loader("train"))
    assert bundle.num_batches("test") == 4  # evaluation keeps every sample
