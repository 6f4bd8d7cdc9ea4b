"""Fenchel conjugates built from their definition, and a 1D critic that learns the f-GAN's optimal T* = f′(p/q).

f*(t) = sup_u (u·t − f(u)). For each u, t ↦ u·t − f(u) is a line (slope u, intercept −f(u)); f* is the upper
envelope of these lines, and at t the supremum is the line of u* = (f′)⁻¹(t), the point where f's tangent has
slope t. Dually, on f's plot f*(t) is the largest gap between the line u·t and f(u).

Variational bound (Nguyen et al.; f-GAN): D_f(P‖Q) = ∫ q f(p/q) ≥ sup_T E_P[T] − E_Q[f*(T)], tight at
T*(x) = f′(p(x)/q(x)). Here P = N(μ_p, σ_p²), Q = N(μ_q, σ_q²); integrals are trapezoid quadrature on a grid
covering both, so a bound is evaluated exactly for the critic at hand (no sampling noise). Shapes: 1D arrays.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from genviz.core.gan.fgan import Divergence
from genviz.core.labs.change_of_variables import trapezoid
from genviz.core.labs.kl import gaussian_kl

F64 = torch.float64


def _t(a) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a, np.float64), dtype=F64)


def _np(fn, a) -> np.ndarray:
    with torch.no_grad():
        return fn(_t(a)).numpy()


# -- conjugates ------------------------------------------------------------------------------------------------
def u_grid(div: Divergence, n: int = 200_001, hi: float = 60.0) -> np.ndarray:
    """Where the supremum is searched: (0, hi] (geometric near 0, where small ratios live), or [−hi, hi]
    for an f defined on all of ℝ."""
    if div.u_min == -math.inf:
        return np.linspace(-hi, hi, n)
    return np.concatenate([np.geomspace(1e-9, 1.0, n // 2, endpoint=False), np.linspace(1.0, hi, n - n // 2)])


def conjugate_numeric(div: Divergence, t, u: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(sup_u (u·t − f(u)) over the grid u, the maximizing u) for each t: the definition, no closed form."""
    u = u_grid(div) if u is None else u
    fu = _np(div.f, u)
    t = np.atleast_1d(np.asarray(t, np.float64))
    vals, args = np.empty(len(t)), np.empty(len(t))
    for i, ti in enumerate(t):  # one t at a time: (len(t), 200k) at once would be needlessly large
        gap = ti * u - fu
        k = int(np.argmax(gap))
        vals[i], args[i] = gap[k], u[k]
    return vals, args


def conjugate(div: Divergence, t) -> np.ndarray:
    """The closed form f*(t) of the f-GAN table."""
    return _np(div.conjugate, t)


def maximizer(div: Divergence, t, iters: int = 200) -> np.ndarray:
    """u* = (f′)⁻¹(t), where the line of slope t touches f (the argmax of u·t − f(u)): bisection on the
    increasing f′ (geometric on (0, ∞), where u* spans many orders of magnitude)."""
    t = np.atleast_1d(np.asarray(t, np.float64))
    positive = div.u_min == 0.0
    lo, hi = (np.full(len(t), 1e-15), np.full(len(t), 1e6)) if positive else (np.full(len(t), -1e6), np.full(len(t), 1e6))
    for _ in range(iters):
        mid = np.sqrt(lo * hi) if positive else (lo + hi) / 2
        below = _np(div.f_prime, mid) < t
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    return np.sqrt(lo * hi) if positive else (lo + hi) / 2


def tangent_lines(div: Divergence, us, t) -> np.ndarray:
    """(len(us), len(t)): the lines t ↦ u·t − f(u), one per u; their upper envelope is f*."""
    us = np.asarray(us, np.float64)
    return us[:, None] * np.asarray(t, np.float64)[None] - _np(div.f, us)[:, None]


def f_range(div: Divergence) -> tuple[float, float]:
    return (-1.0, 4.0) if div.u_min == -math.inf else (0.01, 4.0)


def t_range(div: Divergence) -> tuple[float, float]:
    """A window of f*'s domain to draw: the activation's image of v ∈ [−3, 3] (always inside dom f*)."""
    lo, hi = _np(div.activation, [-3.0, 3.0])
    return float(lo), float(hi)


# -- P, Q and the variational bound ------------------------------------------------------------------------------
def log_normal(x, m: float, s: float) -> np.ndarray:
    x = np.asarray(x, np.float64)
    return -0.5 * ((x - m) / s) ** 2 - math.log(s * math.sqrt(2 * math.pi))


