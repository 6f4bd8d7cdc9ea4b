"""The single-layer labs behind the flows panel: closed forms, normalization, and the drawn warp."""
from __future__ import annotations

import math

import numpy as np
import torch

from genviz.core.flows import lab
from genviz.core.flows.viz import base_grid_lines
from genviz.core.model import grid, integrate_density

BOX = (-6.0, 6.0, -6.0, 6.0)


def test_coupling_with_constant_scale_and_shift_is_a_gaussian():
    """s = s0, t = t0: x₂ ~ N(t0, e^{2 s0}) and x₁ ~ N(0, 1), independent."""
    s0, t0 = 0.4, -0.7
    out = lab.coupling_density(s0, 0.0, t0, 0.0, BOX, 50)
    x = grid(BOX, 50).double()
    sd = math.exp(s0)
    expected = -0.5 * x[:, 0] ** 2 - 0.5 * ((x[:, 1] - t0) / sd) ** 2 - math.log(2 * math.pi * sd)
    expected = expected.reshape(50, 50)
    np.testing.assert_allclose(out["log_density"], expected.numpy(), atol=1e-4)


def test_lab_densities_integrate_to_one():
    for out in (lab.coupling_density(0.3, 0.4, 0.5, 0.4, BOX, 200),
                lab.planar_density([2.0, 1.0], [3.0, -1.5], 0.5, BOX, 200),  # wᵀu = 4.5
                # wᵀu = −2.5 violates wᵀu ≥ −1 (û fixes it); far more negative values squeeze the mass into
                # a sheet thinner than a grid cell, which no 200² Riemann sum resolves
                lab.planar_density([-2.0, 1.0], [1.0, -0.5], -0.3, BOX, 200)):
        assert abs(integrate_density(out["log_density"], BOX) - 1) < 0.02


def test_lab_lines_are_the_layer_applied_to_base_lines():
    out = lab.planar_density([1.0, 2.0], [0.5, 0.5], 0.2, BOX, 20)
    layer = lab.planar_layer([1.0, 2.0], [0.5, 0.5], 0.2)
    lines = base_grid_lines()
    expected = layer(lines.reshape(-1, 2))[0].reshape(lines.shape)
    np.testing.assert_allclose(out["lines"], expected.numpy(), atol=1e-6)
    assert np.allclose(out["u_hat"], layer.u_hat().numpy())


def test_lines_to_path_separates_lines_with_nan():
    x, y = lab.lines_to_path(np.zeros((3, 4, 2), np.float32))
    assert len(x) == 15 and np.isnan(x[4::5]).all() and np.isnan(y[4::5]).all() and not np.isnan(x[:4]).any()


def test_planar_lab_matches_the_precise_numerical_inverse():
    """The lab's fast path (1-D table interpolation, float32) agrees with the float64 Newton inverse."""
    w, u, b = [1.5, -0.5], [-2.0, 1.0], 0.3
    layer = lab.planar_layer(w, u, b)
    x = grid(BOX, 60)
    z, ld = layer.inverse_numeric(x)
    expected = (-0.5 * (z.double() ** 2).sum(1) - math.log(2 * math.pi) + ld).reshape(60, 60)
    got = lab.planar_density(w, u, b, BOX, 60)["log_density"]
    np.testing.assert_allclose(got, expected.numpy(), atol=1e-3)
    y = torch.linspace(-5, 5, 1001)
    a = lab.planar_alpha(y, -0.9, 0.2)
    assert (a + -0.9 * torch.tanh(a + 0.2) - y).abs().max() < 1e-4
