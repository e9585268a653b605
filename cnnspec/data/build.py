"""``build_data``: the spec's ``data:`` section → a checked :class:`DataBundle`.

Everything a user can get wrong is found here, before the first batch, and
reported as a located :class:`~cnnspec.exceptions.SpecError`: missing files,
transform arguments torchvision rejects, a transform that fails on the
dataset's samples, splits that do not fit the dataset, and an ``input:``
that differs from what the dataset gives after the transforms.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from cnnspec.analysis.consistency import input_mismatch
from cnnspec.component import check_signature, split_ref
from cnnspec.data.batched import batched_impl
from cnnspec.data.bundle import DataBundle, Source, SplitData
from cnnspec.data.pipeline import Pipeline, PipelineShapeError, Step
from cnnspec.data.protocol import DatasetError, DatasetSplits
from cnnspec.data.splits import batch_seed, fraction_split, range_split
from cnnspec.exceptions import PluginError
from cnnspec.load.reader import Document, PathKey, format_path
from cnnspec.spec.components import resolve_ref

if TYPE_CHECKING:
    from cnnspec.plugins.manager import PluginSet
    from cnnspec.spec import Spec
    from cnnspec.spec.sections import DataSpec

__all__ = ["build_data", "build_steps"]

#: images of an ImageFolder are checked for distinct sizes up to this many files
_SIZE_PROBE_LIMIT = 20000


def build_data(spec: Spec, *, rank: int = 0, world_size: int = 1) -> DataBundle:
    """The spec's data, checked against its ``input:``; see :class:`DataBundle`."""
    doc = spec.document
    data = spec.data
    if data is None:
        raise doc.error("the spec has no data: section, so there is nothing to train on", (),
                        hint="add e.g.  data: {dataset: digits, batch_size: 64}")
    if not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is outside 0..{world_size - 1}")
    if world_size > data.batch_size:
        raise doc.error(f"data.batch_size: {data.batch_size} is smaller than the {world_size} processes",
                        ("data", "batch_size"),
                        hint=f"batch_size is the global batch, split across processes: use at least {world_size}")
    name = split_ref(data.dataset)[0]
    splits = _load_dataset(data, doc, spec.plugins)
    common = build_steps(data.transforms, "transforms", doc, spec.plugins)
    train_pipe = Pipeline(build_steps(data.train_transforms, "train_transforms", doc, spec.plugins) + common)
    eval_pipe = Pipeline(build_steps(data.eval_transforms, "eval_transforms", doc, spec.plugins) + common)

    train_src = _source(splits.train, data, doc, name)
    seed = spec.config.seed
    split_seed = data.split_seed if data.split_seed is not None else seed
    parts: dict[str, SplitData] = {}
    train_pos, val_pos = _split_positions(len(train_src), data, split_seed, doc, name, splits.val is not None)
    if len(train_pos) == 0:
        raise doc.error(f"data.dataset: {name} has no training samples", ("data", "dataset"),
                        hint="check the dataset's files, or the split settings")
    parts["train"] = SplitData("train", train_src, train_pos, train_pipe, shuffle=True)
    if splits.val is not None:
        val_src = _source(splits.val, data, doc, name)
        parts["val"] = SplitData("val", val_src, torch.arange(len(val_src)), eval_pipe, shuffle=False)
    elif val_pos is not None:
        parts["val"] = SplitData("val", train_src, val_pos, eval_pipe, shuffle=False)
    if splits.test is not None and len(splits.test) > 0:
        test_src = _source(splits.test, data, doc, name)
        parts["test"] = SplitData("test", test_src, torch.arange(len(test_src)), eval_pipe, shuffle=False)

    sample_shape = _check_shapes(parts, train_pipe, eval_pipe, data, doc, name, seed)
    mismatch = input_mismatch(spec, sample_shape, name,
                              bool(data.transforms or data.train_transforms or data.eval_transforms))
    if mismatch is not None:
        raise mismatch
    classes = _classes(splits, train_src)
    _check_targets(parts, len(classes), doc, name)
    return DataBundle(
        classes=classes, num_classes=len(classes), sample_shape=sample_shape, batch_size=data.batch_size,
        seed=seed, splits=parts, rank=rank, world_size=world_size, num_workers=data.num_workers,
        drop_last=data.drop_last, dataset_name=name, normalize=_normalizers(eval_pipe), eval_pipeline=eval_pipe,
    )


