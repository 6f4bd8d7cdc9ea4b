"""Estimator labs from the course, as pure functions on any latent variable model.

A model here is anything with `encode(x) -> (m, v)` (diagonal Gaussian q(z|x), each (batch, d)),
`log_px_given_z(x, z)` for z (..., batch, d) -> (..., batch), `log_prior(z)` and `sample_prior(n)`:
the VAE family, or `LinearGaussian` below, whose log p(x) and posterior are known in closed form.

(a) `estimator_spread`: log p(x) by naive Monte Carlo over the prior vs importance sampling with q(z|x).
(b) `gradient_variance`: REINFORCE vs reparameterization gradients of the same expectation.
(c) `amortization_gap`: ELBO of the encoder's q vs a per-datapoint optimized q (SVI), against log p(x).
Every lab draws from its `generator` (default: a fresh one seeded 0, so a lab repeats its picture), never
from torch's global stream: the GUI runs them on a thread while a session trains on that stream.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from genviz.core.vae import nets


class LinearGaussian:
    """z ~ N(0, I_d), x|z ~ N(A z + b, s2 I_D). `q_scale` = 1 makes encode() the exact posterior;
    other values widen its variance (and `q_shift` moves its mean) to make a deliberately poor q."""

    def __init__(self, A: torch.Tensor, b: torch.Tensor, s2: float, q_scale: float = 1.0, q_shift: float = 0.0):
        self.A, self.b, self.s2 = A.double(), b.double(), float(s2)
        self.z_dim = A.shape[1]
        self.q_scale, self.q_shift = q_scale, q_shift

    def posterior(self, x):
        """Exact p(z|x) = N(m, C): m (batch, d), C (d, d) shared by all x."""
        d = self.z_dim
        C = torch.linalg.inv(torch.eye(d, dtype=torch.float64) + self.A.T @ self.A / self.s2)
        m = (x.double() - self.b) @ self.A @ C.T / self.s2
        return m, C

    def encode(self, x):
        m, C = self.posterior(x)  # diagonal q: exact when d = 1
        return m + self.q_shift, (torch.diagonal(C) * self.q_scale).expand_as(m)

    def log_px_given_z(self, x, z):
        mean = z @ self.A.T + self.b
        return nets.log_normal(x.double(), mean, torch.full_like(mean, self.s2))

    def log_prior(self, z):
        return nets.log_normal(z, torch.zeros_like(z), torch.ones_like(z))

    def sample_prior(self, n, generator=None):
        return torch.randn(n, self.z_dim, dtype=torch.float64, generator=generator)

    def log_marginal(self, x):
        """Exact log p(x) = log N(x; b, A Aᵀ + s2 I): (batch,)."""
        cov = self.A @ self.A.T + self.s2 * torch.eye(len(self.b), dtype=torch.float64)
        return torch.distributions.MultivariateNormal(self.b, cov).log_prob(x.double())


def _own(generator, device) -> torch.Generator:
    """The lab's noise: `generator`, or a fresh one on `device` seeded 0."""
    return generator if generator is not None else torch.Generator(device=device).manual_seed(0)


def _naive(model, x, n, generator):
    """log (1/n) Σ p(x|z_i), z_i ~ p(z): (batch,)."""
    z = model.sample_prior(n * len(x), generator).view(n, len(x), -1)
    return nets.log_mean_exp(model.log_px_given_z(x, z), 0)


def _importance(model, x, n, generator, m=None, v=None):
    """log (1/n) Σ p(x, z_i) / q(z_i|x), z_i ~ q(z|x): (batch,)."""
    if m is None:
        m, v = model.encode(x)
    z = nets.sample_gaussian(m.expand(n, *m.shape), v.expand(n, *v.shape), generator)
    return nets.log_mean_exp(model.log_px_given_z(x, z) + model.log_prior(z) - nets.log_normal(z, m, v), 0)


@torch.no_grad()
def estimator_spread(model, x, ns=(1, 10, 100, 1000), repeats: int = 10, generator=None) -> dict[str, np.ndarray]:
    """Mean and std over repeats of the naive-MC and IS estimates of log p(x), averaged over the images in x.

    Returns ns, naive_mean, naive_std, is_mean, is_std, each (len(ns),).
    """
    g = _own(generator, x.device)
    out = {k: [] for k in ("naive_mean", "naive_std", "is_mean", "is_std")}
    for n in ns:
        for name, fn in (("naive", _naive), ("is", _importance)):
            est = torch.stack([fn(model, x, n, g) for _ in range(repeats)])  # (repeats, batch)
            out[f"{name}_mean"].append(float(est.mean()))
            out[f"{name}_std"].append(float(est.std(0, unbiased=True).mean()) if repeats > 1 else 0.0)
    return {"ns": np.asarray(ns, np.float64), **{k: np.asarray(v) for k, v in out.items()}}


