"""Shell completion (argcomplete): commands and options, and what the spec on the line contains.

Enable it once per shell with ``eval "$(cnnspec completion bash)"`` (or
``zsh``, ``fish``, ``powershell``). Beyond the parser's own commands and
options, completion reads the spec already on the command line:

* ``--set`` offers its key paths (``train.optimizer.sgd.lr=``), the section
  fields it does not write yet (``train.epochs=``), each layer's arguments
  (``model[3].conv2d.stride=``), values for a key with a few choices
  (``train.device=cpu``), and ``~key`` to delete what a base defines;
* ``--layer`` offers the module names of the static trace (``layer1.0.conv1``);
* spec arguments offer ``.yaml``/``.yml``/``.json`` files; ``-p`` the installed plugins.

It runs only when the shell asks (``_ARGCOMPLETE`` is set), reads the spec
without validating it (a half-written spec still completes) and never imports torch.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterable, Iterator
from typing import Any

__all__ = ["SHELLS", "autocomplete", "install", "layer_names", "set_keys"]

SHELLS = ("bash", "zsh", "fish", "tcsh", "powershell")
_SPEC_DESTS = ("file", "files", "spec", "a", "b")
_SET_DESTS = {"overrides": ("file", "files", "spec"), "overrides_a": ("a",), "overrides_b": ("b",)}


def _spec_of(parsed: Any, dests: Iterable[str] = _SPEC_DESTS) -> str | None:
    for dest in dests:
        value = getattr(parsed, dest, None)
        if isinstance(value, list):
            value = value[0] if value else None
        if isinstance(value, str) and os.path.isfile(value):
            return value
    return None


def _format(path: tuple) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + str(part)
    return out


def _leaves(value: Any, path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    if isinstance(value, dict) and value:
        for key, sub in value.items():
            yield from _leaves(sub, (*path, key))
    elif isinstance(value, list) and value:
        for i, sub in enumerate(value):
            yield from _leaves(sub, (*path, i))
    if path:
        yield path, value


def _choices(annotation_text: str) -> list[str]:
    if annotation_text == "bool" or annotation_text.startswith("bool "):
        return ["true", "false"]
    literal = next((part for part in annotation_text.split(" or ") if part.startswith("'")), "")
    return [v.strip().strip("'") for v in literal.split("|") if v.strip().startswith("'")]


def set_keys(spec_file: str) -> list[str]:
    """Every ``--set`` key of a spec (with ``=``), and ``KEY=VALUE`` for keys with few choices."""
    from cnnspec.load.compose import compose
    from cnnspec.load.reader import load_document
    from cnnspec.lsp.signatures import model_arguments
    from cnnspec.plugins.manager import get_plugins
    from cnnspec.spec.sections import DataSpec, TrainSpec

    data = compose(load_document(spec_file)).data
    if not isinstance(data, dict):
        return []
    keys: dict[str, list[str]] = {}
    for path, _ in _leaves(data):
        keys.setdefault(_format(path), [])
    for section, model in (("data", DataSpec), ("train", TrainSpec)):
        if not isinstance(data.get(section), dict):
            continue  # a section the spec leaves out: one field alone would not make it whole
        for arg in model_arguments(model):
            keys.setdefault(f"{section}.{arg.name}", _choices(arg.type))
    for key in ("seed", "name", "input"):
        keys.setdefault(key, [])
    registry = get_plugins().layers()
    for path, item in _leaves(data.get("model")):
        if isinstance(item, dict) and len(item) == 1:
            (type_key,) = item
            try:
                layer = registry.get(type_key)
            except Exception:
                continue
            inferred = tuple(getattr(layer.params, "inferred", ()))
            for arg in model_arguments(layer.params, inferred):
                keys.setdefault(_format(("model", *path, type_key, arg.name)), _choices(arg.type))
    out = []
    for key, choices in sorted(keys.items()):
        out.append(f"{key}=")
        out += [f"{key}={c}" for c in choices]
        out.append(f"~{key}")
    return out


def layer_names(spec_file: str) -> list[str]:
    """The module names of the spec's static trace (``features.conv1``)."""
    from cnnspec.shapes.walker import infer_shapes
    from cnnspec.spec import load_spec

    return [info.qualname for info in infer_shapes(load_spec(spec_file)).walk()]


def _set_completer(dests: tuple[str, ...]) -> Any:
    def complete(prefix: str, parsed_args: Any, **_: Any) -> list[str]:
        spec = _spec_of(parsed_args, dests)
        if spec is None:
            return []
        try:
            found = set_keys(spec)
        except Exception:  # a spec that cannot be read: nothing to offer, never a traceback in the shell
            return []
        return [k for k in found if k.startswith(prefix)]

    return complete


def _layer_completer(prefix: str, parsed_args: Any, **_: Any) -> list[str]:
    spec = _spec_of(parsed_args)
    if spec is None:
        return []
    try:
        return [n for n in layer_names(spec) if n.startswith(prefix)]
    except Exception:
        return []


def _plugin_completer(prefix: str, **_: Any) -> list[str]:
    from cnnspec.plugins.discovery import BUILTIN_PLUGINS

    names = list(BUILTIN_PLUGINS)
    try:
        from importlib.metadata import entry_points

        names += [ep.name for ep in entry_points(group="cnnspec")]
    except Exception:
        pass
    return [n for n in [*names, *(f"no:{n}" for n in names)] if n.startswith(prefix)]


def install(parser: argparse.ArgumentParser) -> None:
    """Attach the spec-aware completers to every command's options."""
    from argcomplete.completers import FilesCompleter

    files = FilesCompleter(("yaml", "yml", "json"))
    stack = [parser]
    while stack:
        current = stack.pop()
        for action in current._actions:
            if isinstance(action, argparse._SubParsersAction):
                stack.extend(action.choices.values())
            elif action.dest in _SET_DESTS:
                action.completer = _set_completer(_SET_DESTS[action.dest])  # type: ignore[attr-defined]
            elif action.dest == "layer":
                action.completer = _layer_completer  # type: ignore[attr-defined]
            elif action.dest == "plugin_options":
                action.completer = _plugin_completer  # type: ignore[attr-defined]
            elif action.dest in _SPEC_DESTS and not action.option_strings:
                action.completer = files  # type: ignore[attr-defined]


def autocomplete(parser: argparse.ArgumentParser) -> None:
    """Answer the shell's completion request and exit, when there is one (else do nothing, cheaply)."""
    if "_ARGCOMPLETE" not in os.environ:
        return
    import argcomplete

    install(parser)
    argcomplete.autocomplete(parser)
