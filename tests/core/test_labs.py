import math

import numpy as np
import pytest
import torch

from genviz.core.labs import counts, kl, likelihood_gap, montecarlo, twosample


# -- (1) parameter counts ------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 2, 5, 9])
def test_parameter_counts_match_their_bayes_nets(n):
    assert counts.bayes_net_params(n, counts.full_chain_edges(n)) == counts.chain_rule_params(n) == 2 ** n - 1
    assert counts.bayes_net_params(n, counts.markov_chain_edges(n)) == counts.markov_chain_params(n) == 2 * n - 1
    assert counts.bayes_net_params(n, []) == counts.independent_params(n) == n
    naive_bayes = [(0, i) for i in range(1, n)]  # one class variable, n - 1 features
    assert counts.bayes_net_params(n, naive_bayes) == 1 + 2 * (n - 1)


def test_bayes_net_count_sums_two_to_the_parents():
    # 0 → 2 ← 1, 2 → 3, 0 → 3: |pa| = 0, 0, 2, 2
    assert counts.bayes_net_params(4, [(0, 2), (1, 2), (2, 3), (0, 3)]) == 1 + 1 + 4 + 4


def test_cycles_are_refused_with_the_cycle_named():
    with pytest.raises(counts.CycleError, match="1 → 2 → 3 → 1"):
        counts.bayes_net_params(4, [(0, 1), (1, 2), (2, 3), (3, 1)])
    with pytest.raises(counts.CycleError, match="self-loop"):
        counts.bayes_net_params(2, [(1, 1)])
    with pytest.raises(ValueError, match="outside"):
        counts.bayes_net_params(2, [(0, 5)])
    assert counts.find_cycle(3, [(0, 1), (0, 2), (1, 2)]) is None  # a diamond-ish DAG is not a cycle


# -- (2) KL ----------------------------------------------------------------------------------------------
def test_gaussian_kl_closed_form_and_asymmetry():
    assert kl.gaussian_kl(0, 1, 0, 4) == pytest.approx(0.5 * (1 / 4 - 1 + math.log(4)))
    assert kl.gaussian_kl(0, 4, 0, 1) == pytest.approx(0.5 * (4 - 1 - math.log(4)))
    assert kl.gaussian_kl([1, 2], np.eye(2), [1, 2], np.eye(2)) == pytest.approx(0)
    # against Monte Carlo E_q[log q - log p]
    mu0, c0, mu1, c1 = np.array([0.5, -1.0]), np.array([[1.0, 0.3], [0.3, 0.5]]), np.zeros(2), np.eye(2) * 2
    x = torch.as_tensor(np.random.default_rng(0).multivariate_normal(mu0, c0, 200000))
    lq = kl.mixture_log_prob(x, [1.0], mu0[None], c0[None])
    lp = kl.mixture_log_prob(x, [1.0], mu1[None], c1[None])
    assert float((lq - lp).mean()) == pytest.approx(kl.gaussian_kl(mu0, c0, mu1, c1), abs=0.01)


def test_forward_kl_fit_is_moment_matching():
    w, mu, cov = kl.bimodal(2, separation=4, std=0.5, weight=0.3)
    m, c = kl.forward_kl_fit(w, mu, cov)
    rng = np.random.default_rng(0)
    comp = rng.uniform(size=400000) < w[0]
    x = np.where(comp[:, None], rng.normal(mu[0], 0.5, (400000, 2)), rng.normal(mu[1], 0.5, (400000, 2)))
    assert np.allclose(m, x.mean(0), atol=0.02) and np.allclose(c, np.cov(x.T), atol=0.03)
    assert c[0, 0] == pytest.approx(0.25 + 0.3 * 0.7 * 16)  # within + between variance


