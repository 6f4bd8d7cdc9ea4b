"""The grid posterior, the ELBO's gap, per-point SVI and log E vs E log, against a linear-Gaussian model whose
log p(x) and posterior are known in closed form (and a tiny VAE against brute-force importance sampling)."""
import math

import numpy as np
import pytest
import torch

from genviz.core import registry
from genviz.core.vae import labs, posterior


def model_2d(q_scale=1.0, q_shift=0.0):
    """z ∈ R², x ∈ R³: a correlated posterior (so a diagonal q cannot be exact)."""
    A = torch.tensor([[1.5, 0.8], [0.4, -1.2], [0.9, 0.9]])
    return labs.LinearGaussian(A, torch.tensor([0.3, -0.2, 0.1]), 0.4, q_scale=q_scale, q_shift=q_shift)


def kl_gauss(m, v, M, C):
    """KL(N(m, diag v) ‖ N(M, C)) in closed form."""
    Ci = torch.linalg.inv(C)
    d = M - m
    return 0.5 * (torch.trace(Ci @ torch.diag(v)) + d @ Ci @ d - 2 + torch.logdet(C) - v.log().sum())


X = torch.tensor([[1.0, -0.5, 2.0]], dtype=torch.float64)


def test_grid_log_px_and_kl_match_the_closed_forms():
    lg = model_2d(q_scale=1.8, q_shift=0.4)
    r = posterior.grid_posterior(lg, X)
    assert r["log_px"] == pytest.approx(float(lg.log_marginal(X)), abs=1e-4)
    M, C = lg.posterior(X)
    m, v = lg.encode(X)
    exact_kl = float(kl_gauss(m[0], v[0], M[0], C))
    assert exact_kl > 0.2  # a poor q: the check below is not 0 ≈ 0
    assert r["kl_grid"] == pytest.approx(exact_kl, abs=1e-3)
    # the gap identity: log p(x) − ELBO = KL(q ‖ p(z|x)) ≥ 0, on the grid and by Monte Carlo
    assert r["log_px"] - r["elbo_grid"] == pytest.approx(r["kl_grid"], abs=1e-4)
    elbo = posterior.elbo_mc(lg, X, m[0], v[0], samples=20000)
    assert r["log_px"] - elbo == pytest.approx(exact_kl, abs=0.03)
    # the posterior on the grid is normalized, and is the closed-form one
    assert np.exp(r["log_post"]).sum() * (r["box"][1] - r["box"][0]) * (r["box"][3] - r["box"][2]) / 96 ** 2 \
        == pytest.approx(1.0, abs=1e-6)
    zz, _ = posterior.grid_points(r["box"], 96)
    exact = torch.distributions.MultivariateNormal(M[0], C).log_prob(zz).reshape(96, 96).numpy()
    np.testing.assert_allclose(r["log_post"], exact, atol=1e-3)


def test_score_q_reuses_the_grid_for_another_q():
    """Scoring a new q on a stored grid (SVI's live numbers) equals a fresh grid pass with that q."""
    lg = model_2d(q_scale=1.8, q_shift=0.4)
    r = posterior.grid_posterior(lg, X)
    m, v = torch.tensor([0.1, -0.2], dtype=torch.float64), torch.tensor([0.05, 0.08], dtype=torch.float64)
    fresh = posterior.grid_posterior(lg, X, (m, v), box=r["box"])
    again = posterior.score_q(r, m, v)
    for k in ("kl_grid", "elbo_grid", "q_mass"):
        assert again[k] == pytest.approx(fresh[k], abs=1e-9)
    M, C = lg.posterior(X)
    assert again["kl_grid"] == pytest.approx(float(kl_gauss(m, v, M[0], C)), abs=2e-3)


def test_grid_log_px_of_a_vae_matches_brute_force_importance_sampling():
    torch.manual_seed(0)
    vae = registry.build("vae", data_shape=(2,), z_dim=2, hidden=16).double().eval()
    x = torch.tensor([[0.5, -0.3]], dtype=torch.float64)
    r = posterior.grid_posterior(vae, x)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        brute = float(vae.log_prob(x, k=200_000, generator=g))
    assert r["log_px"] == pytest.approx(brute, abs=0.01)
    assert r["kl_grid"] >= 0 and r["log_px"] - r["elbo_grid"] == pytest.approx(r["kl_grid"], abs=1e-3)


def test_svi_raises_the_elbo_and_shrinks_the_gap_to_the_mean_field_optimum():
    lg = model_2d(q_scale=3.0, q_shift=1.0)
    m, v = lg.encode(X)
    log_px = float(lg.log_marginal(X))
    gap0 = log_px - posterior.elbo_mc(lg, X, m[0], v[0])
    svi = posterior.PointSVI(lg, X, m[0], v[0], lr=0.05, samples=32, anneal=300)
    svi.step(400)
    qm, qv = svi.q()
    gap1 = log_px - posterior.elbo_mc(lg, X, torch.from_numpy(qm), torch.from_numpy(qv))
    assert np.mean(svi.trace[-50:]) > np.mean(svi.trace[:10]) + 1.0
    # the best diagonal q of a Gaussian posterior N(M, Λ⁻¹): mean M, variances 1/Λ_ii; KL = ½(Σ log Λ_ii − log|Λ|)
    M, C = lg.posterior(X)
    prec = torch.linalg.inv(C)
    best = float(0.5 * (torch.diagonal(prec).log().sum() - torch.logdet(prec)))
    assert gap0 > 1.0 and gap1 < gap0 / 5
    assert gap1 == pytest.approx(best, abs=0.03)
    np.testing.assert_allclose(qm, M[0].numpy(), atol=0.05)
    np.testing.assert_allclose(qv, 1 / torch.diagonal(prec).numpy(), rtol=0.1)


def test_log_e_vs_e_log_bias_shrinks_with_k():
    """E log p̂_k ≤ log p(x) (Jensen), rising with k to log p(x); k = 1 is the ELBO: log p(x) − KL."""
    lg = model_2d(q_scale=2.0, q_shift=0.5)
    m, v = lg.encode(X)
    log_px = float(lg.log_marginal(X))
    g = torch.Generator().manual_seed(0)
    means = [posterior.log_phat(lg, X, k, 400, m[0], v[0], generator=g).mean() for k in (1, 5, 50, 500)]
    assert all(b > a for a, b in zip(means, means[1:]))
    assert means[-1] <= log_px + 0.005 and means[-1] == pytest.approx(log_px, abs=0.02)
    M, C = lg.posterior(X)
    assert means[0] == pytest.approx(log_px - float(kl_gauss(m[0], v[0], M[0], C)), abs=0.1)
    # p̂_k itself is unbiased: the mean of exp(log p̂) is p(x)
    est = posterior.log_phat(lg, X, 50, 400, m[0], v[0], generator=g)
    assert math.log(np.exp(est).mean()) == pytest.approx(log_px, abs=0.02)
