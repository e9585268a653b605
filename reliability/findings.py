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


FINDINGS: dict[str, Finding] = {}


@dataclass(frozen=True)
class Fixed:
    """A bug this suite found that has been fixed, and what keeps it fixed."""

    title: str
    where: str
    guard: str


#: found by the suite and fixed since; each stays covered by the scenario or test named in ``guard``
FIXED: list[Fixed] = [
    Fixed("`extends: /dev/zero` exhausted memory, `extends:` of a FIFO blocked forever", "cnnspec/load/reader.py",
          "test_former_findings_stay_fixed, mutation regular-files"),
    Fixed("${vars} interpolation bombs: 1.6 KB expanded to gigabytes", "cnnspec/load/compose.py",
          "test_former_findings_stay_fixed, mutation interpolation-bound"),
    Fixed("`repeat: {times: 1000000000}` kept validate busy for hours",
          "cnnspec/spec/model.py, cnnspec/shapes/walker.py",
          "test_former_findings_stay_fixed, mutation repeat-bound"),
    Fixed("tags on mapping keys were ignored (`!!python/object/apply:os.system input: ...` loaded)",
          "cnnspec/load/yaml_reader.py", "fuzz-tags, mutation key-tags"),
    Fixed("an unknown top-level key read `foo: : unknown argument 'foo'`", "cnnspec/spec/errors.py",
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
          "cnnspec/plugins/manager.py, cnnspec/cli/main.py", "slow-plugins, mutation interrupted-import-named"),
    Fixed("the fix-it search spent up to 4 s re-inferring a large spec (732 times for one bad GoogLeNet layer)",
          "cnnspec/analysis/fixits.py", "fuzz-mutations, test_fix_it_search_fits_the_per_input_budget"),
    Fixed("100,000 unknown keys took 7.8 s to refuse and printed 200,000 lines", "cnnspec/spec/errors.py, "
          "cnnspec/exceptions.py", "fuzz-bombs, test_many_unknown_keys_are_summarised, mutation reported-problems"),
    Fixed("a SIGKILL between the final checkpoint's manifest entry and its alias link left the finished run's "
          "last.pt one save behind (1 of 100 kill trials)", "cnnspec/checkpoint/__init__.py (repair_aliases), "
          "cnnspec/callbacks/checkpoint.py", "kill-training, test_finished_resume_leaves_last_pt_current, "
          "mutation alias-repair"),
    Fixed("a DataLoader worker killed while handing over a batch surfaced as ConnectionResetError, printed as an "
          "internal error and interrupted by torch's late SIGCHLD handler (2 of 30 worker kills)",
          "cnnspec/data/workers.py", "dataloader-workers, tests/data/test_data_workers.py, "
          "mutation reset-connection-named"),
    Fixed("a SIGKILL inside the final final.json write left its temp file in the run directory, and the resume "
          "that finished the run did not remove it (1 of 100 kill trials)", "cnnspec/engine/rundir.py, "
          "cnnspec/engine/trainer.py", "kill-training, test_resume_removes_temp_files_a_kill_left_in_the_run_"
          "directory, mutation run-dir-temp-clean"),
]
