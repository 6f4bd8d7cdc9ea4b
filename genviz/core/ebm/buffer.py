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
        fresh = torch.rand(n, generator=self.gen, dtype=self.states.dtype) < self.reinit_prob
        self.last_reinit = int(fresh.sum())
        if self.last_reinit:
            x[fresh] = self.init(self.last_reinit, self.gen).to(x.dtype)
        return x, idx

    def push(self, x: torch.Tensor, idx: torch.Tensor) -> None:
        """Write chain states back where they were drawn from (the buffer never grows)."""
        self.states[idx] = x.detach().to(self.states.device, self.states.dtype)


class ChainState:
    """Mixin for energy models whose training holds chains: `self.gen` (Langevin noise) and `self.replay`.

    Neither is a weight, so a checkpoint carries them through `training_extras`; without them a resumed
    run would restart its chains from noise. The model provides `_new_replay()`.
    """

    def training_extras(self) -> dict:
        extras = {"gen": self.gen.get_state().clone()}
        if self.replay is not None:
            extras["replay"] = self.replay.states.detach().cpu().clone()
        return extras

    def load_training_extras(self, extras: dict) -> None:
        if not extras:
            return
        replay = extras.get("replay")
        if replay is not None:
            if not isinstance(replay, torch.Tensor) or not replay.is_floating_point():
                raise ValueError("the stored replay buffer is not a float tensor")
            if self.replay is None or len(self.replay) != len(replay):
                self.replay = self._new_replay(len(replay))
            if tuple(replay.shape[1:]) != tuple(self.replay.states.shape[1:]):
                raise ValueError(f"the stored replay buffer holds states of shape {tuple(replay.shape[1:])}")
            self.replay.states = replay.to(self.replay.states.device, self.replay.states.dtype).clone()
        else:
            self.replay = None
        gen = extras.get("gen")
        if gen is not None:
            if not isinstance(gen, torch.Tensor) or gen.dtype != torch.uint8:
                raise ValueError("the stored chain generator state is not a uint8 tensor")
            self.gen.set_state(gen.clone())
