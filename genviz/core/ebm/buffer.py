"""Persistent replay buffer of Langevin chain states (Du & Mordatch 2019).

Each training step draws negatives from the buffer; a fraction `reinit_prob` of them is replaced by fresh
starts (noise), so the buffer keeps exploring while most chains continue where they stopped.
"""
from __future__ import annotations

import torch


class ReplayBuffer:
    """Fixed-size store of states, shape (size, *shape). `init(n, generator)` makes fresh starts."""

    def __init__(self, size: int, init, reinit_prob: float = 0.05, generator: torch.Generator | None = None):
        self.init = init
        self.reinit_prob = float(reinit_prob)
        self.gen = generator or torch.Generator().manual_seed(0)
        self.states = init(size, self.gen)
        self.last_reinit = 0  # how many of the last draw were fresh starts

    def __len__(self) -> int:
        return len(self.states)

    def sample(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(x (n, *shape), idx (n,)): stored states, each replaced by a fresh start with prob. reinit_prob."""
        idx = torch.randint(0, len(self.states), (n,), generator=self.gen)
        x = self.states[idx].clone()
        fresh = torch.rand(n, generator=self.gen) < self.reinit_prob
        self.last_reinit = int(fresh.sum())
        if self.last_reinit:
            x[fresh] = self.init(self.last_reinit, self.gen).to(x.dtype)
        return x, idx

    def push(self, x: torch.Tensor, idx: torch.Tensor) -> None:
        """Write chain states back where they were drawn from (the buffer never grows)."""
        self.states[idx] = x.detach().to(self.states.device, self.states.dtype)
