"""Unadjusted Langevin dynamics on an unnormalized log-density f (p ∝ exp f).

One step: x ← x + η·∇f(x) + s·√(2η)·ε, ε ~ N(0, I). With noise scale s = 1 the chain samples exp(f) as
η → 0; s < 1 runs a colder chain (common for images, where exact-temperature chains mix too slowly).
"""
from __future__ import annotations

import math

import torch


def score(f, x: torch.Tensor) -> torch.Tensor:
    """∇ₓ f(x) for a batch x: (n, ...) -> (n, ...). Parameter .grad fields are left untouched."""
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        (g,) = torch.autograd.grad(f(x).sum(), x)
    return g


def langevin(f, x: torch.Tensor, n_steps: int, step_size: float, noise_scale: float = 1.0,
             grad_clamp: float = 0.0, bounds: tuple | None = None, generator: torch.Generator | None = None,
             trail: bool = False):
    """Run n_steps of Langevin from x: (n, ...). Returns (x_final, trail) with trail (n_steps+1, n, ...) or None.

    `grad_clamp` > 0 clips each gradient component (keeps early image chains from exploding);
    `bounds` = (lo, hi) clamps the state (e.g. pixel range). NaNs pass through on purpose, so that a broken
    energy shows up as a NaN loss and stops the session instead of being hidden.
    """
    x = x.detach()
    noise = noise_scale * math.sqrt(2.0 * step_size)
    states = [x] if trail else None
    for _ in range(n_steps):
        g = score(f, x)
        if grad_clamp > 0:
            g = g.clamp(-grad_clamp, grad_clamp)
        eps = torch.randn(x.shape, generator=generator, device="cpu" if generator is not None else x.device,
                          dtype=x.dtype)
        x = x + step_size * g + noise * eps.to(x.device)
        if bounds is not None:
            x = x.clamp(bounds[0], bounds[1])
        if trail:
            states.append(x)
    return x.detach(), (torch.stack(states) if trail else None)
