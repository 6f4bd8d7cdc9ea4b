"""Diagonal scaling x = z·exp(s) (NICE's final layer, the only non-volume-preserving part of NICE)."""
from __future__ import annotations

import torch
from torch import nn


class Scaling(nn.Module):
    """x = z ⊙ exp(s) on (batch, dim); log|det| = Σ s, the same for every sample."""

    def __init__(self, dim: int):
        super().__init__()
        self.s = nn.Parameter(torch.zeros(dim))

    def forward(self, z):
        return z * torch.exp(self.s), self.s.sum().expand(len(z))

    def inverse(self, x):
        return x * torch.exp(-self.s), (-self.s.sum()).expand(len(x))
