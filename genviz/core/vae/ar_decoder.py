"""A 'powerful decoder' for the VAE: p(x|z) = Π_i p(x_i | x_<i, z), each x_i's parameters an MLP of z plus an
autoregressive net of the pixels before it: a direct masked linear map (an FVSBN) and a one-hidden-layer MADE
(Germain et al. 2015). With x_<i in view the decoder can model much of p(x) without z, so the KL term pushes
q(z|x) onto the prior: posterior collapse (Bowman et al. 2016).

Layout follows the plain decoder's output: P parameters per dimension stacked as P blocks of D ([logits] for
Bernoulli, [mean | raw variance] for a Gaussian), so `dec(z) + context(x)` has the plain decoder's shape.
Degrees (MADE): input j has degree j + 1, hidden unit h a degree d_h in 1..D−1, output i degree i + 1; an
edge exists from lower to higher degree only (hidden ← input: d_h ≥ j + 1; output ← hidden: i + 1 > d_h).
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


class ARContext(nn.Module):
    """x (batch, D) -> (batch, P·D): output block p, entry i, sees x_j for j < i only.

    The output weights start at zero, so a fresh model decodes exactly as the plain MLP decoder does."""

    def __init__(self, dim: int, per_dim: int, hidden: int):
        super().__init__()
        self.dim, self.per_dim = dim, per_dim
        self.weight = nn.Parameter(torch.zeros(per_dim * dim, dim))
        self.w1 = nn.Parameter(torch.randn(hidden, dim) / math.sqrt(dim))
        self.b1 = nn.Parameter(torch.zeros(hidden))
        self.w2 = nn.Parameter(torch.zeros(per_dim * dim, hidden))
        deg_h = torch.arange(hidden) % max(dim - 1, 1) + 1  # every degree 1..D−1 used, in turn
        i_out = torch.arange(dim).repeat(per_dim)
        # persistent: a copy built on the meta device (the GUI's labs) loads them rather than leaving them empty
        self.register_buffer("mask", (torch.arange(dim)[None, :] < i_out[:, None]))
        self.register_buffer("m1", torch.arange(dim)[None, :] + 1 <= deg_h[:, None])
        self.register_buffer("m2", deg_h[None, :] <= i_out[:, None])

    def masked(self) -> dict:
        return masked_weights({k: getattr(self, k) for k in ("weight", "mask", "w1", "m1", "b1", "w2", "m2")})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.masked()
        return F.linear(x, w["direct"]) + F.linear(F.elu(F.linear(x, w["w1"], w["b1"])), w["w2"])


def masked_weights(p: dict) -> dict:
    """The effective weights from parameters and masks (module attributes, or a snapshot's 'param/ar.*')."""
    return {"direct": p["weight"] * p["mask"], "w1": p["w1"] * p["m1"], "b1": p["b1"], "w2": p["w2"] * p["m2"]}


def sequential(base: torch.Tensor, w: dict, per_dim: int, bernoulli: bool, mode: str = "mean",
               generator: torch.Generator | None = None) -> torch.Tensor:
    """Generate x (n, D) one dimension at a time from the z-part `base` (n, P·D) and the masked weights `w`
    (masked_weights). mode 'mean' feeds each dimension's mean forward (a deterministic picture of the decoder);
    'sample' draws each x_i (from `generator`). The hidden layer's input is updated by one column per step:
    O(D·(D + H)) per image, not O(D²·H)."""
    n, dim = base.shape[0], base.shape[1] // per_dim
    x = torch.zeros(n, dim, dtype=base.dtype, device=base.device)
    h_pre = w["b1"].to(base.dtype).expand(n, -1).clone()
    for i in range(dim):
        idx = torch.arange(per_dim, device=base.device) * dim + i  # x_i's P parameters
        o = base[:, idx] + x[:, :i] @ w["direct"][idx, :i].T + F.elu(h_pre) @ w["w2"][idx].T  # (n, P)
        if bernoulli:
            mu = torch.sigmoid(o[:, 0])
            x[:, i] = mu if mode == "mean" else torch.bernoulli(mu, generator=generator)
        else:
            mu, var = o[:, 0], F.softplus(o[:, 1]) + 1e-4
            eps = 0.0 if mode == "mean" else torch.randn(n, generator=generator, dtype=base.dtype, device=base.device)
            x[:, i] = mu + var.sqrt() * eps
        h_pre += x[:, i:i + 1] * w["w1"][:, i]
    return x
