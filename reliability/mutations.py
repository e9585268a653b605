"""Remove one protection at a time and watch the CI tier go red.

A test that cannot fail proves nothing. For each :class:`Mutation` the
package is copied to a temporary tree, one protection is taken out there (a
text replacement in cnnspec's source, found wherever the code now lives),
and the CI-tier tests that guard it run against the copy. Each must fail;
the working tree is never touched.

    python -m reliability.mutations            # all of them
    python -m reliability.mutations fsync ...  # some, by id
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from reliability.harness import ROOT, default_signals, python_env

__all__ = ["MUTATIONS", "Mutation", "MutationResult", "run_mutation"]


@dataclass(frozen=True)
class Mutation:
    """One protection taken out: ``(old, new)`` replacements, each matching exactly once in ``cnnspec/``."""

    id: str
    protection: str
    edits: tuple[tuple[str, str], ...]
    tests: tuple[str, ...]


def _t(module: str, scenario: str) -> str:
    return f"tests/reliability/{module}::test_scenario_has_no_losses[{scenario}]"


MUTATIONS: list[Mutation] = [
    Mutation("fsync", "fsync of a checkpoint's bytes before the rename",
             (("            os.fsync(fd)\n        finally:\n            os.close(fd)\n        os.replace(tmp, path)",
               "            pass\n        finally:\n            os.close(fd)\n        os.replace(tmp, path)"),),
             (_t("test_storage.py", "atomic-protocol"),)),
    Mutation("fsync-dir", "fsync of the directory after the rename",
             (("    try:\n        os.fsync(fd)\n    finally:\n        os.close(fd)",
               "    try:\n        pass\n    finally:\n        os.close(fd)"),),
             (_t("test_storage.py", "atomic-protocol"),)),
    Mutation("temp-and-replace", "writing to a temporary name and os.replace (written in place instead)",
             (('fd, tmp = tempfile.mkstemp(prefix=f"{TMP_PREFIX}{path.name}.", dir=path.parent)',
               "fd, tmp = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), str(path)"),),
             (_t("test_storage.py", "atomic-protocol"),)),
    Mutation("weights-only", "torch.load(..., weights_only=True), explicitly",
             (("map_location=map_location, weights_only=True)", "map_location=map_location, weights_only=False)"),),
             (_t("test_malicious.py", "pickle-payloads"),)),
    Mutation("pickle-scan", "the static scan of every pickle in the archive",
             (("scan_pickle(zf.read(n))", "pass"),),
             (_t("test_malicious.py", "pickle-payloads"),)),
    Mutation("manifest-hash", "the manifest's sha256 check of a checkpoint's bytes",
             (("        if entries is not None:\n            digest = hashlib.sha256(data).hexdigest()",
               "        if False:\n            digest = hashlib.sha256(data).hexdigest()"),),
             (_t("test_storage.py", "bit-flips"),)),
    Mutation("finite-state", "no checkpoint holding NaN/inf is written",
             (("            raise NonFiniteStateError(f\"{name} holds non-finite values",
               "            return None and NonFiniteStateError(f\"{name} holds non-finite values"),),
             (_t("test_storage.py", "non-finite-state"),)),
    Mutation("finite-loss", "the isfinite check of every loss (a non-finite step is not applied)",
             (("bad = not math.isfinite(value)", "bad = False"),),
             (_t("test_runtime.py", "non-finite-loss"),)),
    Mutation("rng-restore", "restoring the torch RNG state on resume",
             (('    torch.set_rng_state(state["torch"].cpu())', "    pass"),),
             (_t("test_kills.py", "kill-training"),)),
    Mutation("optimizer-restore", "restoring the optimizer state on resume",
             (('trainer.optimizer.load_state_dict(state["optimizer"])', "pass"),),
             (_t("test_kills.py", "kill-training"),)),
    Mutation("scheduler-restore", "restoring the scheduler state on resume",
             (('trainer.replanned = load_scheduler_state(trainer.scheduler, state["scheduler"])', "pass"),),
             (_t("test_kills.py", "kill-training"),)),
    Mutation("signal-handlers", "the SIGINT/SIGTERM handlers (finish the step, save, exit 128+n)",
             (("        if handle_signals:", "        if False:"),),
             (_t("test_runtime.py", "signals"),)),
    Mutation("tag-refusal", "refusing explicit YAML tags",
             (("if node.tag != _TAG + kind:", "if False:"),),
             (_t("test_fuzz.py", "fuzz-tags"),)),
    Mutation("depth-guard", "keeping deeply nested text away from the C parser",
             (("_nesting_bound(text) < _SAFE_C_DEPTH", "True"),),
             (_t("test_fuzz.py", "fuzz-bombs"),)),
    Mutation("node-limit", "the limit on expanded values (alias bombs)",
             (("MAX_NODES = 200_000", "MAX_NODES = 10**12"),),
             (_t("test_fuzz.py", "fuzz-bombs"),)),
    Mutation("plugin-isolation", "a plugin that fails to import is contained",
             (("except (Exception, SystemExit) as exc:  # a broken plugin must not stop the others",
               "except ImportError as exc:"),),
             (_t("test_plugin_faults.py", "plugin-faults"),)),
    Mutation("conv-rule", "the convolution shape rule's dilation term",
             (("return floordiv(size + 2 * padding - dilation * (kernel - 1) - 1, stride) + 1",
               "return floordiv(size + 2 * padding - (kernel - 1) - 1, stride) + 1"),),
             (_t("test_shapes.py", "shapes-kit"),)),
    Mutation("run-name-guard", "spec names that would leave the runs root are refused",
             (('_SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*$")', '_SAFE_NAME = re.compile(r".+")'),
              ("if os.path.commonpath([os.path.normpath(root), os.path.normpath(parent)]) != os.path.normpath(root):",
               "if False:")),
             (_t("test_malicious.py", "path-traversal"),)),
    Mutation("regular-files", "spec files and bases must be regular files, read up to the size limit",
             (("        if not stat.S_ISREG(mode):", "        if False:"),
              ("raw = fh.read(MAX_BYTES + 1)", "raw = fh.read()")),
             ("tests/reliability/test_fuzz.py::test_former_findings_stay_fixed",)),
    Mutation("repeat-bound", "upper bounds on repeat: {times} and on the layers a spec unrolls to",
             (("times: int = Field(ge=1, le=MAX_REPEAT,", "times: int = Field(ge=1,"),
              ("        if self.count > MAX_LAYERS:", "        if False:")),
             ("tests/reliability/test_fuzz.py::test_former_findings_stay_fixed",)),
    Mutation("interpolation-bound", "a size limit on what ${vars} interpolation creates",
             (("if self.created_values > MAX_NODES or self.created_chars > MAX_BYTES:", "if False:"),),
             ("tests/reliability/test_fuzz.py::test_former_findings_stay_fixed",)),
    Mutation("key-tags", "tags refused on mapping keys too",
             (("if key_node.tag[len(_TAG):] not in _SCALAR_KINDS or not key_node.tag.startswith(_TAG):",
               "if not key_node.tag.startswith(_TAG):"),),
             (_t("test_fuzz.py", "fuzz-tags"),)),
    Mutation("log-dir-inside", "TensorBoard's log_dir stays inside the run directory",
             (("log_dir: RelativePath | None = Field(", "log_dir: str | None = Field("),),
             (_t("test_malicious.py", "path-traversal"),)),
    Mutation("manifest-names", "manifest entries name files in the checkpoint folder only",
             (('if isinstance(e, dict) and _plain_name(e.get("file"))]',
               'if isinstance(e, dict) and isinstance(e.get("file"), str)]'),
              ("drop = {n for n in names if n not in keep and _plain_name(n)}",
               "drop = {n for n in names if n not in keep}")),
             (_t("test_malicious.py", "path-traversal"),)),
    Mutation("loss-arguments", "loss arguments torch checks only in forward are tried before the first step",
             (("    _try_loss(spec, loss, args)\n", ""),),
             (_t("test_malicious.py", "spec-object-names"),)),
    Mutation("dataloader-generator", "the per-item DataLoader draws no seed from the global RNG",
             (("persistent_workers=False,\n                            generator=torch.Generator(), pin_memory",
               "persistent_workers=False, pin_memory"),),
             (_t("test_runtime.py", "dataloader-workers"),)),
    Mutation("dead-worker-named", "a dead DataLoader worker is reported as such, with the resume command",
             (("            if died is not None:\n                raise DataWorkerError(",
               "            if False:\n                raise DataWorkerError("),),
             (_t("test_runtime.py", "dataloader-workers"),)),
    Mutation("interrupted-import-named", "Ctrl-C during a hanging plugin import names the plugin",
             (("        except KeyboardInterrupt:\n            # a plugin that hangs at import",
               "        except ZeroDivisionError:\n            # a plugin that hangs at import"),),
             (_t("test_plugin_faults.py", "slow-plugins"),)),
    Mutation("reported-problems", "at most 20 problems reported at once, with a count of the rest",
             (("        if len(errors) > cls.MAX_REPORTED:", "        if False:"),),
             ("tests/reliability/test_fuzz.py::test_many_unknown_keys_are_summarised",)),
    Mutation("tensorboard-isolation", "a TensorBoard write failure warns instead of stopping training",
             (('            self.fail(f"{method}({tag})" if tag else method, exc)\n            return False',
               "            raise"),),
             (_t("test_runtime.py", "tensorboard-removed"),)),
    Mutation("alias-repair", "a run that starts or resumes relinks aliases a kill left one save behind",
             (("            repair_aliases(self.directory)  # a kill between",
               "            (self.directory)  # a kill between"),),
             ("tests/reliability/test_kills.py::test_finished_resume_leaves_last_pt_current",)),
    Mutation("run-dir-temp-clean", "a run that starts or resumes removes temp files a kill left in its directory",
             (("        self.rundir.clean_temp_files()  # a run killed mid-write",
               "        # a run killed mid-write"),),
             ("tests/reliability/test_kills.py::test_resume_removes_temp_files_a_kill_left_in_the_run_directory",)),
    Mutation("reset-connection-named", "a worker that dies mid-handover is named, and its loader shut down",
             (("                dead = _dead(workers)\n", "                dead = None\n"),),
             ("tests/data/test_data_workers.py::test_a_reset_connection_from_a_dead_worker_names_the_worker",)),
    Mutation("weights-fit", "weights that do not fit the model are refused, naming the differences, before any load",
             (("    check_fit(model.state_dict(), state, source=source, subject=subject, hint=hint, "
               "keep=keep)\n", ""),),
             ("tests/test_weights.py::test_fit_state_loads_all_or_nothing",)),
]


@dataclass
class MutationResult:
    """``red``: the guarding tests failed (as they must); ``stale``: a replacement no longer matches."""

    mutation: Mutation
    outcome: str  # "red", "green" or "stale"
    seconds: float
    detail: str = ""


def _copy_tree(dest: Path) -> None:
    """The package, the suite and what its tests read, without caches."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis")
    for name in ("cnnspec", "reliability", "specs", "pyproject.toml"):
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=ignore)
        else:
            shutil.copy2(src, dest / name)
    shutil.copytree(ROOT / "tests", dest / "tests", ignore=ignore)  # guards may live beside the code they guard
    shutil.copytree(ROOT / "plugins" / "cnnspec-example" / "src", dest / "plugins" / "cnnspec-example" / "src",
                    ignore=ignore)


