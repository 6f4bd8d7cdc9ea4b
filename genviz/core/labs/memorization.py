"""Great samples, poor likelihood: a Gaussian kernel density estimate of the training set.

p_h(x) = (1/n) Σᵢ N(x; xᵢ, h² I). As the bandwidth h shrinks, a sample (pick a training point, add h·ε) is
a copy of a training point up to h·ε — its distance to the nearest training point tends to h·E‖ε‖, which
in d = 2 is h·√(π/2) — while the training NLL falls without bound (each point sits under its own kernel:
−log p_h(xᵢ) ≤ log n + (d/2) log(2πh²)) and the test NLL explodes (≈ min_i ‖x − xᵢ‖² / 2h²). The other half
of the argument for likelihood-free learning is the noise mixture (likelihood_gap.py): good likelihood,
bad samples. Shapes: train (n, d), x (m, d); everything in float64 numpy.
"""
from __future__ import annotations

import math

import numpy as np


def _sq_dists(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """‖xᵢ − yⱼ‖², (m, n), clipped at 0 (the expanded form can dip below by rounding)."""
    return np.maximum((x ** 2).sum(1)[:, None] + (y ** 2).sum(1)[None] - 2 * x @ y.T, 0.0)


def kde_log_prob(x, train, h: float, chunk: int = 4096) -> np.ndarray:
    """log p_h(x) for x (m, d): a logsumexp over the n kernels, (m,)."""
    x, train = np.asarray(x, float), np.asarray(train, float)
    n, d = train.shape
    const = -math.log(n) - 0.5 * d * math.log(2 * math.pi * h * h)
    out = []
    for i in range(0, len(x), chunk):
        a = -_sq_dists(x[i:i + chunk], train) / (2 * h * h)
        m = a.max(1, keepdims=True)
        out.append(const + m[:, 0] + np.log(np.exp(a - m).sum(1)))
    return np.concatenate(out) if out else np.zeros(0)


def nll(x, train, h: float) -> float:
    """Mean negative log-likelihood in nats of the points x under p_h."""
    return float(-kde_log_prob(x, train, h).mean())


def sample(train, h: float, n: int, seed: int = 0) -> np.ndarray:
    """n samples of p_h: a random training point plus h·ε, (n, d)."""
    rng = np.random.default_rng(seed)
    train = np.asarray(train, float)
    return train[rng.integers(0, len(train), n)] + h * rng.standard_normal((n, train.shape[1]))


def nearest_distance(x, train) -> np.ndarray:
    """Distance from each x (m, d) to its nearest training point, (m,)."""
    return np.sqrt(_sq_dists(np.asarray(x, float), np.asarray(train, float)).min(1))


def copy_distance_limit(h: float, d: int) -> float:
    """h·E‖ε‖ for ε ~ N(0, I_d) = h·√2·Γ((d+1)/2)/Γ(d/2): the samples' mean distance to their own training
    point, which is their nearest one once h is small against the spacing of the data."""
    return h * math.sqrt(2) * math.exp(math.lgamma((d + 1) / 2) - math.lgamma(d / 2))


def train_nll_limit(n: int, d: int, h: float) -> float:
    """log n + (d/2) log(2πh²): the train NLL when every point sees only its own kernel (h → 0), an upper
    bound for any h (the other kernels only add density)."""
    return math.log(n) + 0.5 * d * math.log(2 * math.pi * h * h)


def bandwidth_sweep(train, test, hs, n_samples: int = 500, seed: int = 0) -> dict[str, np.ndarray]:
    """Train and test NLL and the samples' mean nearest-train distance, for each bandwidth in hs."""
    hs = np.asarray(hs, float)
    tr = np.array([nll(train, train, h) for h in hs])
    te = np.array([nll(test, train, h) for h in hs])
    dist = np.array([nearest_distance(sample(train, h, n_samples, seed), train).mean() for h in hs])
    return {"h": hs, "train_nll": tr, "test_nll": te, "sample_dist": dist, "best_h": float(hs[np.argmin(te)])}


def density_grid(train, h: float, bbox, res: int = 120) -> np.ndarray:
    """p_h on a res × res grid over bbox (xmin, xmax, ymin, ymax), row i = y (d = 2), (res, res)."""
    xs, ys = np.linspace(bbox[0], bbox[1], res), np.linspace(bbox[2], bbox[3], res)
    xx, yy = np.meshgrid(xs, ys)
    pts = np.stack([xx.ravel(), yy.ravel()], 1)
    return np.exp(kde_log_prob(pts, train, h)).reshape(res, res)
