"""Closed forms behind the VAE family: Gaussian KL, the IWAE bound's ordering, the GMVAE prior's mass."""
import math

import numpy as np
import pytest
import torch

from genviz.core import registry
from genviz.core.model import grid, integrate_density
from genviz.core.vae import nets


def test_analytic_kl_matches_monte_carlo():
    g = torch.Generator().manual_seed(0)
    qm, pm = torch.randn(4, generator=g, dtype=torch.float64), torch.randn(4, generator=g, dtype=torch.float64)
    qv, pv = torch.rand(4, generator=g, dtype=torch.float64) + 0.3, torch.rand(4, generator=g, dtype=torch.float64) + 0.3
    torch.manual_seed(1)
    z = nets.sample_gaussian(qm.expand(200_000, 4), qv.expand(200_000, 4))
    terms = nets.log_normal(z, qm, qv) - nets.log_normal(z, pm, pv)
    se = float(terms.std()) / math.sqrt(len(terms))
    assert abs(float(terms.mean()) - float(nets.kl_normal(qm, qv, pm, pv))) < 4 * se
    assert float(nets.kl_normal(qm, qv, qm, qv)) == pytest.approx(0.0, abs=1e-12)


def test_log_normal_mixture_is_a_uniform_mixture():
    m, v = torch.randn(3, 2, dtype=torch.float64), torch.rand(3, 2, dtype=torch.float64) + 0.5
    z = torch.randn(5, 2, dtype=torch.float64)
    by_hand = torch.log(sum(torch.exp(nets.log_normal(z, m[i], v[i])) for i in range(3)) / 3)
    torch.testing.assert_close(nets.log_normal_mixture(z, m, v), by_hand)


@pytest.fixture(scope="module")
def tiny_vae_and_x():
    torch.manual_seed(0)
    model = registry.build("vae", data_shape=(1, 8, 8), hidden=32, z_dim=3).double()  # small Bernoulli images
    x = torch.bernoulli(torch.rand(16, 1, 8, 8, dtype=torch.float64) * 0.6)
    return model, x


@torch.no_grad()
def test_iwae_bound_at_m1_is_the_elbo_in_expectation(tiny_vae_and_x):
    model, x = tiny_vae_and_x
    torch.manual_seed(1)
    xr = x.repeat(400, 1, 1, 1)  # 400 independent draws per image, in one pass
    niwae1 = -model.log_prob(xr, k=1)
    qm, qv = model.encode(xr)
    z = nets.sample_gaussian(qm, qv)
    nelbo_terms = model.kl(qm, qv, z) - model.log_px_given_z(xr, z)  # the ELBO as trained: analytic KL
    se = math.sqrt(float(niwae1.var()) / len(xr) + float(nelbo_terms.var()) / len(xr))
    assert abs(float(niwae1.mean()) - float(nelbo_terms.mean())) < 4 * se


@torch.no_grad()
def test_iwae_bound_does_not_increase_with_m(tiny_vae_and_x):
    model, x = tiny_vae_and_x
    torch.manual_seed(2)
    means = []
    for m in (1, 10, 100):
        est = -model.log_prob(x.repeat(30, 1, 1, 1), k=m).view(30, -1).mean(1)  # 30 repeats of the batch mean
        means.append((float(est.mean()), float(est.std()) / math.sqrt(30)))
    for (a, sa), (b, sb) in zip(means, means[1:]):
        assert b <= a + 3 * math.hypot(sa, sb)
    # and strictly better at m = 100 than at m = 1: the untrained encoder leaves a gap for IW to close
    assert means[-1][0] < means[0][0] - 3 * math.hypot(means[0][1], means[-1][1])


@torch.no_grad()
def test_log_prob_chunking_matches_one_pass(tiny_vae_and_x):
    model, x = tiny_vae_and_x
    torch.manual_seed(3)
    one = model.log_prob(x[:2], k=50, chunk_elems=10**9)
    torch.manual_seed(3)
    lw = model.log_weights(x[:2], 50)
    torch.testing.assert_close(one, torch.logsumexp(lw, 0) - math.log(50))
    chunked = model.log_prob(x[:2], k=50, chunk_elems=2 * 64 * 7)  # 7 samples per chunk
    assert torch.all((chunked - one).abs() < 5.0)  # same estimator, different draws


@pytest.mark.parametrize("z_dim", [1, 2])
@torch.no_grad()
def test_gmvae_log_prior_integrates_to_one(z_dim):
    torch.manual_seed(0)
    model = registry.build("gmvae", data_dim=2, z_dim=z_dim, k=5, hidden=8).double()
    model.z_pre.data = torch.randn_like(model.z_pre) * 1.5  # spread-out means, varied variances
    if z_dim == 2:
        bbox = (-12.0, 12.0, -12.0, 12.0)
        lp = model.log_prior(grid(bbox, 301).double()).reshape(301, 301).numpy()
        assert integrate_density(lp, bbox) == pytest.approx(1.0, abs=2e-3)
    else:
        zs = torch.linspace(-12, 12, 4001, dtype=torch.float64)[:, None]
        mass = float(torch.exp(model.log_prior(zs)).sum() * (zs[1] - zs[0]))
        assert mass == pytest.approx(1.0, abs=1e-4)
    # its samples follow the same density: the sample mean matches the mixture's mean
    m, _ = model.prior_params()
    s = model.sample_prior(40_000)
    np.testing.assert_allclose(s.mean(0).numpy(), m.mean(0).numpy(), atol=0.08)
