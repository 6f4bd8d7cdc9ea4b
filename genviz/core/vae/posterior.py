"""The true posterior of a 2D-latent model on a grid, next to the encoder's q(z|x); per-point SVI; log E vs E log.

A model is anything with `encode(x) -> (m, v)`, `log_px_given_z(x, z)` for z (..., batch, 2) -> (..., batch)
and `log_prior(z)` (the VAE family, or labs.LinearGaussian whose posterior is known in closed form).

With z in 2D the posterior can be normalized by brute force: on a grid of cells of area ΔA,
  log p(x) ≈ logsumexp_i [log p(x|z_i) + log p(z_i)] + log ΔA,   p(z_i|x) = p(x, z_i) / p(x),
and the ELBO's gap is a KL we can read off the same grid:
  log p(x) − ELBO(q) = KL(q(z|x) ‖ p(z|x)) ≥ 0.
Every function draws from its own generator (default: a fresh one seeded 0), never torch's global stream.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from genviz.core.model import grid
from genviz.core.vae import nets

PRIOR_BOX = 4.5  # the coarse search covers [-4.5, 4.5]²: all but ~1e-5 of a standard normal prior's mass
COARSE, FINE = 64, 96  # grid sides: one pass to find the posterior's mass, one to resolve it


def _own(generator) -> torch.Generator:
    return generator if generator is not None else torch.Generator().manual_seed(0)


def _dtype(model) -> torch.dtype:
    """The model's float type (its weights'); float64 for a closed-form model without weights (LinearGaussian)."""
    return next(iter(model.parameters())).dtype if hasattr(model, "parameters") else torch.float64


def grid_points(box, res: int, dtype=torch.float64) -> tuple[torch.Tensor, float]:
    """Cell centres (res·res, 2) of box (x0, x1, y0, y1), row-major with row = z₂ ascending; the cell area."""
    x0, x1, y0, y1 = box
    dx, dy = (x1 - x0) / res, (y1 - y0) / res
    return grid((x0 + dx / 2, x1 - dx / 2, y0 + dy / 2, y1 - dy / 2), res, dtype=dtype), dx * dy


@torch.no_grad()
def log_joint(model, x: torch.Tensor, z: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
    """log p(x, z) = log p(x|z) + log p(z) for one x (1, ...) at many z (n, 2): (n,), float64."""
    dtype = _dtype(model)
    out = []
    for i in range(0, len(z), chunk):
        zc = z[i:i + chunk].to(dtype).unsqueeze(1)  # (c, 1, 2): one batch of one x
        out.append((model.log_px_given_z(x, zc) + model.log_prior(zc)).squeeze(1).double())
    return torch.cat(out)


def _box_of_mass(logp: torch.Tensor, zz: torch.Tensor, cell: float, m, s) -> tuple:
    """A box around the cells within e⁻¹⁵ of the posterior's peak and q's ±5σ: where the fine grid goes."""
    keep = zz[logp > logp.max() - 15]
    lo = torch.minimum(keep.min(0).values - 1.5 * cell, torch.as_tensor(m - 5 * s, dtype=zz.dtype))
    hi = torch.maximum(keep.max(0).values + 1.5 * cell, torch.as_tensor(m + 5 * s, dtype=zz.dtype))
    lo, hi = lo.clamp(min=-2 * PRIOR_BOX), hi.clamp(max=2 * PRIOR_BOX)
    return float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])


@torch.no_grad()
def grid_posterior(model, x: torch.Tensor, q: tuple | None = None, res: int = FINE, box=None) -> dict:
    """p(z|x) on a grid for one x (1, ...) and what it says about q = (m, v) (each (2,); default the encoder's).

    A coarse pass over the prior's box finds the posterior's mass; a fine res×res grid covers it and q.
    Returns box, log_post (res, res) (row = z₂ ascending), log_px (grid), kl_grid = KL(q‖p(z|x)) and
    elbo_grid = E_q[log p(x,z) − log q(z)] as Riemann sums on the fine grid, q_mass = Σ q ΔA (≈ 1 when the
    grid holds q); and zz, log_joint, area, which `score_q` reuses for another q.
    """
    if q is None:
        m, v = model.encode(x)
        q = (m[0], v[0])
    m, v = (torch.as_tensor(t, dtype=torch.float64).reshape(2) for t in q)
    if box is None:
        zz, cell = grid_points((-PRIOR_BOX, PRIOR_BOX, -PRIOR_BOX, PRIOR_BOX), COARSE)
        box = _box_of_mass(log_joint(model, x, zz), zz, math.sqrt(cell), m, v.sqrt())
    zz, area = grid_points(box, res)
    lj = log_joint(model, x, zz)
    log_px = torch.logsumexp(lj, 0) + math.log(area)
    out = {"box": box, "log_post": (lj - log_px).reshape(res, res).numpy(), "log_px": float(log_px),
           "zz": zz, "log_joint": lj, "area": area}
    out.update(score_q(out, m, v))
    return out


def score_q(grid: dict, m, v) -> dict:
    """What a grid (from grid_posterior) says about another q = N(m, diag v), without decoding again:
    kl_grid = Σ q ΔA (log q − log p(z|x)), elbo_grid = Σ q ΔA (log p(x,z) − log q), q_mass = Σ q ΔA."""
    m, v = (torch.as_tensor(t, dtype=torch.float64).reshape(2) for t in (m, v))
    lj, log_q = grid["log_joint"], nets.log_normal(grid["zz"], m, v)
    wq = log_q.exp() * grid["area"]  # q's mass per cell
    return {"kl_grid": float((wq * (log_q - (lj - grid["log_px"]))).sum()),
            "elbo_grid": float((wq * (lj - log_q)).sum()), "q_mass": float(wq.sum())}


def elbo_mc(model, x: torch.Tensor, m: torch.Tensor, v: torch.Tensor, samples: int = 4096,
            generator=None) -> float:
    """E_q[log p(x, z) − log q(z)] by Monte Carlo with `samples` draws from q = N(m, diag v) (m, v: (2,))."""
    g = _own(generator)
    with torch.no_grad():
        eps = torch.randn(samples, 1, len(m), generator=g, dtype=torch.float64)
        m, v = torch.as_tensor(m, dtype=torch.float64), torch.as_tensor(v, dtype=torch.float64)
        z = m + v.sqrt() * eps
        lw = log_joint(model, x, z[:, 0]) - nets.log_normal(z[:, 0], m, v)
    return float(lw.mean())


class PointSVI:
    """Stochastic variational inference for one x: q = N(μ, diag σ²) with its own μ and log σ (started at the
    encoder's), raised by Adam on the reparameterized ELBO. The model's weights are never touched. With
    `anneal` steps the rate decays geometrically to lr/10 over them, so q settles inside the gradient noise."""

    def __init__(self, model, x: torch.Tensor, m0, v0, lr: float = 0.05, samples: int = 16, seed: int = 0,
                 anneal: int | None = None):
        self.model, self.x, self.samples = model, x, samples
        self.lr, self.anneal = lr, anneal
        self.dtype = _dtype(model)
        self.mu = torch.as_tensor(m0, dtype=self.dtype).detach().clone().reshape(-1).requires_grad_(True)
        self.log_sigma = (0.5 * torch.as_tensor(v0, dtype=self.dtype).log()).detach().clone().reshape(-1)
        self.log_sigma.requires_grad_(True)
        self.opt = torch.optim.Adam([self.mu, self.log_sigma], lr=lr)
        self.g = torch.Generator().manual_seed(seed)
        self.trace: list[float] = []  # the ELBO estimate at each step

    def step(self, n: int = 1) -> list[float]:
        """n Adam steps; the ELBO estimates (nats) of those steps."""
        out = []
        for _ in range(n):
            if self.anneal:
                self.opt.param_groups[0]["lr"] = self.lr * 0.1 ** min(len(self.trace) / self.anneal, 1.0)
            eps = torch.randn(self.samples, 1, len(self.mu), generator=self.g, dtype=self.dtype)
            z = self.mu + self.log_sigma.exp() * eps  # (S, 1, d)
            v = (2 * self.log_sigma).exp()
            elbo = (self.model.log_px_given_z(self.x, z) + self.model.log_prior(z)
                    - nets.log_normal(z, self.mu, v)).mean()
            gm, gs = torch.autograd.grad(-elbo, [self.mu, self.log_sigma])  # the model's .grad stays untouched
            self.mu.grad, self.log_sigma.grad = gm, gs
            self.opt.step()
            out.append(float(elbo.detach()))
            self.trace.append(out[-1])
        return out

    def q(self) -> tuple[np.ndarray, np.ndarray]:
        """(mean, variance) of the current q, each (d,) float64."""
        return self.mu.detach().double().numpy(), (2 * self.log_sigma.detach().double()).exp().numpy()


@torch.no_grad()
def log_phat(model, x: torch.Tensor, k: int, repeats: int, m, v, generator=None) -> np.ndarray:
    """`repeats` independent estimates log p̂_k = log (1/k) Σ_i p(x, z_i)/q(z_i), z_i ~ q = N(m, diag v), for one
    x: (repeats,). E[p̂_k] = p(x) (unbiased), but E[log p̂_k] ≤ log p(x) (Jensen): k = 1 is the ELBO, larger k
    the IWAE bound L_k, which rises toward log p(x)."""
    g = _own(generator)
    m, v = torch.as_tensor(m, dtype=torch.float64).reshape(-1), torch.as_tensor(v, dtype=torch.float64).reshape(-1)
    eps = torch.randn(k * repeats, len(m), generator=g, dtype=torch.float64)
    z = m + v.sqrt() * eps
    lw = log_joint(model, x, z) - nets.log_normal(z, m, v)  # log_joint decodes in chunks of its own
    return (torch.logsumexp(lw.reshape(repeats, k), 1) - math.log(k)).numpy()
