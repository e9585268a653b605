"""A trial as a ``torchrun`` job: ``python -m torch.distributed.run ... -m cnnspec.sweep.child``.

The worker launches this for ``--nproc-per-trial N``: N processes train the
trial's spec together (DistributedDataParallel, as ``cnnspec train`` under
torchrun does). Rank 0 opens the study storage itself to report each epoch's
objective to the trial, so pruning works the same; the pruning decision
reaches every rank through the engine's own stop synchronisation. The worker
reads how it ended from the run directory's final.json.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cnnspec.sweep.child")
    parser.add_argument("spec")
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--metric", required=True)
    parser.add_argument("--device", default=None)
    parser.add_argument("--storage", default=None)
    parser.add_argument("--study", default="")
    parser.add_argument("--trial-id", type=int, default=None)
    args = parser.parse_args(argv)

    from cnnspec.engine import train
    from cnnspec.engine.signals import exit_code
    from cnnspec.sweep.pruning import PruningCallback

    trial = None
    if int(os.environ.get("RANK", "0")) == 0 and args.storage and args.trial_id is not None:
        import optuna

        from cnnspec.sweep.storage import StorageRef, open_storage

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        storage = open_storage(StorageRef.parse(args.storage, Path(args.run_dir)))
        study = optuna.load_study(study_name=args.study, storage=storage)
        trial = optuna.trial.Trial(study, args.trial_id)
    callback = PruningCallback(trial, args.metric, report=trial is not None)
    result = train(args.spec, run_dir=args.run_dir, device=args.device, callbacks=[callback],
                   progress={"bar": False})
    if result.status == "diverged":
        return 3
    if result.status == "interrupted":
        return exit_code(result.stop_reason)
    return 0


def _main() -> int:
    import sys

    from cnnspec.exceptions import CnnspecError
    from cnnspec.render import render_error

    try:
        return main()
    except CnnspecError as exc:  # a user mistake: the message, no traceback (as the cnnspec command does)
        print(render_error(exc), file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(_main())
