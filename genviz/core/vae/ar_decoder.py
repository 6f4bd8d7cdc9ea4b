"""A 'powerful decoder' for the VAE: p(x|z) = Π_i p(x_i | x_<i, z), each x_i's parameters an MLP of z plus a
linear map of the pixels before it (an FVSBN conditioned on z). With x_<i in view the decoder can model much
of p(x) without z, so the KL term pushes q(z|x) onto the prior: posterior collapse (Bowman et al. 2016).

Layout follows the plain decoder's output: P parameters per dimension stacked as P blocks of D ([logits] for
Bernoulli, [mean | raw variance] for a Gaussian), so `dec(z) + context(x)` has the plain decoder's shape.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class ARContext(nn.Module):
    """x (batch, D) -> (batch, P·D): output block p, entry i, sees x_j for j < i only (strictly lower mask).

    Starts at zero, so a fresh model decodes exactly as the plain MLP decoder does."""

    def __init__(self, dim: int, per_dim: int):
        super().__init__()
        self.dim, self.per_dim = dim, per_dim
        self.weight = nn.Parameter(torch.zeros(per_dim * dim, dim))
        # persistent: a copy built on the meta device (the GUI's labs) loads it rather than leaving it empty
        self.register_buffer("mask", torch.tril(torch.ones(dim, dim), -1).repeat(per_dim, 1).bool())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.mask)


def sequential(base: torch.Tensor, weight: torch.Tensor, per_dim: int, bernoulli: bool, mode: str = "mean",
               generator: torch.Generator | None = None) -> torch.Tensor:
    """Generate x (n, D) one dimension at a time from the z-part `base` (n, P·D) and the context `weight`
    (P·D, D). mode 'mean' feeds each dimension's mean forward (a deterministic picture of the decoder);
    'sample' draws each x_i (from `generator`)."""
    n, dim = base.shape[0], base.shape[1] // per_dim
    x = torch.zeros(n, dim, dtype=base.dtype, device=base.device)
    rows = [torch.arange(p * dim, (p + 1) * dim) for p in range(per_dim)]
    for i in range(dim):
        idx = [r[i] for r in rows]
        o = base[:, idx] + x[:, :i] @ weight[idx, :i].T  # (n, P)
        if bernoulli:
            mu = torch.sigmoid(o[:, 0])
            x[:, i] = mu if mode == "mean" else torch.bernoulli(mu, generator=generator)
        else:
            mu, var = o[:, 0], F.softplus(o[:, 1]) + 1e-4
            eps = 0.0 if mode == "mean" else torch.randn(n, generator=generator, dtype=base.dtype, device=base.device)
            x[:, i] = mu + var.sqrt() * eps
    return x
