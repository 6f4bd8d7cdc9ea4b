"""Fenchel conjugates from their definition, the optimal critic T* = f′(p/q) attaining D_f, a trained critic
approaching it, and the f-GAN "GAN" divergence's value 2·JSD − log 4 — all against quadrature / closed forms."""
from __future__ import annotations

import math

import numpy as np
import pytest

from genviz.core.gan.fgan import DIVERGENCES
from genviz.core.labs import fenchel as fe
from genviz.core.labs.change_of_variables import trapezoid

P, Q = (-1.0, 0.8), (1.0, 1.2)  # 2σ_q² > σ_p²: χ² is finite


@pytest.mark.parametrize("name", list(DIVERGENCES))
def test_numeric_sup_over_u_matches_the_closed_form_conjugate(name):
    div = DIVERGENCES[name]
    lo, hi = fe.t_range(div)
    t = np.linspace(lo, hi, 13)[1:-1]
    num, arg = fe.conjugate_numeric(div, t)
    np.testing.assert_allclose(num, fe.conjugate(div, t), atol=1e-6)
    np.testing.assert_allclose(arg, fe.maximizer(div, t), rtol=1e-3, atol=1e-3)  # the touching line's u
    # f* is the upper envelope of the lines u·t − f(u): never below any of them, touching at u*
    lines = fe.tangent_lines(div, np.linspace(*fe.f_range(div), 40), t)
    assert (lines <= fe.conjugate(div, t)[None] + 1e-9).all()
    np.testing.assert_allclose(fe.tangent_lines(div, fe.maximizer(div, t), t).diagonal(), fe.conjugate(div, t),
                               atol=1e-7)


@pytest.mark.parametrize("name", list(DIVERGENCES))
def test_optimal_critic_attains_d_f_and_others_fall_short(name):
    div = DIVERGENCES[name]
    x = fe.x_grid(P, Q)
    d = fe.divergence(div, P, Q, x)
    closed = fe.gaussian_closed_form(name, P, Q)
    if closed is not None:
        assert d == pytest.approx(closed, rel=1e-6)
    t_star = fe.optimal_critic(div, x, P, Q)
    assert fe.bound(div, t_star, x, P, Q) == pytest.approx(d, rel=1e-6, abs=1e-8)
    shrunk = fe.optimal_critic(div, x, P, (0.5, 1.2))  # the optimal critic for another Q
    assert fe.bound(div, shrunk, x, P, Q) < d - 1e-3


def jsd_by_definition(p, q) -> float:
    x = fe.x_grid(p, q, 20001)
    lp, lq = fe.log_normal(x, *p), fe.log_normal(x, *q)
    lm = np.logaddexp(lp, lq) - math.log(2)
    return float(trapezoid(0.5 * np.exp(lp) * (lp - lm) + 0.5 * np.exp(lq) * (lq - lm), x))


def test_gan_divergence_bound_at_the_optimum_is_2_jsd_minus_log_4_and_js_is_twice_jsd():
    x = fe.x_grid(P, Q)
    j = jsd_by_definition(P, Q)
    gan, js = DIVERGENCES["gan"], DIVERGENCES["js"]
    assert fe.bound(gan, fe.optimal_critic(gan, x, P, Q), x, P, Q) == pytest.approx(2 * j - math.log(4), abs=1e-6)
    assert fe.bound(js, fe.optimal_critic(js, x, P, Q), x, P, Q) == pytest.approx(2 * j, abs=1e-6)
    # the GAN critic T* = log D*, D* = p/(p+q): its bound is the minimax value E_P[log D*] + E_Q[log(1 − D*)]
    lp, lq = fe.log_normal(x, *P), fe.log_normal(x, *Q)
    d_star = np.exp(lp - np.logaddexp(lp, lq))
    value = trapezoid(np.exp(lp) * np.log(d_star) + np.exp(lq) * np.log1p(-d_star), x)
    assert value == pytest.approx(2 * j - math.log(4), abs=1e-6)


@pytest.mark.parametrize("name, steps, tol", [("js", 400, 0.01), ("gan", 400, 0.01), ("kl", 600, 0.03)])
def test_trained_critic_bound_approaches_d_f(name, steps, tol):
    div = DIVERGENCES[name]
    x = fe.x_grid(P, Q)
    d = fe.divergence(div, P, Q, x)
    fit = fe.CriticFit(div, P, Q, seed=0)
    start = fit.bound(x)
    fit.step(steps)
    end = fit.bound(x)
    assert start < d - 0.1 and d - tol < end <= d + 1e-6  # a lower bound, and close to it
    # where the mass is, the critic is close to T* = f′(p/q)
    mass = np.exp(fe.log_normal(x, *P)) + np.exp(fe.log_normal(x, *Q)) > 0.05
    err = np.abs(fit.values(x) - fe.optimal_critic(div, x, P, Q))[mass]
    assert np.median(err) < 0.15
