"""Denoising with a trained energy: start Langevin (or plain gradient ascent on f) at a corrupted point.

A small MLP energy is fitted to 2D data by denoising score matching (energy.dsm_loss), so ∇f points back
toward the data; from x̃ = x + σ_c·ε the chain x ← x + η∇f(x) + s·√(2η)·ε climbs f (lowers the energy −f)
and lands near the data manifold. Everything uses its own torch.Generator; the global stream is untouched.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from genviz.core.ebm.energy import MLPEnergy, dsm_loss
from genviz.core.ebm.langevin import langevin


def new_energy(hidden: int, depth: int, generator: torch.Generator) -> MLPEnergy:
    """An MLPEnergy on 2D inputs with PyTorch's default initialisation drawn from `generator`: built on the meta
    device first, so torch's global random stream is neither read nor advanced (as classifier.new_classifier)."""
    with torch.device("meta"):
        energy = MLPEnergy(2, hidden, depth)
    energy = energy.to_empty(device="cpu").double()
    with torch.no_grad():
        for m in energy.modules():
            if isinstance(m, nn.Linear):  # what Linear.reset_parameters does
                nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=generator)
                bound = 1 / math.sqrt(m.weight.shape[1])
                nn.init.uniform_(m.bias, -bound, bound, generator=generator)
    return energy


class DSMEnergyFit:
    """An MLPEnergy on 2D data x (n, 2) trained by DSM in chunks: call `step(k)` repeatedly (the lab animates)."""

    def __init__(self, data: np.ndarray, sigma: float = 0.1, hidden: int = 64, depth: int = 2, lr: float = 3e-3,
                 batch: int = 256, seed: int = 0):
        self.gen = torch.Generator().manual_seed(seed)
        self.energy = new_energy(hidden, depth, self.gen)
        self.data = torch.as_tensor(np.asarray(data), dtype=torch.float64)
        self.opt = torch.optim.Adam(self.energy.parameters(), lr=lr)
        self.sigma, self.batch, self.steps, self.history = sigma, batch, 0, []

    def step(self, k: int = 1) -> float:
        for _ in range(k):
            idx = torch.randint(0, len(self.data), (self.batch,), generator=self.gen)
            loss, _ = dsm_loss(self.energy, self.data[idx], self.sigma, self.gen)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            self.steps += 1
            self.history.append(float(loss.detach()))
        return self.history[-1]

    @torch.no_grad()
    def f(self, x: np.ndarray) -> np.ndarray:
        """f(x) for x (m, 2) (higher = more probable)."""
        return self.energy(torch.as_tensor(np.asarray(x), dtype=torch.float64)).numpy()


def corrupt(x: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    return x + sigma * np.random.default_rng(seed).standard_normal(x.shape)


def denoise(energy, x_noisy: np.ndarray, steps: int = 100, step_size: float = 0.002, noise_scale: float = 0.0,
            seed: int = 0) -> np.ndarray:
    """Langevin chains from x_noisy (m, 2) on f = energy; noise_scale 0 is gradient ascent. Trail (steps+1, m, 2)."""
    x = torch.as_tensor(np.asarray(x_noisy), dtype=torch.float64)
    _, trail = langevin(energy, x, steps, step_size, noise_scale, generator=torch.Generator().manual_seed(seed),
                        trail=True)
    return trail.numpy()

