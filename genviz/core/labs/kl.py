"""KL is asymmetric: fit one Gaussian q to a Gaussian mixture p by forward and by reverse KL.

Forward KL(p‖q) = E_p[log p − log q] is minimised by moment matching (mass covering): μ = Σₖ wₖμₖ,
Σ = Σₖ wₖ(Σₖ + μₖμₖᵀ) − μμᵀ, in closed form. Reverse KL(q‖p) = E_q[log q − log p] (mode seeking) has no
closed form for a mixture: minimise it by gradient descent on μ and a Cholesky factor L with reparameterized
samples x = μ + Lε. Shapes: weights (K,), means (K, d), covs (K, d, d); d = 1 or 2.
"""
from __future__ import annotations

import math

import numpy as np
import torch


def mixture_log_prob(x: torch.Tensor, w, mu, cov) -> torch.Tensor:
    """log p(x) of a Gaussian mixture, x (N, d) -> (N,)."""
    return _mixture_log_prob(x, *_precompute(w, mu, cov, x.dtype))


def _precompute(w, mu, cov, dtype=torch.float64):
    """(log w, μ, Σ⁻¹, log det Σ) as tensors, from numpy (LAPACK once, not per step)."""
    w, mu, cov = np.asarray(w, float), np.asarray(mu, float), np.asarray(cov, float)
    t = lambda a: torch.as_tensor(a, dtype=dtype)  # noqa: E731
    return t(np.log(w)), t(mu), t(np.linalg.inv(cov)), t(np.linalg.slogdet(cov)[1])


def _mixture_log_prob(x, logw, mu, prec, logdet):
    diff = x[:, None, :] - mu[None]  # (N, K, d)
    # broadcast products, not einsum/bmm: these tiny ops must not wait for BLAS threads on a busy machine
    maha = ((diff[..., :, None] * prec[None]).sum(-2) * diff).sum(-1)
    comp = -0.5 * (maha + logdet + x.shape[1] * math.log(2 * math.pi))
    return torch.logsumexp(comp + logw, dim=1)


def forward_kl_fit(w, mu, cov) -> tuple[np.ndarray, np.ndarray]:
    """argmin_q KL(p‖q) over Gaussians = the mixture's mean and covariance: (μ (d,), Σ (d, d))."""
    w, mu, cov = np.asarray(w, float), np.asarray(mu, float), np.asarray(cov, float)
    m = w @ mu
    second = np.einsum("k,kij->ij", w, cov + mu[:, :, None] * mu[:, None, :])
    return m, second - np.outer(m, m)


def gaussian_kl(mu0, cov0, mu1, cov1) -> float:
    """KL(N(μ₀,Σ₀) ‖ N(μ₁,Σ₁)) = ½[tr(Σ₁⁻¹Σ₀) + (μ₁−μ₀)ᵀΣ₁⁻¹(μ₁−μ₀) − d + log(det Σ₁ / det Σ₀)]."""
    mu0, cov0, mu1, cov1 = (np.atleast_1d(np.asarray(a, float)) for a in (mu0, cov0, mu1, cov1))
    cov0, cov1 = np.atleast_2d(cov0), np.atleast_2d(cov1)
    inv1, diff = np.linalg.inv(cov1), mu1 - mu0
    d = len(mu0)
    logdet = np.linalg.slogdet(cov1)[1] - np.linalg.slogdet(cov0)[1]
    return 0.5 * float(np.trace(inv1 @ cov0) + diff @ inv1 @ diff - d + logdet)