def _apply(tree: Path, edits: tuple[tuple[str, str], ...]) -> str | None:
    """Apply each replacement in the one file of ``cnnspec/`` that holds it; the problem, if any."""
    for old, new in edits:
        hits = [(p, p.read_text().count(old)) for p in sorted((tree / "cnnspec").rglob("*.py"))]
        hits = [(p, n) for p, n in hits if n]
        if len(hits) != 1 or hits[0][1] != 1:
            where = ", ".join(f"{p.relative_to(tree)} x{n}" for p, n in hits) or "nowhere"
            return f"{old.strip().splitlines()[0][:60]!r} found {where}"
        path = hits[0][0]
        path.write_text(path.read_text().replace(old, new))
    return None


def run_mutation(mutation: Mutation, *, timeout: float = 900.0) -> MutationResult:
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cnnspec-mutation-") as tmp:
        tree = Path(tmp)
        _copy_tree(tree)
        problem = _apply(tree, mutation.edits)
        if problem:
            return MutationResult(mutation, "stale", time.perf_counter() - began, problem)
        env = python_env()
        env["PYTHONPATH"] = str(tree)  # this copy of cnnspec, not the working tree's
        done = subprocess.run([sys.executable, "-m", "pytest", *mutation.tests, "-q", "-x", "-n", "0",
                               "-p", "no:cacheprovider", "-p", "no:randomly"],
                              cwd=tree, env=env, capture_output=True, text=True, timeout=timeout,
                              preexec_fn=default_signals)
        tail = (done.stdout + done.stderr).strip().splitlines()
        errors = [line[1:].strip() for line in tail if line.startswith("E ")]
        summary = (tail[-1] if tail else "") + (f": {errors[0][:160]}" if errors else "")
        if done.returncode == 1:
            return MutationResult(mutation, "red", time.perf_counter() - began, summary)
        if done.returncode == 0:
            return MutationResult(mutation, "green", time.perf_counter() - began, summary)
        return MutationResult(mutation, "error", time.perf_counter() - began, "\n".join(tail[-15:]))


def main(argv: list[str]) -> int:
    chosen = [m for m in MUTATIONS if not argv or m.id in argv]
    bad = 0
    for mutation in chosen:
        result = run_mutation(mutation)
        bad += result.outcome != "red"
        print(f"{mutation.id:22s} {result.outcome:6s} {result.seconds:6.1f} s  {result.detail}", flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
