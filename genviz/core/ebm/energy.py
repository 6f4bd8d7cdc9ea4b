"""Energy networks f_θ(x) (higher = more probable) and the two training objectives.

Contrastive divergence: minimise f(x⁻) − f(x⁺) + α·(f(x⁺)² + f(x⁻)²), whose θ-gradient is the
maximum-likelihood gradient ∇θ log p(x⁺) when the negatives x⁻ are samples from p_θ.
Denoising score matching (Vincent 2011): make ∇ₓf(x̃) match the score of the Gaussian noising kernel,
−(x̃ − x)/σ², so exp(f) learns the data density smoothed by N(0, σ²). Neither needs the partition function.
"""
from __future__ import annotations

import torch
from torch import nn


class MLPEnergy(nn.Module):
    """x: (n, dim) -> f(x): (n,). SiLU keeps f smooth, so Langevin gradients are continuous."""

    def __init__(self, dim: int, hidden: int, depth: int):
        super().__init__()
        layers, width = [], dim
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.SiLU()]
            width = hidden
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x).squeeze(-1)


class ConvEnergy(nn.Module):
    """x: (n, 1, 28, 28) in [0, 1] -> f(x): (n,). Strided convs 28 -> 14 -> 7 -> 4, then a linear head."""

    def __init__(self, channels: int):
        super().__init__()
        c = channels
        self.net = nn.Sequential(
            nn.Conv2d(1, c, 5, stride=2, padding=2), nn.SiLU(),
            nn.Conv2d(c, 2 * c, 3, stride=2, padding=1), nn.SiLU(),
            nn.Conv2d(2 * c, 4 * c, 3, stride=2, padding=1), nn.SiLU(),
            nn.Flatten(), nn.Linear(4 * c * 16, 4 * c), nn.SiLU(), nn.Linear(4 * c, 1))

    def forward(self, x):
        return self.net(x).squeeze(-1)


def cd_loss(f_pos: torch.Tensor, f_neg: torch.Tensor, alpha: float):
    """Contrastive divergence with energy-magnitude regularization. f_pos, f_neg: (n,). Returns (loss, terms)."""
    cd = f_neg.mean() - f_pos.mean()
    reg = alpha * (f_pos.pow(2).mean() + f_neg.pow(2).mean())
    terms = {"cd": cd.detach(), "reg": reg.detach(), "e_pos": f_pos.mean().detach(),
             "e_neg": f_neg.mean().detach()}
    return cd + reg, terms


def dsm_loss(f, x: torch.Tensor, sigma, generator: torch.Generator | None = None):
    """Denoising score matching, σ²-weighted: ½σ²·E‖∇f(x̃) + (x̃ − x)/σ²‖². x: (n, dim); sigma: float or (n,).

    Returns (loss, terms). A per-example σ mixes noise levels: the optimum then matches, at each x̃, the
    score of the noise level that most likely produced it (small σ near the data, large σ far away).
    """
    eps = torch.randn(x.shape, generator=generator, device="cpu" if generator is not None else x.device,
                      dtype=x.dtype)
    sig = torch.as_tensor(sigma, dtype=x.dtype, device=x.device).reshape(-1, *([1] * (x.dim() - 1)))
    x_noisy = (x + sig * eps.to(x.device)).requires_grad_(True)
    f_noisy = f(x_noisy)
    (grad,) = torch.autograd.grad(f_noisy.sum(), x_noisy, create_graph=True)  # the loss differentiates it
    target = -(x_noisy - x) / sig ** 2
    loss = (0.5 * sig.flatten() ** 2 * (grad - target).pow(2).flatten(1).sum(1)).mean()
    with torch.no_grad():
        e_pos = f(x).mean()
    return loss, {"dsm": loss.detach(), "e_pos": e_pos, "e_noisy": f_noisy.mean().detach()}
