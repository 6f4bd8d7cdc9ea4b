"""Mixture of Gaussians on 2D data: the shallow latent variable model z ~ Cat(π), x|z ~ N(μ_z, Σ_z).

Fitted by EM (closed-form E and M steps on the whole training set; the likelihood never decreases) or by
gradient descent on the NLL (minibatches). Covariances are stored as Cholesky factors L (Σ = L Lᵀ) with a
positive diagonal, so both fitting methods keep them valid. The posterior p(z|x) colours the points.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from genviz.core.config import ConfigError, param
from genviz.core.model import GenerativeModel, density_on_grid


@dataclass
class MoGConfig:
    k: int = param(8, lo=1, hi=256, unit="components", help="number of Gaussian components")
    method: str = param("em", choices=("em", "gradient"),
                        help="EM: full-batch closed-form updates; gradient: Adam on minibatch NLL")
    reg: float = param(1e-4, lo=0.0, hi=1.0, help="added to each covariance's diagonal (keeps it invertible)")


class MoG(GenerativeModel):
    """x: (batch, 2); parameters: logits (k,), means (k, 2), raw Cholesky factors (k, 2, 2)."""

    family = "vae"

    def __init__(self, cfg: MoGConfig, data_shape):
        super().__init__(cfg, data_shape)
        if len(self.data_shape) != 1:
            raise ConfigError("k", "the mixture of Gaussians is a model of 2D (flat) data, not images")
        d = self.data_dim
        self.logits = nn.Parameter(torch.zeros(cfg.k))
        self.means = nn.Parameter(torch.randn(cfg.k, d))
        self.chol_raw = nn.Parameter(torch.zeros(cfg.k, d, d))  # set from data on the first step
        self.register_buffer("initialized", torch.zeros((), dtype=torch.bool))

    # -- parameters -------------------------------------------------------------------------------
    def cholesky(self) -> torch.Tensor:
        """(k, d, d) lower-triangular factors with a positive diagonal."""
        lower = torch.tril(self.chol_raw, -1)
        diag = F.softplus(torch.diagonal(self.chol_raw, dim1=-2, dim2=-1)) + 1e-3
        return lower + torch.diag_embed(diag)

    def set_params(self, pi: torch.Tensor, mu: torch.Tensor, cov: torch.Tensor) -> None:
        """Write (weights (k,), means (k, d), covariances (k, d, d)) into the raw parameters."""
        chol = torch.linalg.cholesky(cov)
        d = torch.diagonal(chol, dim1=-2, dim2=-1).clamp_min(1e-3 + 1e-6) - 1e-3
        raw = torch.tril(chol, -1) + torch.diag_embed(d + torch.log(-torch.expm1(-d)))  # softplus⁻¹
        self.logits.data.copy_(pi.clamp_min(1e-12).log())
        self.means.data.copy_(mu)
        self.chol_raw.data.copy_(raw)

    def covariances(self) -> torch.Tensor:
        chol = self.cholesky()
        return chol @ chol.transpose(-1, -2)

    # -- density ----------------------------------------------------------------------------------
    def component_log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log π_j + log N(x; μ_j, Σ_j): (batch, k)."""
        mvn = torch.distributions.MultivariateNormal(self.means, scale_tril=self.cholesky())
        return F.log_softmax(self.logits, 0) + mvn.log_prob(x.flatten(1).unsqueeze(1))

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        return torch.logsumexp(self.component_log_prob(x), 1)

    def responsibilities(self, x: torch.Tensor) -> torch.Tensor:
        """Posterior p(z = j | x): (batch, k), rows sum to 1."""
        return F.softmax(self.component_log_prob(x), 1)

    @torch.no_grad()
    def sample(self, n: int, generator=None) -> torch.Tensor:
        z = torch.multinomial(F.softmax(self.logits, 0), n, replacement=True, generator=generator)
        eps = torch.randn(n, self.data_dim, 1, generator=generator, device=self.device, dtype=self.dtype)
        return self.means[z] + (self.cholesky()[z] @ eps).squeeze(-1)

    # -- fitting ----------------------------------------------------------------------------------
    @torch.no_grad()
    def init_from_data(self, x: torch.Tensor, generator=None) -> None:
        """Means at k random data points, covariances at the data's covariance / k, equal weights."""
        k, d = self.cfg.k, self.data_dim
        idx = torch.randperm(len(x), generator=generator)[:k].to(x.device)
        mu = x[idx] if len(idx) == k else x[torch.randint(0, len(x), (k,), generator=generator)]
        cov = torch.cov(x.T).reshape(d, d) / k + self.cfg.reg * torch.eye(d, device=x.device, dtype=x.dtype)
        self.set_params(torch.full((k,), 1.0 / k, device=x.device, dtype=x.dtype), mu, cov.expand(k, d, d).clone())
        self.initialized.fill_(True)

    @torch.no_grad()
    def em_step(self, x: torch.Tensor) -> float:
        """One EM iteration on x (n, d); returns the mean log-likelihood *before* the update."""
        lp = self.component_log_prob(x)
        ll = torch.logsumexp(lp, 1)
        r = torch.exp(lp - ll[:, None])  # E step: responsibilities (n, k)
        nk = r.sum(0) + 1e-10
        mu = (r.T @ x) / nk[:, None]
        diff = x.unsqueeze(1) - mu.unsqueeze(0)  # (n, k, d)
        cov = torch.einsum("nk,nki,nkj->kij", r, diff, diff) / nk[:, None, None]
        cov = cov + self.cfg.reg * torch.eye(self.data_dim, device=x.device, dtype=x.dtype)
        self.set_params(nk / nk.sum(), mu, cov)
        return float(ll.mean())

    def fetch_batch(self, data, batch_size, generator):
        if not bool(self.initialized):
            self.init_from_data(data.train.to(self.dtype), generator)
        x = data.train if self.cfg.method == "em" else data.batch(batch_size, generator)
        return x.to(self.dtype)

    def train_step(self, x, optimizers, train):
        if self.cfg.method == "gradient":
            return super().train_step(x, optimizers, train)
        nll = torch.tensor(-self.em_step(x), dtype=self.dtype)
        return {"loss": nll, "nll": nll}

    @torch.no_grad()
    def visualize(self, data, view: dict) -> dict:
        pts = data.train[:2000].to(self.dtype)
        r = self.responsibilities(pts)
        return {"log_density": density_on_grid(self.log_prob, view["bbox"], int(view.get("res", 96)), self.device,
                                               dtype=self.dtype),
                "means": self.means.detach().cpu().numpy().copy(),
                "covs": self.covariances().cpu().numpy(),
                "weights": F.softmax(self.logits, 0).cpu().numpy(),
                "points": pts.cpu().numpy(), "resp": r.cpu().numpy(),
                "point_labels": r.argmax(1).cpu().numpy().astype(np.int64),
                "samples": self.sample(int(view.get("n_samples", 1000)),
                                       torch.Generator(device=self.device).manual_seed(0)).cpu().numpy()}


def ellipse(mean: np.ndarray, cov: np.ndarray, n_std: float = 2.0, n: int = 64) -> np.ndarray:
    """(n, 2) points of the n_std contour of N(mean, cov), for drawing a component."""
    vals, vecs = np.linalg.eigh(cov)
    t = np.linspace(0, 2 * math.pi, n)
    circle = np.stack([np.cos(t), np.sin(t)], 1) * n_std * np.sqrt(np.maximum(vals, 0))
    return mean + circle @ vecs.T
