"""Why planar flows need û: the same layer with the raw u, x = z + u·tanh(wᵀz + b), and what goes wrong.

Along w the map is α ↦ g(α) = α + c·tanh(α + b) with α = wᵀz, c = wᵀu. For c < −1, g′ = 1 + c(1 − tanh²) is
negative between the turning points α₁ < α₂ (tanh²(α + b) = 1 + 1/c): the plane folds over itself, each x
in the band g(α₂) ≤ wᵀx ≤ g(α₁) has three preimages, and samples on either side of the fold swap order.
The change-of-variables formula p_X(x) = N(f⁻¹(x))·|1 + c(1 − h²)|⁻¹ needs ONE f⁻¹; taking the first root
along w it misses the mass of the other branches, so it integrates to
    Φ(α₁/‖w‖) + 1 − Φ(α_r/‖w‖) < 1,        g(α_r) = g(α₁), α_r > α₂,
while the density the samples really have sums all preimages and integrates to 1. Numpy, float64: for a
drawing on the GUI thread.
"""
from __future__ import annotations

import math

import numpy as np


def turning_points(c: float, b: float) -> tuple[float, float] | None:
    """α₁ < α₂ where g′(α) = 0, or None when c ≥ −1 (then g is monotone and the layer invertible)."""
    if c >= -1:
        return None
    r = math.atanh(math.sqrt(1 + 1 / c))
    return -r - b, r - b


def pieces(c: float, b: float, y_lo: float, y_hi: float, n: int = 4096):
    """The monotone pieces of g(α) = α + c·tanh(α + b) covering y ∈ [y_lo, y_hi]: (α, g(α)) tables with g
    increasing (a decreasing piece is stored reversed); one piece, or three when c < −1."""
    cuts = list(turning_points(c, b) or ())
    lo = min(y_lo - abs(c) - 1, *(cuts[:1] or [np.inf])) - 1
    hi = max(y_hi + abs(c) + 1, *(cuts[1:] or [-np.inf])) + 1
    edges = [lo, *cuts, hi]
    out = []
    for a0, a1 in zip(edges[:-1], edges[1:]):
        a = np.linspace(a0, a1, n)
        g = a + c * np.tanh(a + b)
        out.append((a, g) if g[-1] >= g[0] else (a[::-1], g[::-1]))
    return out


def roots(y: np.ndarray, c: float, b: float) -> np.ndarray:
    """Every α with α + c·tanh(α + b) = y: (branches, len(y)), NaN where a branch does not reach y."""
    y = np.asarray(y, np.float64)
    return np.stack([np.where((y >= g[0]) & (y <= g[-1]), np.interp(y, g, a), np.nan)
                     for a, g in pieces(c, b, float(y.min()), float(y.max()))])


def branch_log_densities(x: np.ndarray, w, u, b: float, dy: float) -> np.ndarray:
    """log of N(z_k)·|dα_k/dy| averaged over a window dy of y = wᵀx, per preimage z_k = x − u·tanh(α_k + b):
    (branches, len(x)), −inf where branch k has no preimage within the window.

    The window average, |α_k(y + dy/2) − α_k(y − dy/2)|/dy with α_k clamped to its piece, integrates the
    fold's 1/√ singularity (|g′| → 0 at the turning points) exactly across a grid cell; a point value there
    would be arbitrarily large and the grid sum of the density would jump as the fold moves between points.
    """
    w, u = np.asarray(w, np.float64), np.asarray(u, np.float64)
    c, y = float(w @ u), x @ w
    out = []
    for a, g in pieces(c, b, float(y.min()) - dy, float(y.max()) + dy):
        d_alpha = np.abs(np.interp(y + dy / 2, g, a) - np.interp(y - dy / 2, g, a))
        alpha = np.interp(y, g, a)
        z = x - np.tanh(alpha + b)[:, None] * u
        with np.errstate(divide="ignore"):
            out.append(-0.5 * (z * z).sum(1) - math.log(2 * math.pi) + np.log(d_alpha / dy))
    return np.stack(out)


def unfixed_density(w, u, b: float, bbox, res: int = 200) -> dict:
    """Grid log densities (res, res) of the raw-u map: `one` (the formula with f⁻¹ = first root along w) and
    `all` (summed over every preimage: the samples' true density); `branches` = 1 or 3."""
    xs, ys = np.linspace(bbox[0], bbox[1], res), np.linspace(bbox[2], bbox[3], res)
    x = np.stack(np.meshgrid(xs, ys, indexing="xy"), -1).reshape(-1, 2)
    step = (xs[1] - xs[0])
    logp = branch_log_densities(x, w, u, b, dy=step * float(np.abs(np.asarray(w, np.float64)).sum()))
    first = np.argmax(np.isfinite(logp), 0)  # the first branch (smallest α) reaching x
    one = logp[first, np.arange(len(x))]
    m = np.max(logp, 0)
    with np.errstate(invalid="ignore"):
        total = m + np.log(np.exp(logp - np.where(np.isfinite(m), m, 0)).sum(0))
    return {"one": one.reshape(res, res), "all": np.where(np.isfinite(m), total, -np.inf).reshape(res, res),
            "branches": len(logp)}


def normal_cdf(t: float) -> float:
    return 0.5 * (1 + math.erf(t / math.sqrt(2)))


def one_root_mass(w, u, b: float) -> float:
    """Exact ∫ of the first-root density: P(α ≤ α₁) + P(α ≥ α_r), α = wᵀz ~ N(0, ‖w‖²) (1 when c ≥ −1)."""
    w, u = np.asarray(w, np.float64), np.asarray(u, np.float64)
    c, sd = float(w @ u), float(np.linalg.norm(w))
    tp = turning_points(c, b)
    if tp is None:
        return 1.0
    a1, a2 = tp
    target = a1 + c * math.tanh(a1 + b)
    lo, hi = a2, a2 + 2 * abs(c) + 2  # g(a2) < target < g(a2 + 2|c| + 2): bisect for α_r on the last piece
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if mid + c * math.tanh(mid + b) < target else (lo, mid)
    return normal_cdf(a1 / sd) + 1 - normal_cdf((lo + hi) / 2 / sd)


def folded_mass(w, u, b: float) -> float:
    """P(g′(α) < 0) = P(α₁ < α < α₂): the share of samples whose order along w the fold reverses."""
    w, u = np.asarray(w, np.float64), np.asarray(u, np.float64)
    tp = turning_points(float(w @ u), b)
    sd = float(np.linalg.norm(w))
    return 0.0 if tp is None else normal_cdf(tp[1] / sd) - normal_cdf(tp[0] / sd)


def push_samples(w, u, b: float, n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n base samples pushed through the raw-u map (n, 2), and their α = wᵀz (to colour by order along w)."""
    z = np.random.default_rng(seed).standard_normal((n, 2))
    w, u = np.asarray(w, np.float64), np.asarray(u, np.float64)
    alpha = z @ w
    return z + np.tanh(alpha + b)[:, None] * u, alpha
