"""Planar flows: the û invertibility fix, the numerical inverse, target energies and reverse-KL training."""
from __future__ import annotations

import math

import pytest
import torch

from genviz.core import data
from genviz.core.flows import targets
from genviz.core.flows.planar import Planar, PlanarConfig, PlanarLayer
from genviz.core.session import Session


def layer_with(w, u, b=0.3) -> PlanarLayer:
    layer = PlanarLayer(len(w))
    with torch.no_grad():
        layer.w.copy_(torch.as_tensor(w, dtype=torch.float32))
        layer.u.copy_(torch.as_tensor(u, dtype=torch.float32))
        layer.b.fill_(b)
    return layer


def along_w(layer, t, offset):
    """Points offset + t·w/‖w‖ and their images' coordinate along w."""
    w = layer.w.detach()
    z = offset + t[:, None] * w / w.norm()
    x, _ = layer(z)
    return x @ w / w.norm()


@pytest.mark.parametrize("seed", range(8))
def test_u_hat_fix_makes_any_raw_u_invertible(seed):
    """Even for raw u with wᵀu ≪ −1 (the unfixed map folds over), the image along w is strictly increasing."""
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(2, generator=g) * 2
    k = 1.5 + 4.5 * torch.rand(1, generator=g)  # wᵀu = −k ∈ [−6, −1.5]; plus any component ⟂ w
    u = -k * w / w.norm() ** 2 + torch.randn(1, generator=g) * torch.stack([-w[1], w[0]])
    assert float(w @ u) < -1  # violates the invertibility condition
    layer = layer_with(w, u)
    assert float((layer.w @ layer.u_hat()).detach()) > -1
    t = torch.linspace(-6, 6, 2001)
    with torch.no_grad():
        proj = along_w(layer, t, torch.randn(2, generator=g))
        assert (proj.diff() > 0).all()
        # near wᵀû = −1 the map is nearly flat along w (slope ≥ 1 + wᵀû, here ~1e-3), so the inverse
        # amplifies float32 rounding of x by ~1e3: check it in float64
        z = torch.randn(500, 2, generator=g, dtype=torch.float64) * 2
        x, log_det = layer.double()(z)
        back, log_det_inv = layer.inverse_numeric(x)
        assert (back - z).norm(dim=1).max() < 1e-8
    assert torch.isfinite(log_det).all()
    assert torch.allclose(log_det + log_det_inv, torch.zeros_like(x[:, 0]), atol=1e-8)


def test_without_the_fix_the_same_u_folds_the_plane():
    """Sanity check of the test above: with û replaced by the raw u the map is not monotone along w."""
    w, u = torch.tensor([1.5, 0.5]), torch.tensor([-2.0, -0.4])
    layer = layer_with(w, u, b=0.0)
    layer.u_hat = lambda: layer.u  # the unfixed map
    with torch.no_grad():
        proj = along_w(layer, torch.linspace(-3, 3, 601), torch.zeros(2))
    assert (proj.diff() < 0).any()


def test_inverse_says_there_is_no_closed_form():
    layer = PlanarLayer(2)
    with pytest.raises(NotImplementedError, match="no closed-form inverse"):
        layer.inverse(torch.zeros(3, 2))
    model = Planar(PlanarConfig(n_layers=2), (2,))
    with pytest.raises(NotImplementedError, match="no closed-form inverse"):
        model.inverse(torch.zeros(3, 2))


def test_ring_normalizer_matches_closed_form():
    """∫ exp(−½((r−2)/σ)²) r dr dθ = 2π[σ² e^{−2/σ²} + 2σ√(2π) Φ(2/σ)] for the ring, σ = 0.4."""
    s = 0.4
    phi = 0.5 * (1 + math.erf(2 / s / math.sqrt(2)))
    z = 2 * math.pi * (s ** 2 * math.exp(-2 / s ** 2) + 2 * s * math.sqrt(2 * math.pi) * phi)
    assert abs(targets.log_normalizer("ring") - math.log(z)) < 1e-4


@pytest.mark.parametrize("name", list(targets.TARGETS))
def test_targets_are_normalizable_inside_the_box(name):
    """exp(−U − log Z) integrates to 1 and almost all of it lies inside the panel's box."""
    t = torch.linspace(-4, 4, 401, dtype=torch.float64)
    yy, xx = torch.meshgrid(t, t, indexing="ij")
    u = targets.energy(name)(torch.stack([xx.reshape(-1), yy.reshape(-1)], 1))
    mass = float(torch.exp(-u - targets.log_normalizer(name)).sum() * (8 / 400) ** 2)
    assert 0.97 < mass < 1.005


def test_reverse_kl_falls_and_stays_positive():
    ds = data.load("moons", n=600)
    session = Session("planar", ds, model_config={"n_layers": 8, "target": "ring", "anneal_steps": 0},
                      train={"steps": 150, "snapshot_every": 150, "batch_size": 256, "lr": 1e-2},
                      view={"res": 16})
    snaps = list(session.run())
    first, last = snaps[0].metrics["kl"], snaps[-1].metrics["kl"]
    assert snaps[-1].status == "done"
    assert -0.05 < last < first - 0.3  # KL(q‖p) ≥ 0 up to Monte Carlo error, and it fell
    assert snaps[-1].arrays["target_log_density"].shape == (16, 16)
    assert "pullback" not in snaps[-1].arrays  # the data are not what a planar flow models
