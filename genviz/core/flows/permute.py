"""A fixed permutation of coordinates (between autoregressive blocks, so each sees a new ordering)."""
from __future__ import annotations

import torch
from torch import nn


class Permutation(nn.Module):
    """x = z[:, perm]; volume preserving (log|det| = 0)."""

    volume_preserving = True  # FlowModel skips adding its zero log-det

    def __init__(self, perm: torch.Tensor):
        super().__init__()
        perm = torch.as_tensor(perm, dtype=torch.long)
        self.register_buffer("perm", perm.clone())
        self.register_buffer("inv_perm", torch.argsort(perm))

    @classmethod
    def reverse(cls, dim: int) -> "Permutation":
        return cls(torch.arange(dim - 1, -1, -1))

    def forward(self, z):
        return z[:, self.perm], torch.zeros(len(z), dtype=z.dtype, device=z.device)

    def inverse(self, x):
        return x[:, self.inv_perm], torch.zeros(len(x), dtype=x.dtype, device=x.device)
