"""The planar layer's log-det when wᵀu ≪ −1 in float32: −1 + softplus(wᵀu) rounds to −1 below wᵀu ≈ −17, so a
naive 1 + wᵀû·(1 − h²) is 0 at α + b = 0 (log 0). The layer must stay finite and match float64 / autograd."""
from __future__ import annotations

import math

import pytest
import torch

from genviz.core.flows.planar import PlanarLayer

W = (1.5, 0.5)
T = (0.0, 1e-3, -0.05, 0.3, -1.2, 4.0)  # α + b at the test points: 0 exactly (the worst case) and around it


def layer_with(wu: float, dtype=torch.float32) -> PlanarLayer:
    """w = (1.5, 0.5), u with wᵀu = `wu` plus a component ⟂ w, b = −2 so that α + b = 0 at z = (1, 1)."""
    layer = PlanarLayer(2).to(dtype)
    w = torch.tensor(W, dtype=dtype)
    with torch.no_grad():
        layer.w.copy_(w)
        layer.u.copy_(wu * w / (w @ w) + 0.7 * torch.tensor([-0.5, 1.5], dtype=dtype))
        layer.b.fill_(-2.0)
    return layer


def points(dtype) -> torch.Tensor:
    w = torch.tensor(W, dtype=torch.float64)
    return (torch.ones(2, dtype=torch.float64) + torch.tensor(T, dtype=torch.float64)[:, None] * w / (w @ w)).to(dtype)


def exact_log_det(wu: float) -> torch.Tensor:
    """log(1 + wᵀû(1 − h²)) in float64, from s = softplus(wᵀu) = log1p(e^{wᵀu}) and h = tanh(α + b)."""
    s, h = math.log1p(math.exp(wu)), torch.tanh(torch.tensor(T, dtype=torch.float64))
    return torch.log(s + (1 - s) * h ** 2)


def test_the_naive_float32_formula_really_fails():
    """What the fix is for: −1 + softplus(−20) is exactly −1 in float32, and wᵀû formed from the rounded û is
    off by ~10⁻⁶, so the old log|1 + wᵀû(1 − h²)| at α + b = 0 is −inf or many nats from the true −20."""
    layer = layer_with(-20.0)
    assert float(torch.nn.functional.softplus(torch.tensor(-20.0)) - 1) == -1.0
    with torch.no_grad():
        naive = float(torch.log((1 + layer.u_hat() @ layer.w).abs()))
    assert not abs(naive - math.log(math.log1p(math.exp(-20.0)))) < 3


@pytest.mark.parametrize("wu", [-20.0, -50.0])
def test_float32_log_det_is_finite_and_matches_float64_at_the_fold(wu):
    layer = layer_with(wu)
    x, log_det = layer(points(torch.float32))
    assert torch.isfinite(log_det).all() and torch.isfinite(x).all()
    # at α + b = 0 the determinant is s = softplus(wᵀu) ≈ e^{wᵀu}: log-det ≈ wᵀu, not −inf
    assert float(log_det[0].detach()) == pytest.approx(math.log(math.log1p(math.exp(wu))), abs=1e-3)
    torch.testing.assert_close(log_det.double(), exact_log_det(wu), atol=2e-3, rtol=1e-4)
    log_det.sum().backward()  # and the gradient a training step would take is finite
    assert all(torch.isfinite(p.grad).all() for p in layer.parameters())


def test_float32_log_det_matches_autograd_jacobian_in_float64():
    """wᵀu = −20: float64 still resolves 1 + wᵀû = 2·10⁻⁹, so log|det ∂x/∂z| from autograd is the reference."""
    layer32, layer64 = layer_with(-20.0), layer_with(-20.0, dtype=torch.float64)
    _, log_det = layer32(points(torch.float32))
    for i, zi in enumerate(points(torch.float64)):
        jac = torch.autograd.functional.jacobian(lambda v: layer64(v[None])[0][0], zi)
        ref = float(torch.log(torch.linalg.det(jac).abs()))
        assert math.isfinite(ref) and float(log_det[i].detach()) == pytest.approx(ref, abs=2e-3 * max(1.0, abs(ref)))


def test_numeric_inverse_survives_the_float32_edge():
    """At wᵀu = −50 the inverse is finite at the fold and round-trips away from it (at the fold the map is
    flat to the cube, α − tanh α ≈ α³/3, so no float recovers α there to better than ~1e-5)."""
    layer = layer_with(-50.0).double()
    z = points(torch.float64)
    x, log_det = layer(z)
    back, log_det_inv = layer.inverse_numeric(x)
    assert torch.isfinite(back).all() and torch.isfinite(log_det_inv).all()
    away = torch.tensor(T).abs() > 0.1
    torch.testing.assert_close(back[away], z[away], atol=1e-8, rtol=0)
    torch.testing.assert_close((log_det + log_det_inv)[away], torch.zeros(int(away.sum()), dtype=torch.float64),
                               atol=1e-8, rtol=0)


@pytest.mark.parametrize("wu", [-20.0, -50.0])
def test_single_layer_lab_density_stays_finite_at_the_float32_edge(wu):
    """The lab's fast inverse (table + Newton) used to divide by the ~0 slope at α + b = 0: NaN everywhere."""
    from genviz.core.flows import lab

    w = torch.tensor(W, dtype=torch.float64)
    out = lab.planar_density(W, (wu * w / (w @ w)).tolist(), 0.0, (-4.0, 4.0, -4.0, 4.0), 60)
    assert torch.isfinite(torch.as_tensor(out["log_density"])).all()
