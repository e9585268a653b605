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

__all__ = ["FINDINGS", "Finding"]


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
        "F1", "a spec can name a device or a FIFO as its base: extends: /dev/zero exhausts memory, a FIFO blocks",
        "cnnspec/loading.py (read_text)",
        "read_text checks st_size (0 for /dev/zero and FIFOs) and then reads the whole file: `extends: /dev/zero` "
        "ends in MemoryError (an internal error, or the OOM killer without a memory limit) and `extends: "
        "some.fifo` never returns. The same holds for `cnnspec validate /dev/zero`. Fix: refuse files that are "
        "not regular (stat.S_ISREG) and read at most MAX_BYTES + 1 bytes.",
        "tests/reliability/test_findings.py::test_f1_extends_of_a_device_or_fifo_is_refused",
    ),
    Finding(
        "F2", "${vars} interpolation has no size limit: a 1.6 KB spec expands to gigabytes",
        "cnnspec/composition.py (interpolation)",
        "Forty variables that each reference the previous one twice (`a1: '${vars.a0}${vars.a0}'`, ...) double a "
        "string forty times: MemoryError (internal error, exit 1) under a 1.5 GB limit, unbounded memory without "
        "one; the list form (`a1: ['${vars.a0}', '${vars.a0}']`) runs for about a minute and 1.5 GB. YAML alias "
        "bombs are refused by MAX_NODES, but interpolation happens after that check. Fix: count interpolated "
        "values and characters against MAX_NODES / MAX_BYTES while substituting.",
        "tests/reliability/test_findings.py::test_f2_vars_interpolation_bomb_is_refused",
    ),
    Finding(
        "F3", "tags on mapping keys are ignored when they are in the yaml.org namespace",
        "cnnspec/yaml_reader.py (_Builder.mapping)",
        "`!!python/object/apply:os.system input: [1, 8, 8]` loads as if the tag were absent (nothing is "
        "constructed, so nothing runs), because a key is tag-checked only when its tag does not start with "
        "tag:yaml.org,2002:. Values are refused correctly. Fix: accept a key only with a core scalar tag "
        "(str, int, float, bool, null).",
        "tests/reliability/test_findings.py::test_f3_tag_on_a_mapping_key_is_refused",
    ),
    Finding(
        "F4", "tensorboard log_dir can point outside the run directory",
        "cnnspec/builtin/tensorboard.py (TensorBoardParams.log_dir)",
        "`callbacks: [{tensorboard: {log_dir: ../../elsewhere}}]` (or an absolute path) makes training create "
        "directories and event files outside the run directory, although the argument is documented as a folder "
        "relative to it. Fix: a validator that refuses absolute paths and '..' components (a located SpecError "
        "at load time).",
        "tests/reliability/test_findings.py::test_f4_tensorboard_log_dir_stays_in_the_run_directory",
    ),
    Finding(
        "F5", "repeat: {times: N} has no upper bound: a 60-byte spec keeps validate busy for hours",
        "cnnspec/spec.py (RepeatArgs.times) / cnnspec/inference.py",
        "Shape inference unrolls a repeat block, so `repeat: {times: 1000000000, layers: [relu]}` never "
        "finishes (times: 100000 already takes ~11 s and 175 MB, 1000000 over a minute and 1.1 GB), and a built "
        "model would hold that many modules. Fix: an upper bound on times (le=...) or on the total number of "
        "unrolled layers, reported as a located SpecError.",
        "tests/reliability/test_findings.py::test_f5_huge_repeat_count_is_refused",
    ),
    Finding(
        "F6", "a killed DataLoader worker is blamed on a callback, or reported as an internal error with a traceback",
        "cnnspec/engine/trainer.py (_dispatch / the batch loop)",
        "torch reports a dead worker from its SIGCHLD handler, which raises RuntimeError('DataLoader worker (pid N) "
        "is killed by signal: Killed.') in whatever code runs at that moment. In a callback (a checkpoint being "
        "saved) cnnspec says \"callback 'checkpoint' failed in on_train_batch_end: RuntimeError: DataLoader "
        "worker ...\"; elsewhere it prints \"internal error (this is a bug...)\" with a traceback, sometimes "
        "of a ConnectionResetError from the worker's pipe that does not mention the worker at all, or a second "
        "traceback when the handler fires again while the first is printed. The run does stop (exit 1), no "
        "worker outlives it, and it resumes from its last checkpoint; only the culprit is misnamed. Fix: while "
        "a DataLoader with workers is being iterated, treat that RuntimeError (raised from "
        "torch.utils.data._utils.signal_handling) and a ConnectionResetError/EOFError from its pipes as one "
        "error, 'a DataLoader worker died (signal, often the OOM killer)', printed once with the resume command.",
        "tests/reliability/test_findings.py::test_f6_dead_dataloader_worker_is_named_as_such",
    ),
    Finding(
        "F7", "resuming mid-epoch is not bit-identical for datasets read through a DataLoader",
        "cnnspec/data/bundle.py (DataBundle._per_item)",
        "Every DataLoader iterator draws its base seed from the global torch RNG. A run resumed at batch k creates "
        "the epoch's iterator after restoring the RNG states, an uninterrupted run created it before batch 0, so "
        "from then on dropout (and anything else on the global RNG) draws different numbers. Datasets held in "
        "memory (the default when they fit) never create a DataLoader and resume bit-identically; in_memory: "
        "false, image folders and num_workers > 0 do not (checked: the same spec stopped at step 13 and resumed "
        "ends with different weights, with 0 or 2 workers). Fix: DataLoader(..., generator=torch.Generator()) in "
        "_per_item (the batches are seeded per batch already); with that change the resumed runs are identical.",
        "tests/reliability/test_findings.py::test_f7_resume_mid_epoch_through_a_dataloader_is_bit_identical",
    ),
    Finding(
        "F8", "a crafted manifest.json makes resume delete (and read) files outside the run directory",
        "cnnspec/checkpoint/manifest.py (read_manifest / remove_checkpoints)",
        "Manifest entries are joined to the checkpoint directory as given: an entry {\"file\": "
        "\"../../../victim.txt\", \"seq\": 0} in a run directory someone shared is pruned by the checkpoint "
        "callback after the resumed run's next save, which unlinks victim.txt outside the run (checked with "
        "cnnspec.resume.resume). The same entry naming /dev/zero makes latest_valid read without end. Fix: "
        "read_manifest drops entries whose file is not a plain file name (no '/', no '..', not absolute), and "
        "remove_checkpoints refuses such names.",
        "tests/reliability/test_findings.py::test_f8_manifest_entries_cannot_leave_the_checkpoint_directory",
    ),
    Finding(
        "F9", "a loss argument torch checks only in forward (reduction: bogus) crashes the first step",
        "cnnspec/engine/components.py (build_loss) / cnnspec/builtin/losses.py",
        "`loss: {crossentropyloss: {reduction: os.system}}` loads and builds (torch stores the string), then "
        "the first forward raises ValueError('os.system is not a valid value for reduction'): `cnnspec train` "
        "(even --dry-run) prints an internal error with a traceback instead of a located spec error. Nothing "
        "runs. Fix: a Literal['none', 'mean', 'sum'] for reduction in the built-in losses' argument models, or "
        "call the loss once on a dummy batch when it is built and report the error at train.loss.",
        "tests/reliability/test_findings.py::test_f9_bad_loss_reduction_is_a_spec_error",
    ),
    Finding(
        "F10", "Ctrl-C during a plugin import that never finishes does not say which plugin it was",
        "cnnspec/plugin_manager.py (PluginSet._import) / cnnspec/cli.py",
        "A plugin that blocks at import (a network call, a lock) makes every cnnspec command wait; the user's "
        "Ctrl-C ends it with exit 130 and 'interrupted', but nothing names the plugin being imported, so the "
        "user cannot know which one to disable with -p no:NAME. Fix: catch KeyboardInterrupt around the import "
        "and re-raise it with the plugin's name and distribution (e.g. \"interrupted while importing plugin "
        "'hang' (cnnspec-t-hang 1.0); skip it with -p no:hang\").",
        "tests/reliability/test_findings.py::test_f10_interrupted_plugin_import_names_the_plugin",
    ),
    Finding(
        "F11", "the fix-it search can keep validate busy for seconds on a large spec",
        "cnnspec/fixits.py (suggest_fixes)",
        "For one bad layer deep in specs/googlenet.yaml (a maxpool with kernel_size 1 and padding 1, found by the "
        "mutation fuzzer) `cnnspec validate` spends 4 s of CPU, 99% of it in the fix-it search: 732 candidate "
        "edits, each re-parsing and re-inferring the whole model. The error itself is found in 40 ms. Fix: a "
        "budget for the search (a number of candidate validations, or time), and re-inference from the failing "
        "layer's block instead of the whole model.",
        "tests/reliability/test_findings.py::test_f11_fix_it_search_is_bounded",
    ),
    Finding(
        "F12", "a spec with many unknown keys takes seconds to refuse and prints every one",
        "cnnspec/pydantic_errors.py (translate) / cnnspec/exceptions.py (SpecError.combine)",
        "100,000 unknown top-level keys (a 1.1 MB file) cost validate 7.8 s of CPU and 200,000 lines of output: "
        "every key gets its own located error and its own did-you-mean, computed twice with difflib. Fix: report "
        "the first few unknown keys of a mapping and a count of the rest, and compute suggestions only for the "
        "reported ones.",
        "tests/reliability/test_findings.py::test_f12_many_unknown_keys_are_summarised",
    ),
]}
