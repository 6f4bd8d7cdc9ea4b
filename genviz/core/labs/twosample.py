"""Two-sample tests: is S₁ ~ P the same distribution as S₂ ~ Q? Compare a statistic with its permutation null.

Under H₀ (P = Q) the pooled samples are exchangeable, so relabelling them at random draws from the statistic's
null distribution; p-value = (1 + #{null ≥ observed}) / (1 + permutations). Statistics: the distance between
the means (blind to differences in spread or shape) and the unbiased MMD² with a Gaussian kernel
k(x, y) = exp(−‖x − y‖² / 2h²), which is 0 in expectation iff P = Q.
"""
from __future__ import annotations

import numpy as np


def mean_difference(x: np.ndarray, y: np.ndarray) -> float:
    """‖mean(x) − mean(y)‖, x (n, d), y (m, d)."""
    return float(np.linalg.norm(x.mean(0) - y.mean(0)))


def median_bandwidth(z: np.ndarray) -> float:
    """The median heuristic: h = median pairwise distance of the pooled samples."""
    d2 = _sq_dists(z)
    return float(np.sqrt(np.median(d2[np.triu_indices(len(z), 1)]))) or 1.0


def _sq_dists(z: np.ndarray) -> np.ndarray:
    sq = (z ** 2).sum(1)
    return np.maximum(sq[:, None] + sq[None, :] - 2 * z @ z.T, 0)


def _mmd2_many(k: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Unbiased MMD² for each row of `labels` (P, N) bool (True = first sample), given the kernel k (N, N)."""
    k = k - np.diag(np.diag(k))  # unbiased: drop the i = j terms
    a = labels.astype(float)
    b = 1 - a
    n, m = a.sum(1), b.sum(1)
    ka, kb = a @ k, b @ k
    return (ka * a).sum(1) / (n * (n - 1)) + (kb * b).sum(1) / (m * (m - 1)) - 2 * (ka * b).sum(1) / (n * m)


def mmd2(x: np.ndarray, y: np.ndarray, bandwidth: float | None = None) -> float:
    z = np.concatenate([x, y])
    h = bandwidth or median_bandwidth(z)
    labels = np.arange(len(z))[None, :] < len(x)
    return float(_mmd2_many(np.exp(-_sq_dists(z) / (2 * h * h)), labels)[0])


def permutation_test(x: np.ndarray, y: np.ndarray, statistic: str = "mmd", permutations: int = 200,
                     bandwidth: float | None = None, seed: int = 0) -> dict:
    """observed statistic, its permutation null (permutations,), and the p-value."""
    x, y = np.asarray(x, float).reshape(len(x), -1), np.asarray(y, float).reshape(len(y), -1)
    z = np.concatenate([x, y])
    rng = np.random.default_rng(seed)
    labels = np.zeros((permutations + 1, len(z)), bool)
    labels[0, : len(x)] = True
    for p in range(1, permutations + 1):
        labels[p, rng.permutation(len(z))[: len(x)]] = True
    if statistic == "mmd":
        h = bandwidth or median_bandwidth(z)
        stats = _mmd2_many(np.exp(-_sq_dists(z) / (2 * h * h)), labels)
    elif statistic == "mean":
        a = labels.astype(float)
        mx = a @ z / a.sum(1, keepdims=True)
        my = (1 - a) @ z / (1 - a).sum(1, keepdims=True)
        stats = np.linalg.norm(mx - my, axis=1)
    else:
        raise ValueError(f"unknown statistic {statistic!r}; use 'mmd' or 'mean'")
    observed, null = float(stats[0]), stats[1:]
    return {"observed": observed, "null": null, "p_value": float((1 + (null >= observed).sum()) / (1 + permutations))}
