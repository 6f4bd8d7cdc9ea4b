"""Why an EBM's normalizer is intractable: Z = ∫ exp f(x) dx for a Gaussian energy in d dimensions.

f(x) = −½ xᵀΛx has Z = (2π)^{d/2} det(Λ)^{−½} in closed form, so every estimate can be checked. A grid with
n points per axis costs n^d evaluations of f (exact as n grows, hopeless beyond a handful of dimensions:
MNIST's d = 784 at n = 10 is 10^784); plain Monte Carlo over a box, V·mean exp f(u), costs what you give it
but its relative error grows exponentially with d (almost no uniform point lands where exp f lives).
Energies here: an isotropic Gaussian with std σ (Λ = I/σ²) or an equicorrelated one (Λ = Σ⁻¹, Σ = σ²[(1−ρ)I + ρ11ᵀ]).
"""
from __future__ import annotations

import math

import numpy as np


def covariance(d: int, sigma: float = 1.0, rho: float = 0.0) -> np.ndarray:
    return sigma ** 2 * ((1 - rho) * np.eye(d) + rho * np.ones((d, d)))


def log_z_analytic(d: int, sigma: float = 1.0, rho: float = 0.0) -> float:
    """log Z = (d/2) log 2π + ½ log det Σ; det of the equicorrelated Σ = σ^{2d}(1−ρ)^{d−1}(1 + (d−1)ρ)."""
    logdet = 2 * d * math.log(sigma) + (d - 1) * math.log(1 - rho) + math.log(1 + (d - 1) * rho)
    return 0.5 * d * math.log(2 * math.pi) + 0.5 * logdet


def energy(x: np.ndarray, sigma: float = 1.0, rho: float = 0.0) -> np.ndarray:
    """f(x) = −½ xᵀΣ⁻¹x for x (m, d)."""
    prec = np.linalg.inv(covariance(x.shape[1], sigma, rho))
    return -0.5 * np.einsum("mi,ij,mj->m", x, prec, x)


def box_half_width(sigma: float) -> float:
    """Half-width of a box holding the Gaussian's mass: 6 std of a marginal (every marginal has std σ)."""
    return 6.0 * sigma


def grid_cost(n: int, d: int) -> float:
    """log10 of the number of energy evaluations of an n-per-axis grid in d dimensions."""
    return d * math.log10(n)


def log_z_grid(d: int, n: int, sigma: float = 1.0, rho: float = 0.0, max_points: int = 2_000_000,
               chunk: int = 200_000) -> float:
    """log Z by a Riemann sum on an n^d grid over the box (nan when n^d > max_points: not computed)."""
    if n ** d > max_points:
        return math.nan
    a = box_half_width(sigma)
    axis = np.linspace(-a, a, n)
    cell = (axis[1] - axis[0]) ** d
    total = []
    idx = np.arange(n ** d)
    for i in range(0, len(idx), chunk):
        digits = (idx[i:i + chunk, None] // n ** np.arange(d)[None]) % n  # the grid point's coordinates
        f = energy(axis[digits], sigma, rho)
        total.append(f)
    f = np.concatenate(total)
    m = f.max()
    return float(m + math.log(np.exp(f - m).sum()) + math.log(cell))


def log_z_uniform_mc(d: int, n_samples: int, sigma: float = 1.0, rho: float = 0.0, seed: int = 0) -> float:
    """log Z by uniform Monte Carlo over the box: log V + log mean exp f(u) (−inf if every f underflows)."""
    a = box_half_width(sigma)
    u = np.random.default_rng(seed).uniform(-a, a, (n_samples, d))
    f = energy(u, sigma, rho)
    m = f.max()
    return float(d * math.log(2 * a) + m + math.log(np.exp(f - m).mean()))


def table(dims, n: int, mc_samples: int, sigma: float = 1.0, rho: float = 0.0, max_points: int = 2_000_000,
          seed: int = 0) -> list[dict]:
    """One row per dimension: analytic log Z, grid log Z (if affordable), its cost, a uniform-MC log Z."""
    rows = []
    for d in dims:
        rows.append({"d": int(d), "analytic": log_z_analytic(int(d), sigma, rho),
                     "grid": log_z_grid(int(d), n, sigma, rho, max_points), "log10_cost": grid_cost(n, int(d)),
                     "mc": log_z_uniform_mc(int(d), mc_samples, sigma, rho, seed)})
    return rows
