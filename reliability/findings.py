"""Bugs the suite found that are not fixed yet.

Each finding is pinned by a ``pytest.mark.xfail(strict=True)`` test in
``tests/reliability/test_findings.py``: when the owner fixes the bug the
test passes, strict mode turns that into a failure, and whoever fixed it
deletes the entry here and the ``xfail`` mark there. Scenarios count the
cases that fail this way as *known* (``Row.known_case``), apart from ok and
losses, so the published table never hides them and never blames them on an
unrelated protection.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FINDINGS", "FIXED", "Finding", "Fixed"]


@dataclass(frozen=True)
class Finding:
    """One open bug: what happens, where the fix belongs, which test pins it."""

    id: str
    title: str
    owner: str
    detail: str
    test: str


FINDINGS: dict[str, Finding] = {f.id: f for f in [
    Finding(
        "F1", "Ctrl-C during a plugin import that never finishes does not say which plugin it was",
        "cnnspec/plugin_manager.py (PluginSet._import) / cnnspec/cli.py",
        "A plugin that blocks at import (a network call, a lock) makes every cnnspec command wait; the user's "
        "Ctrl-C ends it with exit 130 and 'interrupted', but nothing names the plugin being imported, so the "
        "user cannot know which one to disable with -p no:NAME. Fix: catch KeyboardInterrupt around the import "
        "and re-raise it with the plugin's name and distribution (e.g. \"interrupted while importing plugin "
        "'hang' (cnnspec-t-hang 1.0); skip it with -p no:hang\").",
        "tests/reliability/test_findings.py::test_f1_interrupted_plugin_import_names_the_plugin",
    ),
    Finding(
        "F2", "the fix-it search may take 3 s, more than the 2 s one input may cost",
        "cnnspec/fixits.py (SEARCH_SECONDS)",
        "For one bad layer deep in specs/googlenet.yaml (a maxpool with kernel_size 1 and padding 1, found by the "
        "mutation fuzzer) the fix-it search tries 732 candidate edits, each re-inferring the whole model: about "
        "4 s of CPU, while the error itself is found in 40 ms. The search now stops after SEARCH_SECONDS = 3 s "
        "of wall time and returns the fixes verified so far, which bounds it, but above the suite's budget of 2 s "
        "per input. Fix: SEARCH_SECONDS <= 1, or fewer candidates (re-infer only the failing layer's block).",
        "tests/reliability/test_findings.py::test_f2_fix_it_search_fits_the_per_input_budget",
    ),
    Finding(
        "F3", "a spec with many unknown keys takes seconds to refuse and prints every one",
        "cnnspec/pydantic_errors.py (translate) / cnnspec/exceptions.py (SpecError.combine)",
        "100,000 unknown top-level keys (a 1.1 MB file) cost validate 7.8 s of CPU and 200,000 lines of output: "
        "every key gets its own located error and its own did-you-mean, computed twice with difflib. Fix: report "
        "the first few unknown keys of a mapping and a count of the rest, and compute suggestions only for the "
        "reported ones.",
        "tests/reliability/test_findings.py::test_f3_many_unknown_keys_are_summarised",
    ),
]}


@dataclass(frozen=True)
class Fixed:
    """A bug this suite found that has been fixed, and what keeps it fixed."""

    title: str
    where: str
    guard: str


#: found by the suite and fixed since; each stays covered by the scenario or test named in ``guard``
FIXED: list[Fixed] = [
    Fixed("`extends: /dev/zero` exhausted memory, `extends:` of a FIFO blocked forever", "cnnspec/loading.py",
          "test_former_findings_stay_fixed, mutation regular-files"),
    Fixed("${vars} interpolation bombs: 1.6 KB expanded to gigabytes", "cnnspec/composition.py",
          "test_former_findings_stay_fixed, mutation interpolation-bound"),
    Fixed("`repeat: {times: 1000000000}` kept validate busy for hours", "cnnspec/spec.py, cnnspec/inference.py",
          "test_former_findings_stay_fixed, mutation repeat-bound"),
    Fixed("tags on mapping keys were ignored (`!!python/object/apply:os.system input: ...` loaded)",
          "cnnspec/yaml_reader.py", "fuzz-tags, mutation key-tags"),
    Fixed("an unknown top-level key read `foo: : unknown argument 'foo'`", "cnnspec/pydantic_errors.py",
          "fuzz rows (the CLI check)"),
    Fixed("TensorBoard's log_dir could point outside the run directory", "cnnspec/builtin/tensorboard.py",
          "path-traversal, mutation log-dir-inside"),
    Fixed("a crafted manifest.json made resume delete files outside the run directory",
          "cnnspec/checkpoint/manifest.py", "path-traversal, mutation manifest-names"),
    Fixed("a loss argument torch checks only in forward (reduction: os.system) crashed the first step",
          "cnnspec/engine/components.py", "spec-object-names, mutation loss-arguments"),
    Fixed("resuming mid-epoch through a DataLoader (in_memory: false, workers) was not bit-identical",
          "cnnspec/data/bundle.py", "dataloader-workers, mutation dataloader-generator"),
    Fixed("a killed DataLoader worker was blamed on a callback or printed as an internal error",
          "cnnspec/engine/trainer.py", "dataloader-workers, mutation dead-worker-named"),
]
