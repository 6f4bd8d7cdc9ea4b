"""Change of variables: the monotone spline's density integrates to 1, matches pushed samples and the CDF
identity F_x(f(z)) = F_z(z); the 2×2 map's image has area |det A| and its samples covariance AAᵀ."""
from __future__ import annotations

import numpy as np
import pytest

from genviz.core.labs import change_of_variables as cov

ZK = np.linspace(-3.0, 3.0, 7)


def random_maps(n=5):
    g = np.random.default_rng(7)
    yield cov.MonotoneSpline(ZK, ZK + 2.5 * np.tanh(2 * ZK))  # a steep middle: a bimodal p_x
    for _ in range(n):
        yield cov.MonotoneSpline(ZK, np.cumsum(g.uniform(0.1, 2.5, len(ZK))) - 5)


@pytest.mark.parametrize("f", list(random_maps()))
def test_spline_is_increasing_and_its_inverse_and_slope_are_right(f):
    z = np.linspace(-6, 6, 4001)
    x = f(z)
    assert (np.diff(x) > 0).all() and (f.slope(z) > 0).all()
    np.testing.assert_allclose(f.inverse(x), z, atol=1e-10)
    fd = (f(z + 1e-6) - f(z - 1e-6)) / 2e-6
    np.testing.assert_allclose(f.slope(z), fd, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(f(ZK), f.xk)  # it interpolates the knots


@pytest.mark.parametrize("f", list(random_maps()))
def test_pushed_density_integrates_to_one_and_satisfies_the_cdf_identity(f):
    x = np.linspace(f(-9.0), f(9.0), 40001)
    p = f.pushed_density(x)
    assert cov.trapezoid(p, x) == pytest.approx(1.0, abs=1e-5)
    # F_x(x) by integrating p_x numerically equals F_z(f⁻¹(x)) = Φ(f⁻¹(x)) — what the Jacobian is for
    np.testing.assert_allclose(cov.cumulative(p, x)[::400], cov.normal_cdf(f.inverse(x[::400])), atol=1e-5)


def test_pushed_density_matches_the_histogram_of_pushed_samples():
    f = next(random_maps())
    xs = cov.push_samples(f, 60_000, seed=1)
    edges = np.linspace(-5, 5, 51)
    hist = cov.histogram_density(xs, edges)
    mids = (edges[1:] + edges[:-1]) / 2
    fine = np.linspace(-5, 5, 5001)
    per_bin = np.array([cov.trapezoid(f.pushed_density(fine[i * 100:(i + 1) * 100 + 1]),
                                      fine[i * 100:(i + 1) * 100 + 1]) for i in range(50)]) / np.diff(edges)
    assert np.abs(hist - per_bin).max() < 0.02 and np.abs(hist - per_bin).sum() * 0.2 < 0.03
    # and a Jacobian-free "density" p_z(f⁻¹(x)) does not match: the factor |df⁻¹/dx| is what makes it work
    assert np.abs(hist - cov.normal_pdf(f.inverse(mids))).sum() * 0.2 > 0.2
    # Kolmogorov–Smirnov: the samples' empirical CDF against F_x = Φ∘f⁻¹
    srt = np.sort(xs)
    ks = np.abs(np.arange(1, len(srt) + 1) / len(srt) - cov.normal_cdf(f.inverse(srt))).max()
    assert ks < 1.63 / np.sqrt(len(srt))  # the 1% critical value


def test_dragging_a_knot_keeps_the_map_monotone():
    xk = ZK.copy()
    xk[3] = 5.0  # dragged far above its right neighbour
    fixed = cov.monotone(xk, moved=3)
    assert fixed[3] == pytest.approx(xk[4] - cov.GAP) and (np.diff(fixed) > 0).all()
    assert (np.diff(cov.monotone([0, -1, 2, 1.0])) >= cov.GAP - 1e-12).all()
    with pytest.raises(ValueError):
        cov.MonotoneSpline(ZK, xk)


@pytest.mark.parametrize("seed", range(5))
def test_unit_square_image_has_area_det_a(seed):
    a = np.random.default_rng(seed).normal(size=(2, 2))
    assert abs(cov.polygon_area(cov.square_image(a))) == pytest.approx(abs(np.linalg.det(a)), rel=1e-12)
    assert np.sign(cov.polygon_area(cov.square_image(a))) == np.sign(np.linalg.det(a))  # orientation too


def test_linear_map_gaussian_has_covariance_a_at_and_the_right_density():
    a = np.array([[1.5, -0.8], [0.4, 0.6]])
    _, x = cov.linear_samples(a, 200_000, seed=2)
    np.testing.assert_allclose(np.cov(x.T), a @ a.T, atol=0.03)
    ell = cov.covariance_ellipse(a @ a.T, k=2.0)
    np.testing.assert_allclose(np.einsum("ni,ij,nj->n", ell, np.linalg.inv(a @ a.T), ell), 4.0, rtol=1e-9)
    t = np.linspace(-8, 8, 401)
    xx = np.stack(np.meshgrid(t, t), -1).reshape(-1, 2)
    mass = np.exp(cov.linear_log_density(xx, a)).sum() * (t[1] - t[0]) ** 2
    assert mass == pytest.approx(1.0, abs=1e-3)
    # and it is the N(0, AAᵀ) density
    s = a @ a.T
    ref = -0.5 * np.einsum("ni,ij,nj->n", xx, np.linalg.inv(s), xx) - np.log(2 * np.pi) - 0.5 * np.log(np.linalg.det(s))
    np.testing.assert_allclose(cov.linear_log_density(xx, a), ref, atol=1e-9)
