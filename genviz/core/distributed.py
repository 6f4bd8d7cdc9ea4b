"""Data-parallel training under `torchrun`: every rank runs the same Session on its own batches.

Gradients are averaged across ranks by a post-accumulate hook on every parameter rather than by wrapping the
model in DistributedDataParallel, because our models train through their own `train_step` (GANs call
backward several times per step) instead of `forward`; the hooks work for any such sequence, as long as
every rank runs the same one, which a shared seed guarantees.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    local_world: int = 1  # processes on this node (torchrun's --nproc_per_node)

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def describe(self) -> dict:
        """What config.json records of the layout (the run folder adds the per-process and global batch)."""
        return {"world_size": self.world, "nodes": max(1, self.world // max(1, self.local_world)),
                "processes_per_node": self.local_world}

    def device(self, requested: str) -> str:
        """Each rank gets its own GPU; CPU ranks share the CPU."""
        if self.enabled and requested.startswith("cuda"):
            return f"cuda:{self.local_rank}"
        return requested

    def attach(self, model: torch.nn.Module) -> None:
        """Start all ranks from rank 0's weights and average gradients as they accumulate."""
        if not self.enabled:
            return
        for p in model.parameters():
            dist.broadcast(p.data, src=0)
            if p.requires_grad:
                p.register_post_accumulate_grad_hook(self._average)

    def _average(self, p: torch.Tensor) -> None:
        dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
        p.grad.div_(self.world)

    def in_sync(self, model: torch.nn.Module) -> bool:
        """True when every rank holds the same weights (a cheap checksum gathered from all ranks)."""
        if not self.enabled:
            return True
        s = torch.stack([p.detach().double().sum() for p in model.parameters()]).sum().reshape(1).cpu()
        out = [torch.zeros(1, dtype=torch.float64) for _ in range(self.world)]
        dist.all_gather(out, s)
        return all(torch.allclose(o, out[0], rtol=1e-9, atol=1e-9) for o in out)


@contextmanager
def context():
    """A Dist for this process: torchrun's environment if present, else a single process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        yield Dist()
        return
    # CPU tensors (the weight checksum, any --device cpu run) always go through gloo; CUDA ones through nccl
    backend = "cpu:gloo,cuda:nccl" if torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend=backend)  # torchrun's rendezvous (c10d, static, ...) set the env up
    ok = False
    try:
        yield Dist(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")),
                   int(os.environ.get("LOCAL_WORLD_SIZE", os.environ.get("WORLD_SIZE", "1"))))
        ok = True
    finally:
        if ok:  # leave together: a rank that tears gloo down while its peer still talks aborts (SIGABRT)
            _barrier()
        dist.destroy_process_group()


def _barrier() -> None:
    try:  # a CPU barrier with a timeout; gloo is part of every backend chosen above
        dist.monitored_barrier(timeout=timedelta(seconds=60))
    except RuntimeError:
        pass  # a peer is gone: nothing to wait for
