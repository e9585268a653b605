"""Two processes under torchrun on CPU (gloo) against one process.

``batch_size`` is the global batch: each rank takes half of every batch and
DDP averages the gradients, so without BatchNorm or dropout the two runs
differ only by float summation order (measured: ~1e-7 relative).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from cnnspec.engine import train

SPEC = """
name: ddp-digits
input: [1, 8, 8]
seed: 5
model:
  - conv2d: {out_channels: 8, kernel_size: 3, padding: 1}
  - relu
  - maxpool2d: {kernel_size: 2}
  - flatten
  - linear: {out_features: 10}
data: {dataset: digits, batch_size: 64, val_split: 0.2}
train: {epochs: 2, optimizer: {sgd: {lr: 0.1, momentum: 0.9}}, threads: 1}
"""


@pytest.mark.slow
def test_two_processes_match_one(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    env = {**os.environ, "PYTHONPATH": os.getcwd(), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "cnnspec", "train", str(spec), "--format", "json", "--run-dir", str(tmp_path / "ddp")]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 1, proc.stdout  # only rank 0 prints
    ddp = json.loads(lines[0])["metrics"]
    assert proc.stderr.count("epoch 2/2") == 1  # only rank 0 logs
    env_json = json.loads((tmp_path / "ddp" / "env.json").read_text())
    assert env_json["world_size"] == 2
    history = [json.loads(x) for x in (tmp_path / "ddp" / "metrics.jsonl").read_text().splitlines()]
    assert len(history) == 2

    single = train(str(spec), overrides=["train.progress=false"], run_dir=tmp_path / "single")
    one = single.metrics
    assert ddp["global_step"] == one["global_step"]
    for key in ("train_loss", "val_loss", "test_loss"):
        assert ddp[key] == pytest.approx(one[key], rel=1e-4), key
    for key in ("train_acc", "val_acc", "test_acc"):
        assert ddp[key] == pytest.approx(one[key], abs=0.005), key
    assert sum(map(sum, ddp["test_confusion"])) == sum(map(sum, one["test_confusion"])) == 360


@pytest.mark.slow
def test_a_stop_requested_on_one_rank_stops_every_rank_at_the_same_step(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.getcwd(), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "tests/engine/ddp_worker.py", str(tmp_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0]["status"] == ranks[1]["status"] == "interrupted"
    assert ranks[0]["stop_reason"] == "rank 0 asked"
    assert ranks[1]["stop_reason"] == "stop requested on another process"
    assert ranks[0]["global_step"] == ranks[1]["global_step"] == 4  # seen by all at the next step's sync
    assert ranks[0]["weights_sum"] == ranks[1]["weights_sum"]  # DDP kept the replicas equal


def test_flags_of_a_lone_process_are_its_own():
    from cnnspec.engine.distributed import DistContext

    alone = DistContext()
    assert alone.sync_flags(True, False) == (True, False)
    assert alone.any_rank(True) is True and alone.any_rank(False) is False
