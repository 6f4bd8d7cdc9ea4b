"""The KL lab's reverse fit reads KL(q‖p) by grid quadrature: checked against Gauss–Hermite quadrature (a
different rule, exact for polynomials of degree < 2·nodes) and against the Gaussian closed form."""
import math

import numpy as np
import pytest
import torch

from genviz.core.labs import kl


def gauss_hermite_kl(mean, cov, w, mu, cov_p, nodes: int = 120) -> float:
    """E_q[log q − log p] with q = N(mean, cov): tensor-product Gauss–Hermite in whitened coordinates."""
    t, wt = np.polynomial.hermite.hermgauss(nodes)
    t, wt = t * math.sqrt(2), wt / math.sqrt(math.pi)  # ∫ φ(t) g(t) dt ≈ Σ wt g(t)
    d = len(mean)
    if d == 2:
        t = np.stack(np.meshgrid(t, t, indexing="ij"), -1).reshape(-1, 2)
        wt = np.outer(wt, wt).ravel()
    else:
        t = t[:, None]
    L = np.linalg.cholesky(cov)
    x = np.asarray(mean) + t @ L.T
    log_q = -0.5 * (t ** 2).sum(1) - 0.5 * d * math.log(2 * math.pi) - np.log(np.diag(L)).sum()
    return float((wt * (log_q - kl.mixture_log_prob(torch.as_tensor(x), w, mu, cov_p).numpy())).sum())


@pytest.mark.parametrize("d", [1, 2])
def test_exact_reverse_kl_matches_high_accuracy_quadrature(d):
    w, mu, cov = kl.bimodal(d, 4.0, 0.5, 0.5)
    m = np.full(d, 1.7)
    c = np.eye(d) * 0.3 if d == 1 else np.array([[0.4, 0.1], [0.1, 0.2]])
    exact = kl.reverse_kl_exact(m, c, w, mu, cov)
    assert exact == pytest.approx(gauss_hermite_kl(m, c, w, mu, cov), rel=1e-6)


def test_exact_reverse_kl_of_one_gaussian_is_the_closed_form():
    m, c = np.array([0.3, -0.5]), np.array([[0.7, 0.2], [0.2, 0.5]])
    mp, cp = np.array([[1.0, 0.5]]), np.array([[[1.5, -0.3], [-0.3, 0.8]]])
    exact = kl.reverse_kl_exact(m, c, [1.0], mp, cp)
    assert exact == pytest.approx(kl.gaussian_kl(m, c, mp[0], cp[0]), abs=1e-6)


def test_the_fitted_mode_reads_about_log_2_not_the_noisy_estimate():
    """q on one of two equal well-separated modes: KL(q‖p) → log 2 (p puts half its mass there)."""
    w, mu, cov = kl.bimodal(1, 4.0, 0.5, 0.5)
    fit = kl.ReverseKLFit(w, mu, cov, init_mean=[0.8], seed=0)
    fit.step(300)
    exact = kl.reverse_kl_exact(*fit.result(), w, mu, cov)
    assert exact == pytest.approx(0.695, abs=0.003) and exact >= math.log(2) - 1e-3
    assert kl.reverse_kl_exact([2.0], [[0.25]], w, mu, cov) == pytest.approx(math.log(2), abs=1e-3)
