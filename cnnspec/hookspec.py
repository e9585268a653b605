"""The plugin contract: every hook cnnspec calls, with its reference docs.

A plugin is a module (or any object) with functions marked
`@cnnspec.hookimpl` whose names are the hook names below. cnnspec finds
plugins through the `cnnspec` entry-point group of installed distributions,
as pytest finds `pytest11` plugins, and its own layers, datasets, optimizers,
losses, schedulers, transforms and callbacks are registered through these same
hooks (`cnnspec plugins` lists them all).

The hook docstrings are written in Markdown: `cnnspec plugins --hooks` prints
them, and the plugin guide (`docs/plugins.md`) embeds that output.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from cnnspec.component import Component
    from cnnspec.layer import LayerType

__all__ = ["PROJECT_NAME", "hookimpl", "hookspec"]

PROJECT_NAME = "cnnspec"

#: marks a hook specification (cnnspec's own use)
hookspec = pluggy.HookspecMarker(PROJECT_NAME)

#: marks a hook implementation: what plugin authors decorate their functions with
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

CONTRACT = """\
Rules shared by every hook:

- **Registration hooks take no arguments and return a list** (any iterable
  but a string or mapping) of definitions: `cnnspec.layer.LayerType` for
  layers, `cnnspec.component.Component` for everything else. Returning
  nothing (`None` or `[]`) is allowed.
- **They run on every command, `cnnspec validate` included**, once per
  process, when a registry is first used. Keep them cheap and **do not import
  torch** in them or at the top of the plugin module: give factories as
  `"package.module:attribute"` strings and import torch inside builders.
  `cnnspec validate` never imports torch, and must not start to because a
  plugin is installed.
- **Names** start with a letter or `_` and contain letters, digits, `_`, `.`
  or `-`; `:` is reserved for qualified names. They are matched
  case-insensitively. A layer may not be named like a container
  (`sequential`, `repeat`, `residual`, `concat`).
- **Duplicates are never resolved silently.** If two plugins register the same
  name, using that name in a spec is an error naming both providers (the same
  in either install order); `PLUGIN:NAME` picks one (`example:stripes`), and
  `-p no:PLUGIN` removes one.
- **A plugin is used whole or not at all.** If its import fails, a hook name
  is misspelled, a hookimpl asks for an argument its hook does not have, a
  hook raises or returns something other than the definitions above, or one
  plugin returns a name twice, the plugin is marked broken: `cnnspec plugins`
  shows why, specs that use one of its names get an error saying so, and every
  other plugin and spec keeps working.
- Hookimpls may declare fewer arguments than their hook (later versions of
  cnnspec may add some); hook wrappers are not allowed on registration hooks.
