"""Bugs the suite found that are not fixed yet.

Each finding is pinned by a ``pytest.mark.xfail(strict=True)`` test in
``tests/reliability/test_findings.py``: when the owner fixes the bug the
test passes, strict mode turns that into a failure, and the entry moves
from :data:`FINDINGS` to :data:`FIXED`, its test becoming a plain
regression test next to the scenario that found it. Scenarios count the
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
        "F1", "a SIGKILL just after the last checkpoint's manifest entry leaves the finished run's last.pt stale",
        "cnnspec/checkpoint/__init__.py (save_checkpoint) / cnnspec/callbacks/checkpoint.py (setup)",
        "save_checkpoint writes the file, then the manifest (aliases included), then relinks last.pt/best.pt; a "
        "kill between the manifest and the links leaves last.pt one save behind, which the manifest allows. If "
        "that save was the run's final one, `cnnspec train --resume` finds nothing left to train, saves nothing, "
        "and the finished run's last.pt keeps the previous step's weights while manifest.json says last is "
        "epoch0003.pt (seen in 1 of 100 kill trials; reproduced by relinking last.pt to the previous file). "
        "Whoever loads last.pt (evaluate, explain, export of RUN_DIR) gets stale weights. Fix: when a run "
        "starts or resumes, relink every alias whose bytes do not match the manifest entry it names.",
        "tests/reliability/test_findings.py::test_f1_finished_resume_leaves_last_pt_current",
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
    Fixed("Ctrl-C during a plugin import that never finished did not say which plugin it was",
          "cnnspec/plugin_manager.py, cnnspec/cli.py", "slow-plugins, mutation interrupted-import-named"),
    Fixed("the fix-it search spent up to 4 s re-inferring a large spec (732 times for one bad GoogLeNet layer)",
          "cnnspec/fixits.py", "fuzz-mutations, test_fix_it_search_fits_the_per_input_budget"),
    Fixed("100,000 unknown keys took 7.8 s to refuse and printed 200,000 lines", "cnnspec/pydantic_errors.py, "
          "cnnspec/exceptions.py", "fuzz-bombs, test_many_unknown_keys_are_summarised, mutation reported-problems"),
]
