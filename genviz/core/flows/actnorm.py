"""ActNorm (Kingma & Dhariwal 2018): a per-dimension affine map initialised from the first data batch.

In the density direction the first batch seen in training sets loc/log_scale so that its output has zero
mean and unit variance per dimension; afterwards they are ordinary parameters.
"""
from __future__ import annotations

import torch
from torch import nn


class ActNorm(nn.Module):
    """x = z ⊙ exp(log_scale) + loc on (batch, dim); log|det| = Σ log_scale."""

    def __init__(self, dim: int):
        super().__init__()
        self.loc = nn.Parameter(torch.zeros(dim))
        self.log_scale = nn.Parameter(torch.zeros(dim))
        self.register_buffer("initialized", torch.zeros((), dtype=torch.bool))

    @torch.no_grad()
    def _init_from(self, x):
        self.loc.copy_(x.mean(0))
        self.log_scale.copy_(torch.log(x.std(0).clamp_min(1e-3)))
        self.initialized.fill_(True)

    def forward(self, z):
        return z * torch.exp(self.log_scale) + self.loc, self.log_scale.sum().expand(len(z))

    def inverse(self, x):
        if self.training and not bool(self.initialized) and len(x) > 1:
            self._init_from(x)
        return (x - self.loc) * torch.exp(-self.log_scale), (-self.log_scale.sum()).expand(len(x))