def gradient_variance(f, mu: torch.Tensor, sigma: torch.Tensor, n: int, repeats: int = 200,
                      generator=None) -> dict[str, float]:
    """Estimate ∇_μ E_{z~N(μ, σ²)} f(z) with n samples, `repeats` times, by REINFORCE and by reparameterization.

    f maps z (..., d) -> (...). Returns each estimator's mean gradient (d,) and total variance (trace).
    """
    g = _own(generator, mu.device)
    eps = torch.randn(repeats, n, *mu.shape, dtype=mu.dtype, generator=g, device=g.device).to(mu.device)
    with torch.no_grad():  # REINFORCE: f(z) ∇_μ log q(z) = f(z) (z - μ) / σ²
        z = mu + sigma * eps
        g_rf = (f(z).unsqueeze(-1) * (z - mu) / sigma ** 2).mean(1)
    mu_r = mu.detach().expand(repeats, 1, *mu.shape).clone().requires_grad_(True)
    (g_rp,) = torch.autograd.grad(f(mu_r + sigma * eps).mean(1).sum(), mu_r)  # one gradient per repeat
    g_rp = g_rp.squeeze(1)
    g_rf, g_rp = g_rf.reshape(repeats, -1), g_rp.reshape(repeats, -1)
    return {"reinforce_mean": g_rf.mean(0).detach().numpy(), "reinforce_var": float(g_rf.var(0).sum()),
            "reparam_mean": g_rp.mean(0).detach().numpy(), "reparam_var": float(g_rp.var(0).sum())}


def vae_gradient_variance(model, x, ns=(1, 10, 100), repeats: int = 100, generator=None) -> dict[str, np.ndarray]:
    """Lab (b) on a model: ∇_μ E_q log p(x|z) for the first image of x, q from the encoder; variances vs n."""
    x1, g = x[:1], _own(generator, x.device)
    with torch.no_grad():
        m, v = model.encode(x1)
    f = lambda z: model.log_px_given_z(x1, z.unsqueeze(-2)).squeeze(-1)  # noqa: E731  z (..., d) -> (...)
    res = [gradient_variance(f, m[0], v[0].sqrt(), n, repeats, g) for n in ns]
    return {"ns": np.asarray(ns, np.float64), "reinforce_var": np.array([r["reinforce_var"] for r in res]),
            "reparam_var": np.array([r["reparam_var"] for r in res])}


def elbo(model, x, m, v, samples: int = 64, generator=None) -> torch.Tensor:
    """Monte Carlo ELBO of q = N(m, v) for each image: (batch,)."""
    z = nets.sample_gaussian(m.expand(samples, *m.shape), v.expand(samples, *v.shape), _own(generator, m.device))
    return (model.log_px_given_z(x, z) + model.log_prior(z) - nets.log_normal(z, m, v)).mean(0)


def amortization_gap(model, x, steps: int = 300, lr: float = 5e-2, samples: int = 8, k_eval: int = 1000,
                     generator=None) -> dict[str, np.ndarray]:
    """Per image: ELBO with the encoder's q, ELBO after SVI (q's mean and log-variance optimized by Adam,
    started at the encoder's), and log p(x) (IS with k_eval samples from the SVI q, the better proposal).
    Also the SVI trace (steps,). Amortization gap = svi - amortized; approximation gap = log_px - svi."""
    g = _own(generator, x.device)
    with torch.no_grad():
        m0, v0 = model.encode(x)
        amortized = elbo(model, x, m0, v0, 256, g)
    m = m0.detach().clone().requires_grad_(True)
    logv = v0.detach().log().clone().requires_grad_(True)
    opt = torch.optim.Adam([m, logv], lr=lr)
    trace = []
    for _ in range(steps):
        loss = -elbo(model, x, m, logv.exp(), samples, g).sum()
        gm, gv = torch.autograd.grad(loss, [m, logv])  # leaves the model's own .grad untouched
        m.grad, logv.grad = gm, gv
        opt.step()
        trace.append(-float(loss.detach()) / len(x))
    with torch.no_grad():
        svi = elbo(model, x, m, logv.exp(), 256, g)
        chunks = max(k_eval // 100, 1)
        log_px = torch.logsumexp(torch.stack([_importance(model, x, 100, g, m, logv.exp()) for _ in range(chunks)]),
                                 0) - math.log(chunks)
    f = lambda t: t.detach().double().cpu().numpy()  # noqa: E731
    return {"elbo_amortized": f(amortized), "elbo_svi": f(svi), "log_px": f(log_px), "svi_trace": np.array(trace)}
