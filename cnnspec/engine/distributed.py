"""Data-parallel training across processes started by ``torchrun``.

``torchrun --nproc_per_node=N -m cnnspec train SPEC`` starts N copies of the
command with ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` set. Each process
builds the same model (DistributedDataParallel broadcasts rank 0's weights),
reads its own shard of the data, and averages gradients with the others
(gloo on CPU, nccl on CUDA). Metric sums are all-reduced so every rank sees
the global numbers; only rank 0 writes files and prints.

Without those variables (or with ``WORLD_SIZE=1``) everything here is a
no-op and the process trains alone.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

__all__ = ["DistContext", "env_world_size", "init_distributed", "shutdown_distributed"]


def env_world_size() -> int:
    """The ``WORLD_SIZE`` torchrun set, or 1."""
    try:
        return max(1, int(os.environ.get("WORLD_SIZE", "1")))
    except ValueError:
        return 1


@dataclass
class DistContext:
    """Where this process stands in the group; the single-process default is rank 0 of 1."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None
    owns_group: bool = False

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def all_reduce_sum(self, tensor: Any) -> Any:
        """Element-wise sum over all processes (the input itself when alone)."""
        if not self.enabled:
            return tensor
        import torch.distributed as dist

        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor

    def sync_flags(self, *flags: bool, device: Any = None) -> tuple[bool, ...]:
        """Each flag OR-ed over all processes, in one all-reduce (the flags themselves when alone).

        The training loop uses it so that every rank takes the same decision
        at the same step: a non-finite loss, a stop asked for on one rank.
        ``device`` is where the collective runs (the GPU with nccl).
        """
        if not self.enabled:
            return tuple(bool(f) for f in flags)
        import torch

        t = torch.tensor([1.0 if f else 0.0 for f in flags], device=device)
        return tuple(bool(v > 0) for v in self.all_reduce_sum(t).tolist())

    def any_rank(self, flag: bool, *, device: Any = None) -> bool:
        """Whether ``flag`` is set on any process."""
        return self.sync_flags(flag, device=device)[0]

    def broadcast_object(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank (a run directory path, a stop reason)."""
        if not self.enabled:
            return obj
        import torch.distributed as dist

        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def barrier(self) -> None:
        if self.enabled:
            import torch.distributed as dist

            dist.barrier()


def init_distributed(device_type: str) -> DistContext:
    """Join the process group torchrun described in the environment.

    ``device_type`` is the device the user asked for (``"cuda"`` selects nccl
    and this rank's GPU). A group that already exists is reused and left for
    its owner to destroy.
    """
    world_size = env_world_size()
    if world_size <= 1:
        return DistContext()
    import torch
    import torch.distributed as dist

    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", str(rank)))
    if device_type == "cuda":
        _check_gpus(world_size)
    backend = "nccl" if device_type == "cuda" else "gloo"
    owns = False
    if not dist.is_initialized():
        if device_type == "cuda":
            torch.cuda.set_device(local_rank)
        dist.init_process_group(backend=backend)
        owns = True
    else:
        backend = str(dist.get_backend())
    return DistContext(rank=dist.get_rank(), world_size=dist.get_world_size(), local_rank=local_rank,
                       backend=backend, owns_group=owns)


def _check_gpus(world_size: int) -> None:
    """One GPU per process on this machine, or an error every process raises alike (none hangs waiting)."""
    import torch

    from cnnspec.exceptions import CnnspecError

    local = int(os.environ.get("LOCAL_WORLD_SIZE", str(world_size)))
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count == 0:
        raise CnnspecError(f"torchrun started {local} processes to train on CUDA, but this machine has no usable GPU",
                           hint="train on the CPU with --device cpu (gloo), or run on a machine with GPUs")
    if local > count:
        raise CnnspecError(f"torchrun started {local} processes on this machine but it has {count} GPU(s); "
                           "each process trains on a GPU of its own",
                           hint=f"use --nproc_per_node={count} (or fewer), or --device cpu")


def shutdown_distributed(ctx: DistContext) -> None:
    """Destroy the process group if :func:`init_distributed` created it."""
    if ctx.enabled and ctx.owns_group:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()
