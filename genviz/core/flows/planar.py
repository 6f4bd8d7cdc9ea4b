"""Planar flow (Rezende & Mohamed 2015): x = z + û·tanh(wᵀz + b), trained by reverse KL to a 2D energy.

Invertibility: with û = u + [m(wᵀu) − wᵀu]·w/‖w‖², m(a) = −1 + softplus(a), we get wᵀû = m(wᵀu) > −1 for
any raw u, so wᵀx = α + (wᵀû)·tanh(α + b), α = wᵀz, is strictly increasing in α: the layer is a bijection.
Planar flows have no closed-form inverse; `inverse_numeric` solves that 1-D equation along w numerically
(float64) so a density can still be drawn on a grid. It is for display and evaluation only: its output
carries no gradient through the root finding.

Float32 edge: for wᵀu below about −17, softplus(wᵀu) < 3·10⁻⁸ and −1 + softplus(wᵀu) rounds to exactly −1, so
1 + wᵀû·(1 − tanh²) = 0 at α + b = 0 and the log-det is log 0. The layer never forms wᵀû for its Jacobian: with
s = softplus(wᵀu) = 1 + wᵀû it uses 1 + wᵀû·(1 − h²) = s + (1 − s)·h², a sum of non-negative terms (no
cancellation), and s is clamped at the dtype's smallest normal number (softplus itself underflows to 0 below
wᵀu ≈ −87 in float32), so the log-det stays finite and ≥ log(tiny).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from genviz.core.config import ConfigError, param
from genviz.core.flows import targets, viz
from genviz.core.flows.base import FlowModel, make_base
from genviz.core.model import grid

NO_INVERSE = ("planar flows have no closed-form inverse (x = z + u·tanh(wᵀz + b) cannot be solved for z "
              "in closed form); use inverse_numeric(x) for a numerical one")


class PlanarLayer(nn.Module):
    """One planar map on (batch, dim); parameters w, u: (dim,), b: scalar."""

    exact_inverse = False

    def __init__(self, dim: int, generator: torch.Generator | None = None):
        super().__init__()
        w = torch.randn(dim, generator=generator) * 0.5
        # u = log(e − 1)·w/‖w‖² gives m(wᵀu) = 0 and so û = 0: a new layer is (nearly) the identity. A raw
        # u ≈ 0 would instead give wᵀû = m(0) = −0.31, a contraction along w in every layer.
        u = math.log(math.e - 1) * w / (w @ w) + torch.randn(dim, generator=generator) * 0.05
        self.w, self.u = nn.Parameter(w), nn.Parameter(u)
        self.b = nn.Parameter(torch.zeros(()))

    def u_hat(self) -> torch.Tensor:
        """u moved along w so that wᵀû = −1 + softplus(wᵀu) > −1 (the invertibility condition)."""
        wu = self.w @ self.u
        return self.u + (F.softplus(wu) - 1 - wu) * self.w / (self.w @ self.w).clamp_min(1e-12)

    def slack(self, dtype=None) -> torch.Tensor:
        """s = 1 + wᵀû = softplus(wᵀu) > 0, computed directly (forming −1 + softplus and adding 1 back loses it)."""
        wu = (self.w @ self.u).to(dtype or self.w.dtype)
        return F.softplus(wu).clamp_min(torch.finfo(wu.dtype).tiny)

    def forward(self, z):
        h = torch.tanh(z @ self.w + self.b)
        s = self.slack()
        log_det = torch.log(jacobian_factor(s, h))
        return z + h[:, None] * self.u_hat(), log_det

    def inverse(self, x):
        raise NotImplementedError(NO_INVERSE)

    @torch.no_grad()
    def inverse_numeric(self, x, max_iters: int = 60, table: int = 1024, dtype=torch.float64):
        """(z, log_det of the inverse): solve α + c·tanh(α + b) = wᵀx for α = wᵀz, c = wᵀû > −1.

        The left side is strictly increasing in α, so a 1-D table of it brackets each root within one table
        cell (searchsorted), linear interpolation in the cell starts α, and safeguarded Newton steps inside
        the bracket (bisecting when a step leaves it) run until the residual is at rounding level, at most
        `max_iters` (0: interpolation only, for display). z = x − û·tanh(α + b).
        """
        w, b, uh = self.w.to(dtype), self.b.to(dtype), self.u_hat().to(dtype)
        slack = self.slack(dtype)
        c, y = slack - 1, x.to(dtype) @ w
        lo_all, hi_all = float(y.min() - c.abs()) - 1e-6, float(y.max() + c.abs()) + 1e-6  # |tanh| ≤ 1
        grid_a = torch.linspace(lo_all, hi_all, table, dtype=dtype, device=x.device)
        grid_y = grid_a + c * torch.tanh(grid_a + b)
        k = torch.searchsorted(grid_y, y).clamp(1, table - 1)
        lo, hi = grid_a[k - 1], grid_a[k]
        frac = ((y - grid_y[k - 1]) / (grid_y[k] - grid_y[k - 1]).clamp_min(torch.finfo(dtype).tiny)).clamp(0, 1)
        a, tol = lo + frac * (hi - lo), 8 * torch.finfo(dtype).eps * (1 + float(y.abs().max()))
        for _ in range(max_iters):
            h = torch.tanh(a + b)
            f = a + c * h - y
            if float(f.abs().max()) <= tol:
                break
            lo, hi = torch.where(f < 0, a, lo), torch.where(f < 0, hi, a)
            step = a - f / jacobian_factor(slack, h)
            a = torch.where((step < lo) | (step > hi), (lo + hi) / 2, step)
        h = torch.tanh(a + b)
        z = x.to(dtype) - h[:, None] * uh
        return z.to(x.dtype), -torch.log(jacobian_factor(slack, h)).to(x.dtype)


def jacobian_factor(slack: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """det(I + û·h′·wᵀ) = 1 + wᵀû·(1 − h²) written as s + (1 − s)·h² with s = 1 + wᵀû ∈ (0, ∞).

    For s ≤ 1 both terms are ≥ 0, so the determinant is never rounded to 0 (or below) when wᵀû is near −1;
    for s > 1 it is ≥ 1 anyway.
    """
    return slack + (1 - slack) * h * h


@dataclass
class PlanarConfig:
    target: str = param("two_moons", choices=tuple(targets.TARGETS),
                        help="unnormalized 2D energy the flow is fitted to by reverse KL (Rezende & Mohamed)")
    n_layers: int = param(16, lo=1, hi=256, help="number of planar layers K")
    base: str = param("normal", choices=("normal", "diag"), help="base distribution: N(0,I) or learnable diagonal")
    anneal_steps: int = param(1000, lo=0, hi=1_000_000, unit="steps",
                              help="the energy's weight β rises from 0.01 to 1 over these steps (0 = off)")


class Planar(FlowModel):
    """K planar layers on 2D; the loss samples the base (the data batch only sets how many samples)."""

    layer_inverse = "inverse_numeric"  # no closed form: log_prob on a grid uses the 1-D root solve

    def __init__(self, cfg: PlanarConfig, data_shape):
        super().__init__(cfg, data_shape)
        if self.data_dim != 2:
            raise ConfigError("dataset", "planar flows here fit 2D target energies; pick a 2D dataset")
        self.layers = nn.ModuleList(PlanarLayer(2) for _ in range(cfg.n_layers))
        self.base = make_base(cfg.base, 2)
        self.energy = targets.energy(cfg.target)
        self.log_z = targets.log_normalizer(cfg.target)
        self.register_buffer("steps_done", torch.zeros((), dtype=torch.long))

    def inverse(self, x):
        raise NotImplementedError(NO_INVERSE)

    def reverse_kl_terms(self, n: int, generator: torch.Generator | None = None):
        """Samples x ~ q and the per-sample log q(x) + U(x) + log Z (its mean is KL(q‖p) ≥ 0)."""
        z = self.base.sample(n, generator)
        log_q0 = self.base.log_prob(z)
        trace, log_det = self.forward_with_trace(z)
        x = trace[-1]
        return x, log_q0 - log_det, self.energy(x)

    def loss(self, x):
        _, log_q, u = self.reverse_kl_terms(len(x))
        beta = 1.0
        if self.cfg.anneal_steps and self.training:
            beta = min(1.0, 0.01 + float(self.steps_done) / self.cfg.anneal_steps)
            self.steps_done += 1
        kl = (log_q + u).mean() + self.log_z
        return (log_q + beta * u).mean(), {"kl": kl.detach()}

    @torch.no_grad()
    def evaluate(self, x=None, n: int = 4096) -> dict[str, float]:
        """KL(q‖p) in nats from n fixed-seed samples (data are not used: the target is the energy)."""
        g = torch.Generator(device=self.device).manual_seed(0)  # its own stream: training's is left alone
        _, log_q, u = self.reverse_kl_terms(n, g)
        return {"kl": float((log_q + u).mean()) + self.log_z}

    def val_metrics(self, data) -> dict[str, float]:
        return self.evaluate()

    def visualize(self, data, view):
        view = {**view, "bbox": targets.BOX}
        out = viz.flow_arrays(self, None, view, pullback=False)
        pts = grid(targets.BOX, view.get("res", 96), self.device, self.dtype)
        target = -self.energy(pts) - self.log_z
        out["target_log_density"] = target.reshape(view.get("res", 96), -1).float().cpu().numpy()
        return out