def x_grid(p, q, n: int = 4001) -> np.ndarray:
    """A grid holding all but a negligible share of P and Q (±10σ of each)."""
    lo = min(p[0] - 10 * p[1], q[0] - 10 * q[1])
    hi = max(p[0] + 10 * p[1], q[0] + 10 * q[1])
    return np.linspace(lo, hi, n)


def optimal_critic(div: Divergence, x, p, q) -> np.ndarray:
    """T*(x) = f′(p(x)/q(x))."""
    return _np(div.f_prime, np.exp(log_normal(x, *p) - log_normal(x, *q)))


def divergence(div: Divergence, p, q, x: np.ndarray | None = None) -> float:
    """D_f(P‖Q) = ∫ q f(p/q) dx by quadrature (inf-free: terms where q underflows carry no mass)."""
    x = x_grid(p, q) if x is None else x
    lq = log_normal(x, *q)
    integrand = np.exp(lq) * _np(div.f, np.exp(log_normal(x, *p) - lq))
    return float(trapezoid(np.nan_to_num(integrand, nan=0.0, posinf=0.0), x))


def bound(div: Divergence, t_values, x, p, q) -> float:
    """E_P[T] − E_Q[f*(T)] = ∫ p T − q f*(T) dx for critic values T on the grid x."""
    t_values = np.asarray(t_values, np.float64)
    integrand = np.exp(log_normal(x, *p)) * t_values - np.exp(log_normal(x, *q)) * conjugate(div, t_values)
    return float(trapezoid(integrand, x))


def gaussian_closed_form(name: str, p, q) -> float | None:
    """D_f between two Gaussians where a closed form exists (KL, reverse KL, χ², squared Hellinger)."""
    (m1, s1), (m2, s2) = p, q
    if name == "kl":
        return gaussian_kl(m1, s1 ** 2, m2, s2 ** 2)
    if name == "reverse_kl":
        return gaussian_kl(m2, s2 ** 2, m1, s1 ** 2)
    if name == "pearson":
        d = 2 * s2 ** 2 - s1 ** 2
        return math.inf if d <= 0 else s2 ** 2 / (s1 * math.sqrt(d)) * math.exp((m1 - m2) ** 2 / d) - 1
    if name == "hellinger":
        return 2 * (1 - math.sqrt(2 * s1 * s2 / (s1 ** 2 + s2 ** 2)) * math.exp(-(m1 - m2) ** 2 / (4 * (s1 ** 2 + s2 ** 2))))
    return None


# -- a critic trained live ---------------------------------------------------------------------------------------
class CriticFit:
    """T(x) = g_f(V(x)), V a 1→hidden→hidden→1 MLP, trained by Adam to maximize E_P[T] − E_Q[f*(T)] on fresh
    batches from P and Q. Its own torch.Generator seeds the weights and draws every batch."""

    def __init__(self, div: Divergence, p, q, hidden: int = 32, lr: float = 5e-3, batch: int = 512, seed: int = 0):
        self.div, self.p, self.q, self.batch = div, tuple(p), tuple(q), batch
        self.gen = torch.Generator().manual_seed(seed)
        self.net = nn.Sequential(nn.Linear(1, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(),
                                 nn.Linear(hidden, 1))
        with torch.no_grad():
            for layer in self.net:
                if isinstance(layer, nn.Linear):
                    layer.weight.copy_(torch.randn(layer.weight.shape, generator=self.gen) / math.sqrt(layer.in_features))
                    layer.bias.zero_()
        self.opt = torch.optim.Adam(self.net.parameters(), lr=lr)
        self.steps = 0
        self.scale = max(abs(self.p[0]), abs(self.q[0])) + 3 * max(self.p[1], self.q[1])  # inputs to O(1)

    def critic(self, x: torch.Tensor) -> torch.Tensor:
        return self.div.activation(self.net(x[:, None] / self.scale)[:, 0])

    def step(self, n: int = 1) -> float:
        """n Adam steps; returns the last batch's bound estimate."""
        for _ in range(n):
            xp = self.p[0] + self.p[1] * torch.randn(self.batch, generator=self.gen)
            xq = self.q[0] + self.q[1] * torch.randn(self.batch, generator=self.gen)
            est = self.critic(xp).mean() - self.div.conjugate(self.critic(xq)).mean()
            self.opt.zero_grad()
            (-est).backward()
            self.opt.step()
            self.steps += 1
        return float(est.detach())

    def values(self, x) -> np.ndarray:
        with torch.no_grad():
            return self.critic(torch.as_tensor(np.asarray(x), dtype=torch.float32)).double().numpy()

    def bound(self, x) -> float:
        """The current critic's bound by quadrature on x."""
        return bound(self.div, self.values(x), x, self.p, self.q)