# -- dataset ---------------------------------------------------------------------------


def _load_dataset(data: DataSpec, doc: Document, plugins: PluginSet) -> DatasetSplits:
    path: PathKey = ("data", "dataset")
    entry, args, name_path = resolve_ref("dataset", data.dataset, path, doc, plugins)
    label = f"data.dataset {split_ref(data.dataset)[0]}"
    factory = entry.obj.load()
    problem = check_signature(factory, args, skip=2)
    if problem:
        raise doc.error(f"{label}: {problem}", name_path)
    try:
        splits = factory(Path(data.root), data.download, **args)
    except DatasetError as exc:
        raise doc.error(f"{label}: {exc.message}", name_path, hint=exc.hint) from None
    if not isinstance(splits, DatasetSplits):
        raise PluginError(f"the dataset factory of {entry.qualified_name} ({entry.provider}) returned "
                          f"{type(splits).__name__}, expected cnnspec.data.DatasetSplits")
    return splits


def _source(dataset: Any, data: DataSpec, doc: Document, name: str) -> Source:
    source = Source.of(dataset, in_memory=data.in_memory)
    if data.in_memory and not source.in_memory:
        raise doc.error(f"data.in_memory: {name} ({type(dataset).__name__}) cannot be held as one tensor: "
                        "its samples are read one by one", ("data", "in_memory"),
                        hint="remove in_memory: true (files of different sizes are read per batch by a DataLoader)")
    return source


def _classes(splits: DatasetSplits, train: Source) -> list[str]:
    if splits.classes is not None:
        return [str(c) for c in splits.classes]
    named = getattr(splits.train, "classes", None)
    if named:
        return [str(c) for c in named]
    if train.arrays is not None:
        count = int(train.arrays[1].max()) + 1 if len(train) else 0
    elif getattr(splits.train, "targets", None) is not None:
        count = max(int(t) for t in splits.train.targets) + 1
    else:  # a plugin dataset that says nothing: read the labels once
        count = max(int(splits.train[i][1]) for i in range(len(splits.train))) + 1
    return [str(i) for i in range(count)]


def _check_targets(parts: dict[str, SplitData], num_classes: int, doc: Document, name: str) -> None:
    for split in parts.values():
        if split.source.arrays is None or len(split) == 0:
            continue
        targets = split.source.arrays[1]
        low, high = int(targets.min()), int(targets.max())
        if low < 0 or high >= num_classes:
            raise doc.error(f"data.dataset: the {split.name} targets of {name} run from {low} to {high}, "
                            f"outside the {num_classes} classes 0..{num_classes - 1}", ("data", "dataset"))


# -- splits ----------------------------------------------------------------------------


