"""The estimator labs against closed forms on a linear-Gaussian model, and on a tiny VAE for shapes."""
import math

import numpy as np
import pytest
import torch

from genviz.core import registry
from genviz.core.vae import labs


def linear_gaussian(s2=0.5, **q):
    g = torch.Generator().manual_seed(0)
    return labs.LinearGaussian(torch.randn(3, 1, generator=g) * 2, torch.randn(3, generator=g), s2, **q)


def test_linear_gaussian_posterior_is_exact():
    lg = linear_gaussian()
    x = torch.randn(4, 3, dtype=torch.float64)
    z = torch.linspace(-3, 3, 7, dtype=torch.float64)[:, None, None].expand(7, 4, 1)
    # Bayes: log p(z|x) = log p(x|z) + log p(z) - log p(x), for every z
    m, v = lg.encode(x)
    lhs = -0.5 * (math.log(2 * math.pi) + v.log() + (z - m) ** 2 / v).sum(-1)
    torch.testing.assert_close(lhs, lg.log_px_given_z(x, z) + lg.log_prior(z) - lg.log_marginal(x))


def test_importance_sampling_with_the_true_posterior_has_zero_variance():
    torch.manual_seed(0)
    lg = linear_gaussian()
    x = torch.randn(5, 3, dtype=torch.float64) * 2
    res = labs.estimator_spread(lg, x, ns=(1, 10, 100), repeats=8)
    np.testing.assert_allclose(res["is_std"], 0.0, atol=1e-10)
    np.testing.assert_allclose(res["is_mean"], float(lg.log_marginal(x).mean()), atol=1e-10)
    # naive MC over the prior is noisy and biased low for few samples; both shrink with n
    assert res["naive_std"][0] > 0.1 and res["naive_std"][-1] < res["naive_std"][0]
    assert res["naive_mean"][0] < res["naive_mean"][-1] <= float(lg.log_marginal(x).mean()) + 0.05


def test_importance_sampling_beats_naive_with_an_imperfect_q():
    torch.manual_seed(1)
    lg = linear_gaussian(s2=0.05, q_scale=1.5, q_shift=0.05)  # a sharp posterior, a slightly wrong q
    x = torch.randn(5, 3, dtype=torch.float64) * 2
    res = labs.estimator_spread(lg, x, ns=(10, 1000), repeats=10)
    assert np.all(res["is_std"] > 0) and np.all(res["is_std"] < res["naive_std"])
    assert abs(res["is_mean"][-1] - float(lg.log_marginal(x).mean())) < 0.02


@pytest.mark.parametrize("n", [1, 10])
def test_gradient_variance_matches_closed_forms(n):
    """f(z) = z², q = N(μ, σ²): ∇_μ E f = 2μ; reparam var 4σ²/n; REINFORCE var ((μ⁴+18μ²σ²+15σ⁴)/σ² - 4μ²)/n."""
    torch.manual_seed(0)
    mu, s = torch.tensor([0.7], dtype=torch.float64), torch.tensor([0.5], dtype=torch.float64)
    res = labs.gradient_variance(lambda z: (z ** 2).sum(-1), mu, s, n, repeats=20000)
    m, v = 0.7, 0.25
    assert res["reparam_mean"][0] == pytest.approx(2 * m, abs=0.02)
    assert res["reinforce_mean"][0] == pytest.approx(2 * m, abs=0.08)
    assert res["reparam_var"] == pytest.approx(4 * v / n, rel=0.05)
    rf = ((m ** 4 + 18 * m ** 2 * v + 15 * v ** 2) / v - 4 * m ** 2) / n
    assert res["reinforce_var"] == pytest.approx(rf, rel=0.1)
    assert res["reinforce_var"] > res["reparam_var"]


def test_svi_closes_the_amortization_gap_on_a_linear_gaussian():
    torch.manual_seed(0)
    lg = linear_gaussian(q_scale=3.0, q_shift=0.8)  # a poor "encoder"
    x = torch.randn(4, 3, dtype=torch.float64) * 2
    res = labs.amortization_gap(lg, x, steps=400, lr=5e-2)
    exact = lg.log_marginal(x).numpy()
    assert np.all(res["elbo_amortized"] < exact - 0.3)  # the gap is real ...
    # ... and SVI closes it (the Gaussian family holds the exact posterior), up to Adam's noise at the optimum
    np.testing.assert_allclose(res["elbo_svi"], exact, atol=0.05)
    assert np.all(exact - res["elbo_svi"] < 0.1 * (exact - res["elbo_amortized"]))
    np.testing.assert_allclose(res["log_px"], exact, atol=0.05)
    assert res["svi_trace"][-1] > res["svi_trace"][0]


def test_labs_run_on_a_vae():
    torch.manual_seed(0)
    model = registry.build("vae", data_shape=(1, 28, 28), hidden=16, z_dim=2)
    x = torch.bernoulli(torch.full((3, 1, 28, 28), 0.2))
    a = labs.estimator_spread(model, x, ns=(1, 10), repeats=3)
    assert a["is_mean"].shape == (2,) and np.all(np.isfinite(a["naive_mean"]))
    b = labs.vae_gradient_variance(model, x, ns=(1, 4), repeats=20)
    assert np.all(b["reinforce_var"] > b["reparam_var"])
    c = labs.amortization_gap(model, x, steps=20, k_eval=100)
    assert c["elbo_svi"].shape == (3,) and np.all(c["elbo_svi"] <= c["log_px"] + 1.0)
    assert all(p.grad is None for p in model.parameters())  # SVI touched only q's parameters
