"""PyTorch's own distributed training: ``torchrun`` sets the environment, DDP does the rest.

Launched by ``torchrun --nproc_per_node=N …`` (or a multi-node rendezvous), every process calls
:func:`setup`, which joins the process group (NCCL on GPU, gloo on CPU) and pins the local GPU.
Launched plainly, it returns a single-process context and nothing else changes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank (pickled; for small control messages only)."""
        if not self.enabled:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]


def launched_by_torchrun() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1


def setup(device_spec: str = "auto") -> DistContext:
    """Join the process group when launched by torchrun; idempotent."""
    if not launched_by_torchrun():
        return DistContext()
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", rank))
    use_cuda = torch.cuda.is_available() and device_spec != "cpu"
    if not dist.is_initialized():
        if use_cuda:
            torch.cuda.set_device(local_rank)
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return DistContext(rank, world, local_rank)


def teardown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def replicas_identical(tensors: list[torch.Tensor], ctx: DistContext) -> bool:
    """True when every rank holds bit-identical copies of ``tensors`` (compared with rank 0's)."""
    if not ctx.enabled:
        return True
    flat = torch.cat([t.detach().reshape(-1).float() for t in tensors])
    reference = flat.clone()
    dist.broadcast(reference, src=0)
    same = torch.tensor([1.0 if torch.equal(flat, reference) else 0.0], device=flat.device)
    dist.all_reduce(same, op=dist.ReduceOp.MIN)
    return bool(same.item() == 1.0)