"""


@hookspec
def cnnspec_layers() -> Iterable[LayerType]:
    """Layer types usable in `model:` — `- NAME: {args}` or a bare `- NAME`.

    Return `cnnspec.layer.LayerType(name, params, infer, build, prefix="", doc="", tags=frozenset())`:

    - `params`: a subclass of `cnnspec.layer.LayerParams` (a strict pydantic
      model, unknown keys rejected with a suggestion) whose fields are the
      spec arguments. Arguments that follow from the input (a channel count)
      are `int | None = None` fields listed in the class variable `inferred`.
      The model is also what `cnnspec schema` publishes for editors.
    - `infer(params, shape, ctx) -> cnnspec.layer.LayerShape`: the shape rule,
      pure Python, called by `cnnspec validate` without torch. `shape` is the
      per-sample input shape (no batch dim), a tuple of `int` or symbolic dims
      (write the arithmetic with `+ - * //`; `ctx.concrete(dim, what)`
      demands a fixed number). Report problems with `ctx.fail(what, hint=...)`
      or `ctx.require_positive(...)`, never by raising other exceptions. The
      result carries the output `shape`, the parameter count `params`, `macs`,
      the builder's `kwargs` (inferred arguments filled in) and `rf`, the
      receptive-field growth (`(kernel, stride)` per spatial dim, `None` for
      pointwise, `"global"`).
    - `build(kwargs) -> torch.nn.Module`: imports torch itself and returns
      the module for the `kwargs` the rule computed.
    - `prefix` makes default module names (`prefix1`, `prefix2`...); `tags`
      let tools find layers by role (`"conv"`: spatial feature maps, the
      default Grad-CAM target).

    `cnnspec.testing.check_layer(layer_type)` checks the rule against the
    module's real forward; see the author kit.
    """


@hookspec
def cnnspec_datasets() -> Iterable[Component]:
    """Datasets usable as `data: {dataset: NAME}` or `{dataset: {NAME: {args}}}`.

    Return `cnnspec.component.Component(name, factory, params=None, doc="", meta={})`.
    The factory is called as `factory(root, download, **args)`: `root` is a
    `pathlib.Path` (`data.root`), `download` a bool, `args` the spec's dataset
    arguments (validated by the `params` model when given, so mistakes are
    located spec errors before anything runs). It returns
    `cnnspec.data.protocol.DatasetSplits(train, test=None, val=None, classes=None)`;
    each split is a map-style dataset of `(image, int)` pairs, ideally a
    `cnnspec.data.protocol.ArrayDataset` (all samples in one tensor: the fast
    path). Missing files raise `cnnspec.data.protocol.DatasetNotFound` with a
    hint saying how to get them. `meta` declares what tools read without
    loading anything: `sample_shape` (`(C, H, W)`, or a function of the
    arguments), `num_classes`, `classes`, `in_memory`.
    """


@hookspec
def cnnspec_optimizers() -> Iterable[Component]:
    """Optimizers for `train: {optimizer: {NAME: {args}}}`.

    The factory is called as `factory(model.parameters(), **args)`, like a
    `torch.optim.Optimizer` class (built-ins are registered as
    `"torch.optim:SGD"`). Without a `params` model the arguments are checked
    against the factory's signature before training starts.
    """


@hookspec
def cnnspec_losses() -> Iterable[Component]:
    """Losses for `train: {loss: NAME}` or `{loss: {NAME: {args}}}`.

    `factory(**args)` returns a callable `loss(outputs, targets) -> Tensor`
    (usually a `torch.nn.Module`). `meta["target"]` says what it expects as
    targets: `"index"` (class indices, the default) or `"onehot"` (float
    one-hot rows); `meta["output"]` what the model must produce: `"logits"`
    (default), `"log_probs"` (a final LogSoftmax) or `"probs"` — the static
    check uses it to reject, say, NLLLoss after a plain Linear.
    """


@hookspec
def cnnspec_schedulers() -> Iterable[Component]:
    """Learning-rate schedulers for `train: {scheduler: {NAME: {args}}}`.

    The factory is called as `factory(optimizer, **args)`, like
    `torch.optim.lr_scheduler` classes. `meta["interval"]` is `"epoch"`
    (default) or `"step"` (stepped after every optimizer step);
    `meta["monitor"]` names a metric passed to `step()` (ReduceLROnPlateau).
    """


@hookspec
def cnnspec_transforms() -> Iterable[Component]:
    """Data transforms for `data: {transforms: [...]}` (also `train_transforms`, `eval_transforms`).

    `factory(**args)` returns a callable applied to an image tensor
    (`C, H, W`), in the style of torchvision's v2 transforms (built-ins are
    those classes, `"torchvision.transforms.v2:RandomCrop"`). `meta` tells the
    data pipeline how it may run it: `random` (draws random numbers: applied
    per sample from a seeded generator), `batched` (deterministic and
    per-sample independent: may run on a whole `[B, C, H, W]` batch), and
    `shape`, a pure rule `((C, H, W), args) -> (C, H, W)` (or `None` when the
    size is not fixed) used to check `input:` statically.
    """


@hookspec
def cnnspec_callbacks() -> Iterable[Component]:
    """Callbacks for `callbacks: [NAME, {NAME: {args}}]`.

    `factory(**args)` returns a `cnnspec.callbacks.Callback`: an object with
    no-op event methods (`on_epoch_end(trainer, epoch, metrics)`, ...) of
    which it overrides the ones it needs, plus `state_dict()` /
    `load_state_dict()` so its state survives a resume.
    """
