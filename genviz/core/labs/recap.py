"""The five families side by side, from the app's own measurements: one default registry model per family is
trained a few hundred steps on the same 2D data, then its sampling time, held-out NLL (exact, a bound, or
none) and parameter count are measured on the CPU. The qualitative columns (what kind of likelihood, what
latent space, what training signal) are facts about the families; the numbers are what this machine saw.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from genviz.core.train import train_steps


@dataclass(frozen=True)
class Family:
    name: str
    model: str  # registry name of its default 2D model
    likelihood: str
    latent: str
    signal: str


FAMILIES = (
    Family("autoregressive", "made-2d", "exact: Π p(xᵢ | x<ᵢ)", "none", "maximum likelihood"),
    Family("VAE", "vae", "lower bound (ELBO); IW estimate", "z ~ p(z), encoder q(z|x)", "ELBO = rec − KL"),
    Family("flow", "realnvp", "exact: change of variables", "z = f(x), invertible, dim x", "maximum likelihood"),
    Family("GAN", "gan", "none", "z ~ p(z), no encoder", "discriminator (two-sample test)"),
    Family("EBM", "ebm", "unnormalized: Z by a grid (2D only)", "none", "contrastive divergence (Langevin)"),
)


def sample_seconds(model, n: int, repeats: int = 3) -> float:
    """Best wall time of `repeats` calls of sample(n) (best-of: the least disturbed by other processes)."""
    best = float("inf")
    for r in range(repeats):
        g = torch.Generator().manual_seed(r)
        t = time.perf_counter()
        with torch.no_grad():
            model.sample(n, generator=g)
        best = min(best, time.perf_counter() - t)
    return best


@torch.no_grad()
def held_out(family: Family, model, data, n: int = 2000) -> dict:
    """{'nll': exact or grid-normalized NLL, or the IW estimate for the VAE; 'bound': the VAE's NELBO} in nats."""
    x = data.test[:n].to(model.dtype)
    if family.model == "gan":
        return {"nll": None, "bound": None}
    if family.model == "vae":
        g = torch.Generator().manual_seed(0)
        return {"nll": float(model.niwae(x, 100, generator=g)), "bound": float(model.niwae(x, 1, generator=g))}
    if hasattr(model, "ensure_box"):
        model.ensure_box(data)  # the EBM's normalization box, from the training data
    return {"nll": float(-model.log_prob(x).mean()), "bound": None}


def measure(family: Family, data, steps: int, n_samples: int = 1000, seed: int = 0, callback=None) -> dict:
    """One row of the recap: training time, sampling time, held-out NLL/bound, parameter count."""
    t = time.perf_counter()
    model = train_steps(family.model, data, steps, seed, callback)
    train_s = time.perf_counter() - t
    secs = sample_seconds(model, n_samples)
    return {"family": family.name, "model": family.model, "steps": steps, "train_s": train_s,
            "sample_s": secs, "samples_per_s": n_samples / secs, "n_samples": n_samples,
            "params": sum(p.numel() for p in model.parameters()), **held_out(family, model, data)}
