"""Every scenario of the suite, with its size in the CI tier and in the long tier.

The order is the report's order. Sizes in the long tier are what
``docs/reliability.md`` shows; the CI tier (``tests/reliability/``) runs the
small ones on every test run.
"""

from __future__ import annotations

from reliability.hostile_files import SCENARIOS as HOSTILE_FILES
from reliability.output_fences import SCENARIOS as HOSTILE_OUTPUT
from reliability.rows import Scenario

__all__ = ["GROUPS", "SCENARIOS", "by_id"]

GROUPS = {
    "1": "Spec fuzzing",
    "2": "Shape differential",
    "3": "SIGKILL during training",
    "4": "Checkpoint files: kills during saves, truncation, bit flips, full disk",
    "5": "Malicious inputs",
    "6": "Plugin faults",
    "7": "Runtime faults",
    "8": "Hostile files: checkpoints, weights, images, archives, bases",
    "9": "Hostile output and resources: terminals, output paths, memory, pipes, devices",
}

SCENARIOS: list[Scenario] = [
    Scenario("fuzz-yaml-text", "1", "hypothesis text as YAML", "reliability.fuzz:yaml_text", 60, 2500, "inputs"),
    Scenario("fuzz-json-text", "1", "hypothesis text as JSON", "reliability.fuzz:json_text", 60, 2500, "inputs"),
    Scenario("fuzz-bytes", "1", "hypothesis bytes as spec files", "reliability.fuzz:bytes_files", 60, 2000,
             "inputs"),
    Scenario("fuzz-mutations", "1", "mutated example specs", "reliability.fuzz:mutations", 60, 2500, "inputs"),
    Scenario("fuzz-tags", "1", "tags before random nodes", "reliability.fuzz:tags", 40, 1500, "inputs"),
    Scenario("fuzz-aliases", "1", "aliases vs their expansion", "reliability.fuzz:aliases", 20, 600, "inputs"),
    Scenario("fuzz-bombs", "1", "inputs that could crash or exhaust the interpreter", "reliability.bombs:bombs",
             6, 40, "inputs"),
    Scenario("shapes-differential", "2", "random stacks vs torch", "reliability.shapes:differential", 120, 3000,
             "stacks"),
    Scenario("shapes-kit", "2", "the author kit on plugin and built-in rules", "reliability.shapes:plugin_kit",
             350, 7000, "draws"),
    Scenario("kill-training", "3", "SIGKILL and resume", "reliability.kills:kill_training", 2, 100, "trials",
             worker=True),
    Scenario("kill-controls", "3", "negative controls", "reliability.kills:controls", 3, 12, "controls",
             worker=True),
    Scenario("save-kill", "4", "SIGKILL inside saves", "reliability.storage:save_kill", 3, 100, "kills",
             worker=True),
    Scenario("truncation", "4", "truncated files", "reliability.storage:truncation", 10, 500, "files"),
    Scenario("bit-flips", "4", "flipped bits", "reliability.storage:bit_flips", 10, 1000, "files"),
    Scenario("injected-write-errors", "4", "ENOSPC/EIO injected", "reliability.storage:injected_errors", 12, 500,
             "saves"),
    Scenario("full-disk", "4", "a real full tmpfs", "reliability.storage:full_disk", 2, 30, "disks"),
    Scenario("atomic-protocol", "4", "fsync/replace protocol", "reliability.storage:atomic_protocol", 12, 400,
             "operations"),
    Scenario("non-finite-state", "4", "NaN/inf never saved", "reliability.storage:non_finite", 10, 500, "saves"),
    Scenario("pickle-payloads", "5", "code in checkpoints", "reliability.malicious:pickle_payloads", 26, 330,
             "loads"),
    Scenario("spec-object-names", "5", "Python objects named in specs", "reliability.malicious:spec_object_names",
             40, 360, "specs"),
    Scenario("path-traversal", "5", "writes outside the run directory", "reliability.malicious:path_traversal", 28,
             60, "cases"),
    Scenario("plugin-faults", "6", "broken plugins", "reliability.plugin_faults:plugin_faults", 19, 95, "cases"),
    Scenario("slow-plugins", "6", "slow and hanging plugins", "reliability.plugin_faults:slow_and_hanging", 4, 8,
             "runs"),
    Scenario("plugin-callback-raises", "6", "a plugin callback raising mid-training",
             "reliability.plugin_faults:callback_raises", 1, 8, "runs", worker=True),
    Scenario("non-finite-loss", "7", "NaN/inf loss", "reliability.runtime:non_finite_loss", 1, 12, "runs",
             worker=True),
    Scenario("signals", "7", "SIGTERM/SIGINT anywhere", "reliability.runtime:signals", 4, 24, "runs", worker=True),
    Scenario("tensorboard-removed", "7", "TensorBoard dir removed", "reliability.runtime:tensorboard_removed", 1, 8,
             "runs", worker=True),
    Scenario("dataloader-workers", "7", "DataLoader worker crashes", "reliability.runtime:worker_faults", 2, 10,
             "runs", worker=True),
    *HOSTILE_FILES,
    *HOSTILE_OUTPUT,
]


def by_id(scenario_id: str) -> Scenario:
    for scenario in SCENARIOS:
        if scenario.id == scenario_id:
            return scenario
    raise KeyError(f"no scenario {scenario_id!r}; known: {', '.join(s.id for s in SCENARIOS)}")
