"""Unnormalized 2D target energies U(z) (p(z) ∝ exp(−U(z))) for reverse-KL training of planar flows.

`two_moons` and the three `wave*` energies are U1–U4 of Rezende & Mohamed (2015, table 1). U2–U4 are
constant along z1 and so have infinite mass on R²; a soft wall beyond |z1| = 3.5 keeps them normalizable
(their shape inside the usual [-4, 4]² window is unchanged), so log Z and the KL are finite.
"""
from __future__ import annotations

import math
from functools import lru_cache

import torch
from torch.nn import functional as F

BOX = (-4.0, 4.0, -4.0, 4.0)  # where the targets live (the panel's view box for planar flows)


def _w1(z1):
    return torch.sin(2 * math.pi * z1 / 4)


def _wall(z1):
    """0 inside |z1| ≤ 3.5, then a steep quadratic: confines the wave energies to the window."""
    return 0.5 * (F.relu(z1.abs() - 3.5) / 0.1) ** 2


def _neg_logsumexp(a, b):
    return -torch.logsumexp(torch.stack([a, b]), 0)


def two_moons(z):
    """U1: a ring of radius 2 split into two arcs by a bimodal factor on z1."""
    z1, r = z[:, 0], z.norm(dim=1)
    return 0.5 * ((r - 2) / 0.4) ** 2 + _neg_logsumexp(-0.5 * ((z1 - 2) / 0.6) ** 2,
                                                       -0.5 * ((z1 + 2) / 0.6) ** 2)


def ring(z):
    """A full ring of radius 2 and width 0.4."""
    return 0.5 * ((z.norm(dim=1) - 2) / 0.4) ** 2


def wave(z):
    """U2: a sine wave band."""
    z1, z2 = z[:, 0], z[:, 1]
    return 0.5 * ((z2 - _w1(z1)) / 0.4) ** 2 + _wall(z1)


def wave_split(z):
    """U3: the sine band splitting into two around z1 = 1."""
    z1, z2 = z[:, 0], z[:, 1]
    w2 = 3 * torch.exp(-0.5 * ((z1 - 1) / 0.6) ** 2)
    return _neg_logsumexp(-0.5 * ((z2 - _w1(z1)) / 0.35) ** 2,
                          -0.5 * ((z2 - _w1(z1) + w2) / 0.35) ** 2) + _wall(z1)


def wave_sigmoid(z):
    """U4: two sine bands joined by a sigmoid step."""
    z1, z2 = z[:, 0], z[:, 1]
    w3 = 3 * torch.sigmoid((z1 - 1) / 0.3)
    return _neg_logsumexp(-0.5 * ((z2 - _w1(z1)) / 0.4) ** 2,
                          -0.5 * ((z2 - _w1(z1) + w3) / 0.35) ** 2) + _wall(z1)


TARGETS = {"two_moons": two_moons, "ring": ring, "wave": wave, "wave_split": wave_split,
           "wave_sigmoid": wave_sigmoid}


def energy(name: str):
    """The energy function U: (n, 2) -> (n,)."""
    return TARGETS[name]


@lru_cache(maxsize=None)
def log_normalizer(name: str, res: int = 1201, half: float = 6.0) -> float:
    """log Z = log ∫ exp(−U) by a float64 Riemann sum on a res² grid over [−half, half]² (all mass is inside)."""
    t = torch.linspace(-half, half, res, dtype=torch.float64)
    yy, xx = torch.meshgrid(t, t, indexing="ij")
    u = TARGETS[name](torch.stack([xx.reshape(-1), yy.reshape(-1)], 1))
    cell = (2 * half / (res - 1)) ** 2
    return float(torch.logsumexp(-u, 0) + math.log(cell))
