"""Mode coverage on the ring-of-8 / grid-of-25 benchmarks, and KDE estimates of D* and the JSD.

Mode coverage (Srivastava et al. 2017, Lin et al. 2018): a sample is *high quality* if it lies within
3 sigma of a mode centre; a mode is *captured* if at least `min_frac` of the samples (20 of 2,500, the
PacGAN convention) land there as high-quality samples.
D* = p_data / (p_data + p_G) is the optimal discriminator for a fixed generator (Goodfellow et al. 2014);
with it the GAN value is V(D*, G) = 2 JSD(p_data || p_G) - 2 ln 2.
"""
from __future__ import annotations

import math

import numpy as np
import torch


def ring8_centres(radius: float = 2.0) -> np.ndarray:
    a = np.arange(8) * math.pi / 4
    return radius * np.stack([np.cos(a), np.sin(a)], 1)


def grid25_centres() -> np.ndarray:
    return np.array([(i, j) for i in range(-4, 5, 2) for j in range(-4, 5, 2)], float)


# dataset name -> (mode centres (K, 2), per-mode sigma); the datasets are generated in core.data
BENCHMARKS = {"ring8": (ring8_centres(), 0.02), "grid25": (grid25_centres(), 0.05)}


def mode_coverage(samples, centres, sigma: float, min_frac: float = 20 / 2500) -> dict:
    """samples (n, 2) -> {'modes': captured count, 'n_modes': K, 'hq': high-quality fraction, 'counts': (K,)}."""
    x = torch.as_tensor(np.asarray(samples), dtype=torch.float64)
    c = torch.as_tensor(np.asarray(centres), dtype=torch.float64)
    d, nearest = torch.cdist(x, c).min(1)
    hq = d <= 3 * sigma
    counts = torch.bincount(nearest[hq], minlength=len(c)).numpy()
    captured = int((counts >= max(1.0, min_frac * len(x))).sum())
    return {"modes": captured, "n_modes": len(c), "hq": float(hq.double().mean()), "counts": counts}


def scott_bandwidth(x: torch.Tensor) -> float:
    """Scott's rule for a Gaussian KDE in d dims: n^(-1/(d+4)) times the mean per-axis std."""
    n, d = x.shape
    return float(x.std(0).mean()) * n ** (-1.0 / (d + 4))


def kde_log_prob(points: torch.Tensor, centres: torch.Tensor, h: float, chunk: int = 8192) -> torch.Tensor:
    """log of a Gaussian KDE with bandwidth h built on `centres` (m, d), at `points` (n, d) -> (n,)."""
    m, d = centres.shape
    const = math.log(m) + 0.5 * d * math.log(2 * math.pi * h * h)
    out = []
    for i in range(0, len(points), chunk):
        sq = torch.cdist(points[i:i + chunk], centres).pow(2)
        out.append(torch.logsumexp(-0.5 * sq / (h * h), 1) - const)
    return torch.cat(out)


def optimal_discriminator(log_p_data: torch.Tensor, log_p_model: torch.Tensor) -> torch.Tensor:
    """D*(x) = p_data / (p_data + p_G), computed stably from log densities as sigmoid(log p_data - log p_G)."""
    return torch.sigmoid(log_p_data - log_p_model)


def jsd_from_log_densities(lp_real_at_real, lg_real_at_real, lp_fake_at_fake, lg_fake_at_fake) -> float:
    """Monte Carlo JSD in nats: ½E_p[log 2p/(p+q)] + ½E_q[log 2q/(p+q)], from log p and log q at samples."""
    a = math.log(2) + lp_real_at_real - torch.logaddexp(lp_real_at_real, lg_real_at_real)
    b = math.log(2) + lg_fake_at_fake - torch.logaddexp(lp_fake_at_fake, lg_fake_at_fake)
    return float(0.5 * a.mean() + 0.5 * b.mean())


def kde_jsd(real_fit, fake_fit, real_eval, fake_eval, h: float | None = None) -> float:
    """JSD between KDEs of real and generated points (fit sets), estimated on separate eval sets."""
    h = h or scott_bandwidth(real_fit)
    lp_r, lg_r = kde_log_prob(real_eval, real_fit, h), kde_log_prob(real_eval, fake_fit, h)
    lp_f, lg_f = kde_log_prob(fake_eval, real_fit, h), kde_log_prob(fake_eval, fake_fit, h)
    return jsd_from_log_densities(lp_r, lg_r, lp_f, lg_f)


def kde_dstar_grid(grid_pts: torch.Tensor, real_fit: torch.Tensor, fake_fit: torch.Tensor, h: float | None = None
                   ) -> torch.Tensor:
    """D* on grid points (n, 2) from KDEs of real and generated points (same bandwidth for both)."""
    h = h or scott_bandwidth(real_fit)
    return optimal_discriminator(kde_log_prob(grid_pts, real_fit, h), kde_log_prob(grid_pts, fake_fit, h))
