"""Mode coverage, the optimal discriminator D* and the KDE JSD estimate."""
import math

import numpy as np
import pytest
import torch

from genviz.core.gan import metrics

F64 = dict(dtype=torch.float64)


def _around(centres, sigma, n, rng):
    idx = np.arange(n) % len(centres)
    return centres[idx] + rng.normal(0, sigma, (n, 2))


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_samples_from_every_mode_cover_all(name):
    centres, sigma = metrics.BENCHMARKS[name]
    cov = metrics.mode_coverage(_around(centres, sigma, 2500, np.random.default_rng(0)), centres, sigma)
    assert cov["modes"] == len(centres)
    assert cov["hq"] == pytest.approx(0.9946, abs=0.01)  # P(|N(0, I_2)| <= 3) = 1 - e^-4.5


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_a_collapsed_generator_covers_one_mode(name):
    centres, sigma = metrics.BENCHMARKS[name]
    cov = metrics.mode_coverage(_around(centres[3:4], sigma, 2500, np.random.default_rng(0)), centres, sigma)
    assert cov["modes"] == 1 and cov["counts"][3] > 2400 and cov["hq"] > 0.98


def test_far_samples_are_low_quality_and_rare_modes_do_not_count():
    centres, sigma = metrics.BENCHMARKS["ring8"]
    rng = np.random.default_rng(0)
    x = np.concatenate([_around(centres[:1], 0.5, 2000, rng), _around(centres[1:2], sigma, 10, rng)])
    cov = metrics.mode_coverage(x, centres, sigma)
    assert cov["hq"] < 0.05  # mostly spread far beyond 3 sigma
    assert cov["counts"][1] == pytest.approx(10, abs=1) and cov["modes"] <= 1  # 10 of 2010 < 20/2500


def _gauss_logpdf(x, m, s):
    return -0.5 * ((x - m) / s) ** 2 - math.log(s * math.sqrt(2 * math.pi))


def test_optimal_discriminator_maximises_the_gan_value_on_two_1d_densities():
    """V(D) = E_p log D + E_q log(1 - D) is largest at D* = p/(p+q), where it equals 2 JSD - 2 ln 2."""
    x = torch.linspace(-12, 12, 40001, **F64)
    lp, lq = _gauss_logpdf(x, 0.0, 1.0), _gauss_logpdf(x, 1.5, 0.7)
    p, q = lp.exp(), lq.exp()
    dstar = metrics.optimal_discriminator(lp, lq)
    assert torch.allclose(dstar, p / (p + q), atol=1e-12)

    def value(logit):  # in terms of D's logit, so the far tails stay finite
        ls = torch.nn.functional.logsigmoid
        return float(torch.trapezoid(p * ls(logit) + q * ls(-logit), x))

    m = 0.5 * (p + q)
    jsd = float(torch.trapezoid(0.5 * p * (lp - m.log()) + 0.5 * q * (lq - m.log()), x))
    best = value(lp - lq)  # logit of D* = log p - log q
    assert best == pytest.approx(2 * jsd - 2 * math.log(2), abs=1e-6)
    for eps in (0.3, -0.3):  # perturb D*'s logit: the value must drop
        assert value(lp - lq + eps * torch.tanh(x)) < best - 1e-4
    assert value(torch.zeros_like(x)) == pytest.approx(-2 * math.log(2))


def test_kde_jsd_is_zero_for_one_distribution_and_ln2_for_disjoint_ones():
    g = torch.Generator().manual_seed(0)
    a = lambda: torch.randn(800, 2, generator=g)  # noqa: E731
    assert metrics.kde_jsd(a(), a(), a(), a()) == pytest.approx(0.0, abs=0.03)
    far = metrics.kde_jsd(a(), a() + 20, a(), a() + 20)
    assert far == pytest.approx(math.log(2), abs=1e-3)


def test_kde_log_prob_integrates_to_one_and_dstar_is_half_between_equal_sets():
    g = torch.Generator().manual_seed(0)
    c = torch.randn(200, 2, generator=g)
    xs = torch.linspace(-7, 7, 281)
    yy, xx = torch.meshgrid(xs, xs, indexing="ij")
    pts = torch.stack([xx.reshape(-1), yy.reshape(-1)], 1)
    dens = metrics.kde_log_prob(pts, c, 0.4).exp().reshape(281, 281)
    assert float(dens.sum() * (14 / 280) ** 2) == pytest.approx(1.0, abs=1e-3)
    assert torch.allclose(metrics.kde_dstar_grid(pts[:100], c, c.clone()), torch.full((100,), 0.5))