def _split_positions(n: int, data: DataSpec, seed: int, doc: Document, name: str,
                     has_val: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    if has_val and (data.val_split is not None or data.val_indices is not None):
        key = "val_split" if data.val_split is not None else "val_indices"
        raise doc.error(f"data.{key}: {name} already has its own validation split", ("data", key),
                        hint=f"remove {key}, or the dataset's val folder")
    if data.val_split is not None:
        n_val = round(data.val_split * n)
        if n_val == 0 or n_val == n:
            raise doc.error(
                f"data.val_split: {data.val_split} of {n} training samples leaves "
                f"{n_val} for validation and {n - n_val} for training", ("data", "val_split"),
                hint="both parts need at least one sample")
        return fraction_split(n, data.val_split, seed)
    if data.val_indices is not None:
        start, stop = data.val_indices
        if stop > n:
            raise doc.error(f"data.val_indices: [{start}, {stop}] reaches past the {n} training samples of {name}",
                            ("data", "val_indices"), hint=f"stop must be <= {n}")
        if stop - start == n:
            raise doc.error(f"data.val_indices: [{start}, {stop}] takes all {n} training samples of {name}",
                            ("data", "val_indices"), hint="leave some samples for training")
        return range_split(n, start, stop)
    return torch.arange(n), None


# -- transforms ------------------------------------------------------------------------


def _enum_arg(enum_cls: type[enum.Enum], value: str, label: str, path: PathKey, doc: Document) -> enum.Enum:
    for member in enum_cls:
        if member.name.lower() == value.lower() or str(member.value).lower() == value.lower():
            return member
    choices = ", ".join(m.name.lower() for m in enum_cls)
    raise doc.error(f"{label}: unknown value {value!r}", path, hint=f"one of: {choices}")


def _convert_args(args: dict[str, Any], label: str, args_path: PathKey, doc: Document) -> dict[str, Any]:
    """Spec values → what torchvision expects (enum names as strings)."""
    from torchvision.transforms import AutoAugmentPolicy, InterpolationMode

    out = dict(args)
    if isinstance(out.get("interpolation"), str):
        out["interpolation"] = _enum_arg(InterpolationMode, out["interpolation"], f"{label} interpolation",
                                         (*args_path, "interpolation"), doc)
    if isinstance(out.get("policy"), str):
        out["policy"] = _enum_arg(AutoAugmentPolicy, out["policy"], f"{label} policy", (*args_path, "policy"), doc)
    return out


def build_steps(refs: list[Any], key: str, doc: Document, plugins: PluginSet) -> list[Step]:
    """The transforms of ``data.<key>``, built and argument-checked (located errors)."""
    steps = []
    for i, ref in enumerate(refs):
        path: PathKey = ("data", key, i)
        entry, args, name_path = resolve_ref("transform", ref, path, doc, plugins)
        label = f"{format_path(path)} {split_ref(ref)[0]}"
        factory = entry.obj.load()
        args = _convert_args(args, label, name_path, doc)
        problem = check_signature(factory, args)
        if problem:
            raise doc.error(f"{label}: {problem}", name_path)
        try:
            fn = factory(**args)
        except Exception as exc:  # torchvision checks argument values in __init__
            raise doc.error(f"{label}: {_describe(exc)}", name_path,
                            hint=f"see the arguments of {entry.obj.doc or entry.name}") from None
        batched = bool(entry.obj.meta.get("batched", False))
        steps.append(Step(label, name_path, fn, batched=batched, batch_impl=None if batched else batched_impl(fn),
                          shape_rule=entry.obj.meta.get("shape"), args=args))
    return steps


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) < 300 else text[:297] + "..."


def _normalizers(pipeline: Pipeline) -> list[tuple[torch.Tensor, torch.Tensor]]:
    from torchvision.transforms import v2

    return [(torch.tensor(s.fn.mean, dtype=torch.float32), torch.tensor(s.fn.std, dtype=torch.float32))
            for s in pipeline.steps if type(s.fn) is v2.Normalize]


# -- shapes ----------------------------------------------------------------------------


def _probe_indices(source: Source, positions: torch.Tensor) -> list[int]:
    """The first sample, plus one sample per distinct image size for image-file datasets.

    Reading only file headers keeps this cheap; it turns "images of different
    sizes and no resize" into an error now rather than a crash mid-epoch.
    """
    if len(positions) == 0:
        return []
    first = int(positions[0])
    samples = getattr(source.dataset, "samples", None)
    if source.in_memory or not isinstance(samples, list) or len(samples) > _SIZE_PROBE_LIMIT:
        return [first]
    from PIL import Image

    by_size: dict[tuple[int, int], int] = {}
    for i in positions.tolist():
        try:
            with Image.open(samples[i][0]) as img:
                size = img.size
        except OSError:
            continue
        by_size.setdefault(size, i)
        if len(by_size) >= 8:
            break
    return sorted({first, *by_size.values()})