class ReverseKLFit:
    """Gradient descent on KL(q‖p) for q = N(μ, LLᵀ); call `step(k)` repeatedly (the lab animates it)."""

    def __init__(self, w, mu, cov, init_mean=None, init_std: float = 1.0, n_samples: int = 256,
                 lr: float = 0.05, seed: int = 0):
        self.target = _precompute(w, mu, cov)
        d = self.target[1].shape[1]
        m0 = torch.zeros(d, dtype=torch.float64) if init_mean is None else torch.as_tensor(init_mean, dtype=torch.float64)
        self.mean = m0.clone().requires_grad_(True)
        self.log_diag = torch.full((d,), math.log(init_std), dtype=torch.float64, requires_grad=True)
        self.off = torch.zeros(d * (d - 1) // 2, dtype=torch.float64, requires_grad=True)
        self.opt = torch.optim.Adam([self.mean, self.log_diag, self.off], lr=lr)
        self.gen = torch.Generator().manual_seed(seed)
        self.n, self.d, self.steps, self.history = n_samples, d, 0, []

    def chol(self) -> torch.Tensor:
        L = torch.diag(torch.exp(self.log_diag))
        if self.d > 1:
            i, j = torch.tril_indices(self.d, self.d, -1)
            L = L.index_put((i, j), self.off)
        return L

    def kl_estimate(self, eps: torch.Tensor) -> torch.Tensor:
        """E_q[log q − log p] by reparameterized samples x = μ + Lε (entropy term in closed form)."""
        L = self.chol()
        x = self.mean + (eps[:, None, :] * L[None]).sum(-1)  # μ + Lε without a BLAS call
        entropy = 0.5 * self.d * (1 + math.log(2 * math.pi)) + self.log_diag.sum()
        return -entropy - _mixture_log_prob(x, *self.target).mean()

    def step(self, k: int = 1) -> float:
        for _ in range(k):
            eps = torch.randn(self.n, self.d, generator=self.gen, dtype=torch.float64)
            loss = self.kl_estimate(eps)
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
            self.steps += 1
            self.history.append(float(loss.detach()))
        return self.history[-1] if self.history else float("nan")

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """(μ (d,), Σ (d, d)) of the current q."""
        with torch.no_grad():
            L = self.chol()
            return self.mean.detach().numpy().copy(), (L @ L.T).numpy()


def bimodal(d: int, separation: float = 4.0, std: float = 0.5, weight: float = 0.5):
    """Two Gaussians at ±separation/2 along the first axis: (w, mu, cov) for the lab's default target."""
    mu = np.zeros((2, d))
    mu[0, 0], mu[1, 0] = -separation / 2, separation / 2
    cov = np.stack([np.eye(d) * std ** 2] * 2)
    return np.array([weight, 1 - weight]), mu, cov


def reverse_kl_exact(mean, cov, w, mu, cov_p, n: int = 801, width: float = 9.0) -> float:
    """KL(q‖p) for q = N(mean, cov) (d = 1 or 2) and the mixture p, by quadrature on a fine grid.

    The grid covers q's ±`width` σ box along its principal axes (u = mean + A t, A = Σ^½ eigen-root), where
    the integrand q(log q − log p) is smooth and ~0 at the edges, so the trapezoid rule converges
    exponentially fast; the lab reads this instead of the noisy 256-sample training estimate.
    """
    mean, cov = np.atleast_1d(np.asarray(mean, float)), np.atleast_2d(np.asarray(cov, float))
    d = len(mean)
    n = n if d == 1 else min(n, 161)  # 161² points: still exact to ~1e-9 here, and cheap enough per frame
    t = np.linspace(-width, width, n)
    evals, evecs = np.linalg.eigh(cov)
    root = evecs * np.sqrt(np.maximum(evals, 1e-300))  # Σ = root rootᵀ
    tt = t[:, None] if d == 1 else np.stack(np.meshgrid(t, t, indexing="ij"), -1).reshape(-1, 2)
    x = mean + tt @ root.T
    # in t coordinates q is N(0, I) and the Jacobian cancels: KL = ∫ φ(t)[log q(x(t)) − log p(x(t))] dt
    log_phi = -0.5 * (tt ** 2).sum(1) - 0.5 * d * math.log(2 * math.pi)
    log_q = log_phi - 0.5 * np.log(np.maximum(evals, 1e-300)).sum()
    log_p = mixture_log_prob(torch.as_tensor(x), w, mu, cov_p).numpy()
    wts = np.full(n, t[1] - t[0])
    wts[[0, -1]] *= 0.5  # trapezoid
    wt = wts if d == 1 else np.outer(wts, wts).ravel()
    return float((wt * np.exp(log_phi) * (log_q - log_p)).sum())
