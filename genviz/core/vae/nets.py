"""Small building blocks shared by the latent variable models: MLPs and Gaussian / Bernoulli log-densities.

Conventions follow the course homework: a Gaussian is (mean m, variance v), v = softplus(h) + 1e-8.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

LOG2PI = math.log(2 * math.pi)


def mlp(sizes: list[int], act=nn.ELU) -> nn.Sequential:
    """Linear layers with `act` between them (none after the last): sizes = [in, h1, ..., out]."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(act())
    return nn.Sequential(*layers)


def gaussian_parameters(h: torch.Tensor, dim: int = -1) -> tuple[torch.Tensor, torch.Tensor]:
    """Split h into (mean, variance) along `dim`; variance = softplus + 1e-8 keeps it positive."""
    m, h = torch.split(h, h.size(dim) // 2, dim=dim)
    return m, F.softplus(h) + 1e-8


def sample_gaussian(m: torch.Tensor, v: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Reparameterized draw z = m + sqrt(v) * eps; eps from `generator` (drawn on its device, then moved to
    m's), or from torch's global stream when None (training: the session owns that stream)."""
    if generator is None:
        return m + v.sqrt() * torch.randn_like(m)
    eps = torch.randn(m.shape, generator=generator, device=generator.device, dtype=m.dtype)
    return m + v.sqrt() * eps.to(m.device)


def log_normal(x: torch.Tensor, m: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """log N(x; m, diag v) summed over the last dimension: (..., d) -> (...)."""
    return -0.5 * (LOG2PI + v.log() + (x - m) ** 2 / v).sum(-1)


def log_normal_mixture(z: torch.Tensor, m: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """log of a uniform mixture of Gaussians: z (..., d), m and v (k, d) -> (...)."""
    lp = log_normal(z.unsqueeze(-2), m, v)  # (..., k)
    return torch.logsumexp(lp, -1) - math.log(m.size(0))


def kl_normal(qm, qv, pm, pv) -> torch.Tensor:
    """KL(N(qm, qv) || N(pm, pv)) in closed form, summed over the last dimension."""
    return 0.5 * (pv.log() - qv.log() + (qv + (qm - pm) ** 2) / pv - 1).sum(-1)


def log_mean_exp(x: torch.Tensor, dim: int) -> torch.Tensor:
    return torch.logsumexp(x, dim) - math.log(x.size(dim))


def export_params(module: nn.Module) -> dict[str, np.ndarray]:
    """Every parameter/buffer as float32 numpy under 'param/<name>': the GUI decodes and runs labs with these."""
    return {f"param/{k}": v.detach().float().cpu().numpy().copy() for k, v in module.state_dict().items()}


@torch.no_grad()
def numpy_mlp(arrays: dict, prefix: str, x: np.ndarray) -> np.ndarray:
    """Run an exported mlp() (keys prefix + '<i>.weight', Linear at even i) on x (n, in): ELU between layers.

    Computed with torch on the arrays (no copy): numpy's multi-threaded BLAS takes ~50 ms for these small
    products on busy cores, torch ~0.5 ms, and the GUI decodes on every mouse move.
    """
    idx = sorted(int(k[len(prefix):].split(".")[0]) for k in arrays if k.startswith(prefix) and k.endswith(".weight"))
    h = torch.from_numpy(np.ascontiguousarray(x, np.float32))
    for j, i in enumerate(idx):
        h = F.linear(h, torch.from_numpy(arrays[f"{prefix}{i}.weight"]), torch.from_numpy(arrays[f"{prefix}{i}.bias"]))
        if j < len(idx) - 1:
            h = F.elu(h)
    return h.numpy()


def pca_basis(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean (d,), basis (2, d)) of the two leading principal directions of z (n, d); identity for d <= 2."""
    mean = z.mean(0)
    d = z.size(1)
    if d <= 2:  # plot the latent itself (a 1-D latent goes on the x axis)
        return torch.zeros_like(mean), torch.eye(2, d, device=z.device, dtype=z.dtype)
    _, _, vt = torch.linalg.svd(z - mean, full_matrices=False)
    basis = vt[:2]
    basis = basis * torch.sign(basis[:, :1] + 1e-12)  # fix the sign so the picture does not flip per snapshot
    return mean, basis