def _run_located(pipeline: Pipeline, source: Source, index: list[int], doc: Document, name: str,
                 g_seed: int) -> torch.Tensor:
    """Run the pipeline on real samples; a failure names the transform and the sample shape."""
    images, _ = source.items(index)
    items = images
    for step in pipeline.steps:
        shapes = sorted({tuple(x.shape) for x in items})
        try:
            items = step.on_samples(items, torch.Generator().manual_seed(g_seed))
        except Exception as exc:
            raise doc.error(f"{step.name} fails on the {_shapes(shapes)} samples of {name}: {_describe(exc)}",
                            step.path) from None
        _check_rule(step, shapes[0], tuple(items[0].shape) if len(shapes) == 1 else None, doc, name)
    try:
        return pipeline.run_items(images, torch.Generator().manual_seed(g_seed))
    except PipelineShapeError as exc:
        raw = _shapes(sorted({tuple(x.shape) for x in images}))
        where = pipeline.steps[-1].path if pipeline.steps else ("data", "transforms")
        raise doc.error(f"{name} has samples of different sizes ({raw}) and after the transforms they still "
                        f"differ: {_shapes(exc.shapes)}", where,
                        hint="add a resize (and centercrop) transform, e.g. transforms: [{resize: [64, 64]}]") from None
    except Exception as exc:
        step, x = _failing_step(pipeline, torch.stack(images), g_seed)
        raise doc.error(f"{step.name} fails on a batch of {list(x.shape[1:])} samples of {name}: {_describe(exc)}",
                        step.path) from None


def _check_rule(step: Step, before: tuple[int, ...], after: tuple[int, ...] | None, doc: Document,
                name: str) -> None:
    """A step whose real output differs from its own shape rule was given arguments for other samples.

    torchvision broadcasts silently: ``normalize`` with three means turns a
    one-channel image into three channels instead of failing.
    """
    if step.shape_rule is None or after is None:
        return
    try:
        expected = step.shape_rule(before, step.args)
    except Exception:
        return
    if expected is None or tuple(expected) == after:
        return
    channels = before[0] if before else 0
    raise doc.error(f"{step.name} turns the {list(before)} samples of {name} into {list(after)}, "
                    f"where {list(expected)} was expected", step.path,
                    hint=f"the samples have {channels} channel(s): per-channel arguments (mean, std, fill...) "
                         f"need {channels} value(s)")


def _failing_step(pipeline: Pipeline, x: torch.Tensor, g_seed: int) -> tuple[Step, torch.Tensor]:
    g = torch.Generator().manual_seed(g_seed)
    for step in pipeline.steps:
        try:
            y = step.on_batch(x.clone(), g)
        except Exception:
            return step, x
        x = y
    return pipeline.steps[-1], x  # pragma: no cover - the whole pipeline failed but no single step did


def _shapes(shapes: list[tuple[int, ...]]) -> str:
    return " and ".join(str(list(s)) for s in shapes[:4]) + (" ..." if len(shapes) > 4 else "")


def _check_shapes(parts: dict[str, SplitData], train_pipe: Pipeline, eval_pipe: Pipeline, data: DataSpec,
                  doc: Document, name: str, seed: int) -> tuple[int, ...]:
    """The per-sample input shape, the same for every split, or a located error."""
    g_seed = batch_seed(seed, 0, 0, 0, 0)
    train = parts["train"]
    train_index = _probe_indices(train.source, train.positions)
    shape = tuple(_run_located(train_pipe, train.source, train_index, doc, name, g_seed).shape[1:])
    for split in ("val", "test"):
        if split not in parts:
            continue
        part = parts[split]
        source, positions = (train.source, train.positions) if part.source is train.source else \
            (part.source, part.positions)
        index = _probe_indices(source, positions)
        other = tuple(_run_located(eval_pipe, source, index, doc, name, g_seed).shape[1:])
        if other != shape:
            key = "train_transforms" if data.train_transforms else \
                ("eval_transforms" if data.eval_transforms else "transforms")
            raise doc.error(
                f"the training samples of {name} are {list(shape)} after the training transforms, but its {split} "
                f"samples are {list(other)} after the evaluation transforms; the model takes one shape",
                ("data", key),
                hint="make train_transforms and eval_transforms end at the same size "
                     "(e.g. randomcrop 28 for training, centercrop 28 for evaluation)")
    return shape
