"""Coupling layers: half the coordinates pass unchanged and condition a transform of the other half."""
from __future__ import annotations

import torch
from torch import nn


def mlp(d_in: int, d_out: int, hidden: int, depth: int, act=nn.ReLU, zero_last: bool = True) -> nn.Sequential:
    """depth hidden layers of width hidden; the last layer starts at zero so a new flow is the identity."""
    layers, d = [], d_in
    for _ in range(depth):
        layers += [nn.Linear(d, hidden), act()]
        d = hidden
    last = nn.Linear(d, d_out)
    if zero_last:
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
    return nn.Sequential(*layers, last)


class AffineCoupling(nn.Module):
    """x = m⊙z + (1−m)⊙(z·exp(s(m⊙z)) + t(m⊙z)); log|det| = Σ(1−m)⊙s.

    s = scale · tanh(raw / scale) keeps |s| ≤ scale (a learnable per-dimension bound), which avoids the
    exp(s) blow-ups that make plain RealNVP diverge early in training.
    """

    def __init__(self, mask: torch.Tensor, hidden: int = 64, depth: int = 2):
        super().__init__()
        dim = mask.numel()
        self.register_buffer("mask", mask.float())
        self.net = mlp(dim, 2 * dim, hidden, depth)
        self.scale = nn.Parameter(torch.full((dim,), 2.0))

    def _s_t(self, z_masked):
        s_raw, t = self.net(z_masked).chunk(2, dim=1)
        s = self.scale * torch.tanh(s_raw / self.scale)
        keep = 1 - self.mask
        return s * keep, t * keep

    def forward(self, z):
        s, t = self._s_t(z * self.mask)
        return z * self.mask + (1 - self.mask) * (z * torch.exp(s) + t), s.sum(1)

    def inverse(self, x):
        s, t = self._s_t(x * self.mask)
        return x * self.mask + (1 - self.mask) * ((x - t) * torch.exp(-s)), -s.sum(1)


class AdditiveCoupling(nn.Module):
    """NICE: x = m⊙z + (1−m)⊙(z + t(m⊙z)); volume preserving, log|det| = 0."""

    def __init__(self, mask: torch.Tensor, hidden: int = 64, depth: int = 2):
        super().__init__()
        dim = mask.numel()
        self.register_buffer("mask", mask.float())
        self.net = mlp(dim, dim, hidden, depth)

    def forward(self, z):
        t = self.net(z * self.mask) * (1 - self.mask)
        return z + t, z.new_zeros(len(z))

    def inverse(self, x):
        t = self.net(x * self.mask) * (1 - self.mask)
        return x - t, x.new_zeros(len(x))


def alternating_masks(dim: int, n: int) -> list[torch.Tensor]:
    """Checkerboard masks that flip each layer, so every coordinate gets transformed."""
    base = (torch.arange(dim) % 2).float()
    return [base if i % 2 == 0 else 1 - base for i in range(n)]


def random_masks(dim: int, n: int, generator: torch.Generator) -> list[torch.Tensor]:
    """Random half/half partitions (each layer a fresh one)."""
    out = []
    for _ in range(n):
        m = torch.zeros(dim)
        m[torch.randperm(dim, generator=generator)[: dim // 2]] = 1
        out.append(m)
    return out
