"""Run under torchrun by test_distributed: rank 0 alone asks to stop; every rank must stop together."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from cnnspec.callbacks import Callback
from cnnspec.engine import train
from tests.engine.standin import digits_bundle

SPEC = """
name: ddp-stop
input: [1, 8, 8]
model: [flatten, {linear: {out_features: 10}}]
train: {epochs: 3, optimizer: {sgd: {lr: 0.1}}, progress: false, threads: 1}
"""


class StopOnRankZero(Callback):
    def on_train_batch_end(self, trainer, batch, loss, inputs, targets, outputs):
        if trainer.rank == 0 and trainer.global_step == 3:
            trainer.request_stop("rank 0 asked")


def main() -> None:
    out = Path(sys.argv[1])
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    data = digits_bundle(batch_size=64, rank=rank, world_size=world)
    result = train(SPEC, data=data, run_dir=out / "run", callbacks=[StopOnRankZero()], handle_signals=False)
    (out / f"rank{rank}.json").write_text(json.dumps({
        "status": result.status, "stop_reason": result.stop_reason, "global_step": result.trainer.global_step,
        "weights_sum": float(sum(p.double().sum() for p in result.model.parameters())),
    }))


if __name__ == "__main__":
    main()
