"""Great likelihood, poor samples (Theis et al. 2016): the mixture p_mix = 0.01·p_data + 0.99·p_noise.

Its samples are 99% noise, yet log p_mix(x) ≥ log 0.01 + log p_data(x) for every x, so its expected
log-likelihood on data is within log 100 ≈ 4.6 nats of the data's own, −H(p_data); and never above it
(cross-entropy ≥ entropy). As the dimension d grows, that gap per dimension, ≤ log(100)/d, vanishes.
Here p_data = N(0, σ_d² I_d) (H = d/2·log(2πe σ_d²)) and p_noise = N(0, σ_n² I_d).
"""
from __future__ import annotations

import math

import numpy as np


def _log_normal(x: np.ndarray, std: float) -> np.ndarray:
    d = x.shape[1]
    return -0.5 * (x ** 2).sum(1) / std ** 2 - d * math.log(std) - 0.5 * d * math.log(2 * math.pi)


def data_entropy(d: int, data_std: float) -> float:
    return 0.5 * d * math.log(2 * math.pi * math.e * data_std ** 2)


def mixture_loglik(d: int, data_std: float = 1.0, noise_std: float = 3.0, weight: float = 0.01,
                   n: int = 2000, seed: int = 0) -> float:
    """E_{x~p_data}[log p_mix(x)] in nats, as −H(p_data) + a Monte Carlo mean of log p_mix(x) − log p_data(x):
    the exact entropy is a control variate, and each term is ≥ log weight, so the error stays small
    in any dimension."""
    x = np.random.default_rng(seed).normal(0, data_std, (n, d))
    log_data = _log_normal(x, data_std)
    log_mix = np.logaddexp(math.log(weight) + log_data, math.log(1 - weight) + _log_normal(x, noise_std))
    return -data_entropy(d, data_std) + float((log_mix - log_data).mean())


def gap_curve(dims, data_std: float = 1.0, noise_std: float = 3.0, weight: float = 0.01, n: int = 2000,
              seed: int = 0) -> dict[str, np.ndarray]:
    """Per-dimension NLLs (nats/dim) against d: data entropy H/d, the mixture's −E log p_mix / d, their gap,
    and the bound −log(weight)/d."""
    dims = np.asarray(dims, int)
    h = np.array([data_entropy(int(d), data_std) for d in dims])
    ll = np.array([mixture_loglik(int(d), data_std, noise_std, weight, n, seed) for d in dims])
    return {"d": dims, "entropy_per_dim": h / dims, "mixture_nll_per_dim": -ll / dims,
            "gap_per_dim": (-ll - h) / dims, "bound_per_dim": -math.log(weight) / dims}


def mixture_samples(n: int, d: int = 2, data_std: float = 1.0, noise_std: float = 3.0, weight: float = 0.01,
                    seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(x (n, d), from_data (n,) bool): samples of p_mix and which ones came from p_data."""
    rng = np.random.default_rng(seed)
    from_data = rng.uniform(size=n) < weight
    std = np.where(from_data, data_std, noise_std)[:, None]
    return rng.normal(0, 1, (n, d)) * std, from_data
