"""Stochastic variational inference next to amortized inference, on one small 2D dataset (course: SVI vs VAE).

Both fit the same decoder p_θ(x|z) (same architecture, same initial weights) by Adam on the ELBO:
  SVI:       every x_i has its own φ_i = (μ_i, log σ_i); each step updates the φ_i, then θ, on the same ELBO.
  amortized: q_φ(z|x) = N(μ_φ(x), σ²_φ(x)) from one encoder network shared by all x (the VAE).
SVI's q can be the best Gaussian for each x; the encoder must fit all x with one function: its ELBO is lower
by the amortization gap (while both are trained, also on how fast they learn). Each model's log p(x) is
read off a grid at the end (z is 2D), so both bounds can be compared with the likelihood they bound.
Draws come from the function's own generators; torch's global stream is never touched.
"""
from __future__ import annotations

import numpy as np
import torch

from genviz.core import registry
from genviz.core.vae import nets, posterior


def _elbo_per_point(model, x, m, v, generator, samples: int = 1) -> torch.Tensor:
    """Reparameterized ELBO of q = N(m, v) for each x: (n,)."""
    eps = torch.randn(samples, *m.shape, generator=generator)
    z = m + v.sqrt() * eps
    return (model.log_px_given_z(x, z) + model.log_prior(z) - nets.log_normal(z, m, v)).mean(0)


def svi_vs_amortized(x: torch.Tensor, steps: int = 400, lr: float = 3e-3, phi_lr: float = 5e-2, inner: int = 5,
                     hidden: int = 32, seed: int = 0, eval_every: int = 10, grid_points: int | None = None,
                     cancelled=lambda: False) -> dict[str, np.ndarray] | None:
    """Train both on x (n, 2) for `steps` full-batch Adam steps (θ and the encoder at `lr`, SVI's φ_i at
    `phi_lr`: each φ_i hears from its one point only, so it takes larger steps). Each SVI step takes `inner`
    steps on the φ_i (4 samples each, θ fixed: q catches up with the moving decoder), then one step on θ. Returns eval_steps, elbo_svi and elbo_amortized
    (mean ELBO per point, 32 samples from a fixed generator, at each eval step), and at the end, on the first
    `grid_points` points (default all): log_px_svi / log_px_amortized (grid log p(x) under each decoder) and
    the final elbo_*_end (same points, 256 samples). Returns None as soon as `cancelled()` is true (checked
    each step: a closed window must not keep a thread running torch while the interpreter shuts down)."""
    x = x.float()
    amortized = registry.build("vae", data_shape=(2,), z_dim=2, hidden=hidden, seed=seed)
    svi = registry.build("vae", data_shape=(2,), z_dim=2, hidden=hidden, seed=seed)  # the same θ to start
    with torch.no_grad():  # SVI's φ_i start where the untrained encoder puts them: the same start as the VAE
        m0, v0 = amortized.encode(x)
    mu = m0.clone().requires_grad_(True)
    log_v = v0.log().clone().requires_grad_(True)
    opt_a = torch.optim.Adam(amortized.parameters(), lr=lr)
    opt_s = torch.optim.Adam(svi.dec.parameters(), lr=lr)
    opt_phi = torch.optim.Adam([mu, log_v], lr=phi_lr)
    g_train, out = torch.Generator().manual_seed(seed + 1), {"eval_steps": [], "elbo_svi": [], "elbo_amortized": []}
    for step in range(steps + 1):
        if step % eval_every == 0 or step == steps:
            with torch.no_grad():
                g = torch.Generator().manual_seed(seed + 2)  # the same noise at every evaluation: smooth curves
                out["eval_steps"].append(step)
                out["elbo_svi"].append(float(_elbo_per_point(svi, x, mu, log_v.exp(), g, 32).mean()))
                out["elbo_amortized"].append(float(_elbo_per_point(amortized, x, *amortized.encode(x), g, 32).mean()))
        if step == steps:
            break
        if cancelled():
            return None
        for _ in range(inner):
            opt_phi.zero_grad(set_to_none=True)
            (-_elbo_per_point(svi, x, mu, log_v.exp(), g_train, 4).sum()).backward()  # sum: each φ_i its own
            opt_phi.step()
        for opt, loss in ((opt_s, -_elbo_per_point(svi, x, mu, log_v.exp(), g_train).mean()),
                          (opt_a, -_elbo_per_point(amortized, x, *amortized.encode(x), g_train).mean())):
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    res = {k: np.asarray(v, np.float64) for k, v in out.items()}
    xs, g = x[:grid_points or len(x)], torch.Generator().manual_seed(seed + 3)
    with torch.no_grad():
        qs = {"svi": (mu.detach()[:grid_points], log_v.detach().exp()[:grid_points]),
              "amortized": amortized.encode(xs)}
        for name, model in (("svi", svi), ("amortized", amortized)):
            m, v = qs[name]
            res[f"log_px_{name}"] = np.array([posterior.grid_posterior(model, xs[i:i + 1], (m[i], v[i]), res=48)["log_px"]
                                              for i in range(len(xs))])
            res[f"elbo_{name}_end"] = _elbo_per_point(model, xs, m, v, g, 256).double().numpy()
    return res
