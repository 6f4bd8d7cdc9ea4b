"""Jensen–Shannon divergence: JSD(p, q) = ½KL(p‖m) + ½KL(q‖m), m = (p + q)/2, in nats.

Symmetric, 0 iff p = q, and bounded: JSD ≤ log 2, reached when p and q have disjoint supports (then m puts
half of p's mass where p is, so each KL is log 2). √JSD is a metric (Endres & Schindelin 2003): it obeys the
triangle inequality, which JSD itself does not. The GAN's optimal discriminator turns its value into
2·JSD − log 4. Distributions are (K,) arrays, or (n, K) for batches.
"""
from __future__ import annotations

import math

import numpy as np


def _kl(p, q) -> np.ndarray:
    """Σ p log(p/q) over the last axis, with 0·log 0 = 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(p > 0, p * (np.log(np.where(p > 0, p, 1.0)) - np.log(np.where(q > 0, q, 1.0))), 0.0)
    return t.sum(-1)


def jsd(p, q) -> np.ndarray:
    """JSD in nats over the last axis; p, q (..., K), each summing to 1."""
    p, q = np.asarray(p, float), np.asarray(q, float)
    m = 0.5 * (p + q)
    return np.maximum(0.5 * _kl(p, m) + 0.5 * _kl(q, m), 0.0)


def js_metric(p, q) -> np.ndarray:
    return np.sqrt(jsd(p, q))


def random_triples(n: int, k: int, concentration: float = 0.5, seed: int = 0) -> np.ndarray:
    """n random triples (p, q, r) of distributions on k symbols (Dirichlet): (n, 3, k)."""
    return np.random.default_rng(seed).dirichlet(np.full(k, concentration), size=(n, 3))


def triangle_slack(triples, dist=js_metric) -> np.ndarray:
    """d(p, q) + d(q, r) − d(p, r) for each triple (n,): ≥ 0 for a metric."""
    p, q, r = triples[:, 0], triples[:, 1], triples[:, 2]
    return dist(p, q) + dist(q, r) - dist(p, r)


def gaussian_pair_jsd(shift: float, std: float = 1.0, n: int = 4001) -> float:
    """JSD(N(0, σ²), N(shift, σ²)) by quadrature on a fine grid (no closed form): → log 2 as they separate."""
    lo, hi = min(0.0, shift) - 12 * std, max(0.0, shift) + 12 * std
    x = np.linspace(lo, hi, n)
    dx = x[1] - x[0]
    c = 1 / (std * math.sqrt(2 * math.pi))
    p = c * np.exp(-0.5 * (x / std) ** 2)
    q = c * np.exp(-0.5 * ((x - shift) / std) ** 2)
    return float(jsd(p * dx, q * dx))  # cell masses: the discrete JSD of the binned densities
