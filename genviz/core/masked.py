"""MADE (Germain et al. 2015): an MLP whose masks make output i depend only on inputs earlier in an ordering.

Shared by the autoregressive family (Bernoulli / categorical conditionals) and the flows family (MAF/IAF,
Gaussian conditionals). Degrees: input d gets its position in the ordering (1..D); a hidden unit gets a
degree m in [min_prev, D-1] and sees inputs with degree ≤ m; output d sees hidden units with degree < deg(d).
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class MaskedLinear(nn.Linear):
    """nn.Linear whose weight is multiplied by a fixed 0/1 mask (out_features, in_features)."""

    def __init__(self, d_in: int, d_out: int):
        super().__init__(d_in, d_out)
        self.register_buffer("mask", torch.ones(d_out, d_in))

    def set_mask(self, mask: torch.Tensor) -> None:
        self.mask.copy_(mask.to(self.mask))

    def forward(self, x):
        return F.linear(x, self.weight * self.mask, self.bias)


class MADE(nn.Module):
    """x: (batch, D) -> (batch, n_out * D); output block k holds the k-th parameter of every conditional.

    `order` is a permutation of 0..D-1 (order[i] = the variable generated i-th). `resample_masks(seed)` draws
    new hidden degrees (and, with `random_order`, a new ordering) for connectivity-agnostic training.
    """

    def __init__(self, dim: int, hidden: tuple[int, ...] = (100,), n_out: int = 1, order=None,
                 act=nn.ReLU, cond_dim: int = 0):
        super().__init__()
        self.dim, self.n_out, self.hidden, self.cond_dim = dim, n_out, tuple(hidden), cond_dim
        sizes = [dim + cond_dim, *hidden]
        self.layers = nn.ModuleList(MaskedLinear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.out = MaskedLinear(sizes[-1], n_out * dim)
        self.act = act()
        order = torch.arange(dim) if order is None else torch.as_tensor(order)
        self.register_buffer("order", order.clone())
        self.resample_masks(seed=0, new_order=False)

    @property
    def input_degrees(self) -> torch.Tensor:
        """deg[j] = 1 + position of variable j in the ordering."""
        deg = torch.empty(self.dim, dtype=torch.long)
        deg[self.order.cpu()] = torch.arange(1, self.dim + 1)
        return deg

    def resample_masks(self, seed: int, new_order: bool = False) -> None:
        g = torch.Generator().manual_seed(seed)
        if new_order:
            self.order.copy_(torch.randperm(self.dim, generator=g))
        d_in = self.input_degrees
        prev = torch.cat([d_in, torch.zeros(self.cond_dim, dtype=torch.long)])  # context feeds every unit
        masks = []
        for h in self.hidden:
            low = int(prev.min().clamp(max=self.dim - 1)) if self.dim > 1 else 0
            deg = torch.randint(max(low, 1) if self.dim > 1 else 0, max(self.dim, 2), (h,), generator=g)
            if self.dim == 1:
                deg = torch.zeros(h, dtype=torch.long)
            masks.append((deg[:, None] >= prev[None, :]).float())
            prev = deg
        out_mask = (d_in[:, None] > prev[None, :]).float().repeat(self.n_out, 1)
        for layer, m in zip(self.layers, masks):
            layer.set_mask(m)
        self.out.set_mask(out_mask)

    def masks(self) -> list[torch.Tensor]:
        return [layer.mask for layer in self.layers] + [self.out.mask]

    def connectivity(self) -> torch.Tensor:
        """(D, D) count of paths from input j to output i through the masks (0 above the ordering)."""
        m = self.masks()
        c = m[0][:, : self.dim]
        for mask in m[1:]:
            c = mask @ c
        return c[: self.dim]

    def forward(self, x, context=None):
        h = x if context is None else torch.cat([x, context], 1)
        for layer in self.layers:
            h = self.act(layer(h))
        return self.out(h)
