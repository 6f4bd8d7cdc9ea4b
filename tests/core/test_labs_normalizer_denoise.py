"""The normalizer's cost (analytic Gaussian Z, grid, uniform MC) and denoising with a DSM-trained energy."""
import math

import numpy as np
import pytest
import torch

from genviz.core.data import toy2d
from genviz.core.ebm import denoise as dn
from genviz.core.labs import memorization as mem
from genviz.core.labs import normalizer as nz


@pytest.mark.parametrize("d,rho", [(1, 0.0), (2, 0.0), (2, 0.6), (3, 0.5), (4, 0.3)])
def test_grid_log_z_converges_to_the_analytic_gaussian_normalizer(d, rho):
    exact = nz.log_z_analytic(d, 1.3, rho)
    cov = nz.covariance(d, 1.3, rho)
    assert exact == pytest.approx(0.5 * d * math.log(2 * math.pi) + 0.5 * np.linalg.slogdet(cov)[1], abs=1e-12)
    assert nz.log_z_grid(d, 24, 1.3, rho) == pytest.approx(exact, abs=1e-6)
    assert abs(nz.log_z_grid(d, 4, 1.3, rho) - exact) > 1e-3  # a coarse grid is visibly off: the sum is real


def test_grid_cost_is_n_to_the_d_and_refused_beyond_the_budget():
    assert nz.grid_cost(10, 784) == pytest.approx(784)
    assert math.isnan(nz.log_z_grid(6, 16, max_points=2_000_000))  # 16^6 ≈ 1.7·10^7 points


def test_uniform_monte_carlo_is_fine_in_low_dimension_and_collapses_in_high():
    assert nz.log_z_uniform_mc(2, 50_000, 1.0, 0.0) == pytest.approx(nz.log_z_analytic(2), abs=0.05)
    err = [abs(nz.log_z_uniform_mc(d, 5_000, 1.0, 0.5) - nz.log_z_analytic(d, 1.0, 0.5)) for d in (2, 20)]
    assert err[0] < 0.1 and err[1] > 5


def test_denoising_with_a_trained_energy_lowers_the_energy_and_returns_to_the_data():
    x = toy2d("moons", 2200, seed=0).astype(float)
    before = torch.get_rng_state()
    fit = dn.DSMEnergyFit(x[:2000], sigma=0.1, seed=0)
    fit.step(600)
    assert torch.equal(before, torch.get_rng_state())  # own generators only
    noisy = dn.corrupt(x[2000:2040], 0.3, seed=1)
    trail = dn.denoise(fit.energy, noisy, 150, 0.002)
    f0, f1 = fit.f(trail[0]), fit.f(trail[-1])
    assert np.mean(f1 > f0) > 0.95 and f1.mean() > f0.mean() + 0.5  # energy −f went down
    d0, d1 = mem.nearest_distance(trail[0], x[:2000]), mem.nearest_distance(trail[-1], x[:2000])
    assert d1.mean() < 0.5 * d0.mean()
