"""GMVAE: a VAE whose prior is a uniform mixture of k learnable Gaussians (course homework, k = 500).

p(z) = (1/k) Σ_i N(z; μ_i, diag σ²_i). The KL term has no closed form, so it is the single-sample Monte
Carlo estimate log q(z|x) - log p(z) at the same z that the reconstruction term uses.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from genviz.core.config import param
from genviz.core.vae import nets
from genviz.core.vae.vae import VAE, VAEConfig


@dataclass
class GMVAEConfig(VAEConfig):
    k: int = param(0, lo=0, hi=10_000, unit="components",
                   help="mixture components in the prior (0 = auto: 500 for images as in the homework, 10 for 2D)")


class GMVAE(VAE):
    """VAE with a mixture-of-Gaussians prior; `z_pre` holds the k means and k raw variances."""

    def __init__(self, cfg: GMVAEConfig, data_shape):
        super().__init__(cfg, data_shape)
        k = cfg.k or (500 if len(self.data_shape) > 1 else 10)  # 500 x a 2D density grid would take seconds
        # the homework's initialisation: small random means, variances softplus(~0) ≈ 0.69
        self.z_pre = nn.Parameter(torch.randn(1, 2 * k, self.z_dim) / math.sqrt(k * self.z_dim))

    def prior_params(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(means, variances), each (k, z_dim)."""
        m, v = nets.gaussian_parameters(self.z_pre, dim=1)
        return m[0], v[0]

    def log_prior(self, z: torch.Tensor, max_elems: int = 4_000_000) -> torch.Tensor:
        """log p(z) for z (..., z_dim), in row chunks: the (rows, k, z_dim) intermediate stays ≤ max_elems."""
        m, v = self.prior_params()
        flat = z.reshape(-1, z.shape[-1])
        rows = max(1, max_elems // (m.numel()))
        out = [nets.log_normal_mixture(flat[i:i + rows], m, v) for i in range(0, len(flat), rows)]
        return torch.cat(out).reshape(z.shape[:-1])

    def kl(self, qm, qv, z) -> torch.Tensor:
        return nets.log_normal(z, qm, qv) - self.log_prior(z)

    def sample_prior(self, n: int, generator=None) -> torch.Tensor:
        m, v = self.prior_params()
        idx = torch.randint(0, len(m), (n,), generator=generator, device=m.device)
        eps = torch.randn(n, self.z_dim, generator=generator, device=m.device, dtype=m.dtype)
        return m[idx] + v[idx].sqrt() * eps

    def prior_components(self):
        m, _ = self.prior_params()
        return m, torch.full((len(m),), 1.0 / len(m), device=m.device, dtype=m.dtype)