def test_reverse_kl_recovers_a_gaussian_target_and_seeks_one_mode_of_two():
    fit = kl.ReverseKLFit([1.0], [[1.0, -0.5]], [[[0.5, 0.2], [0.2, 0.8]]], seed=0)
    fit.step(400)
    m, c = fit.result()
    assert kl.gaussian_kl(m, c, [1.0, -0.5], [[0.5, 0.2], [0.2, 0.8]]) < 0.01
    w, mu, cov = kl.bimodal(1, separation=4, std=0.5)
    fit = kl.ReverseKLFit(w, mu, cov, init_mean=[0.8], seed=0)
    fit.step(400)
    m, c = fit.result()
    assert m[0] == pytest.approx(2.0, abs=0.1) and c[0, 0] == pytest.approx(0.25, rel=0.15)  # one mode
    assert fit.history[-1] == pytest.approx(math.log(2), abs=0.05)  # KL(q‖p) to one of two equal modes
    assert kl.forward_kl_fit(w, mu, cov)[1][0, 0] > 16 * c[0, 0]  # forward KL covers both instead


# -- (3) Monte Carlo ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(montecarlo.INTEGRANDS))
def test_monte_carlo_is_unbiased_with_variance_over_t(name):
    t = np.array([1, 10, 100, 1000])
    r = montecarlo.estimates(name, t, repeats=1000, seed=0)
    se_of_mean = r["law"] / math.sqrt(1000)
    assert np.all(np.abs(r["mean"] - r["exact"]) < 4 * se_of_mean)
    assert np.allclose(r["std"], r["law"], rtol=0.15)
    slope = np.polyfit(np.log(t), np.log(r["std"]), 1)[0]
    assert slope == pytest.approx(-0.5, abs=0.05)


# -- (4) great likelihood, poor samples -----------------------------------------------------------------
def test_mixture_likelihood_gap_is_bounded_by_log_100_and_vanishes_per_dimension():
    r = likelihood_gap.gap_curve([1, 10, 100, 1000], n=4000)
    gap = r["gap_per_dim"] * r["d"]  # nats: E_data[log p_data] − E_data[log p_mix]
    assert np.all(gap >= 0) and np.all(gap <= math.log(100) + 1e-9)
    assert np.all(np.diff(r["gap_per_dim"]) < 0) and r["gap_per_dim"][-1] < 0.005
    # in high dimension the noise component is negligible on data: the gap is log 100 exactly
    assert gap[-1] == pytest.approx(math.log(100), abs=0.05)
    x, from_data = likelihood_gap.mixture_samples(5000, seed=0)
    assert from_data.mean() == pytest.approx(0.01, abs=0.005) and x.std() > 2.5  # samples: mostly noise


# -- (5) two-sample tests -------------------------------------------------------------------------------
def test_mmd_estimator_matches_the_gaussian_closed_form():
    h, s1, s2, shift, d = 1.0, 1.0, 0.7, 0.8, 2

    def ek(sa, sb, m):
        v = h * h + sa * sa + sb * sb
        return (h * h / v) ** (d / 2) * math.exp(-m * m / (2 * v))

    exact = ek(s1, s1, 0) + ek(s2, s2, 0) - 2 * ek(s1, s2, shift)
    rng = np.random.default_rng(0)
    x = rng.normal(0, s1, (1500, d))
    y = rng.normal(0, s2, (1500, d)) + [shift, 0]
    assert twosample.mmd2(x, y, bandwidth=h) == pytest.approx(exact, abs=0.01)


def test_permutation_p_values_uniformish_under_null_small_under_alternative():
    rng = np.random.default_rng(0)
    ps = [twosample.permutation_test(rng.normal(size=(60, 2)), rng.normal(size=(60, 2)), "mmd", 100, seed=s)
          ["p_value"] for s in range(20)]
    assert 0.3 < np.mean(ps) < 0.7 and np.mean(np.array(ps) < 0.05) <= 0.15
    x, y = rng.normal(size=(60, 2)), rng.normal(size=(60, 2)) + [1.0, 0]
    assert twosample.permutation_test(x, y, "mean", 200, seed=0)["p_value"] < 0.01
    assert twosample.permutation_test(x, y, "mmd", 200, seed=0)["p_value"] < 0.01


def test_mmd_sees_a_difference_in_spread_that_the_mean_misses():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(150, 2)), rng.normal(size=(150, 2)) * 2.0
    assert twosample.permutation_test(x, y, "mmd", 200, seed=0)["p_value"] < 0.01
    assert twosample.permutation_test(x, y, "mean", 200, seed=0)["p_value"] > 0.05
