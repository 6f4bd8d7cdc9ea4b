"""f-GAN divergences: conjugates, activations, and the variational bound at the optimal critic."""
import math

import pytest
import torch

from genviz.core.gan.fgan import DIVERGENCES, bound

F64 = dict(dtype=torch.float64)
P, Q = (0.0, 1.0), (0.5, 1.2)  # (mean, std) of two known Gaussians; 2 sigma_q^2 > sigma_p^2 so chi^2 is finite


def _logpdf(x, m, s):
    return -0.5 * ((x - m) / s) ** 2 - math.log(s * math.sqrt(2 * math.pi))


def kl(a, b):
    (m1, s1), (m2, s2) = a, b
    return math.log(s2 / s1) + (s1 ** 2 + (m1 - m2) ** 2) / (2 * s2 ** 2) - 0.5


def pearson(a, b):
    """chi^2(P||Q) = int p^2/q - 1 for Gaussians."""
    (m1, s1), (m2, s2) = a, b
    d = 2 * s2 ** 2 - s1 ** 2
    return s2 ** 2 / (s1 * math.sqrt(d)) * math.exp((m1 - m2) ** 2 / d) - 1


def hellinger(a, b):
    (m1, s1), (m2, s2) = a, b
    bc = math.sqrt(2 * s1 * s2 / (s1 ** 2 + s2 ** 2)) * math.exp(-(m1 - m2) ** 2 / (4 * (s1 ** 2 + s2 ** 2)))
    return 2 * (1 - bc)


def quadrature(name):
    """D_f(P||Q) = int q f(p/q) on a fine grid: the reference where no closed form is used."""
    x = torch.linspace(-15, 15, 60001, **F64)
    p, q = _logpdf(x, *P).exp(), _logpdf(x, *Q).exp()
    return float(torch.trapezoid(q * DIVERGENCES[name].f(p / q), x))


def jsd():
    """The course's JSD = ½KL(P‖M) + ½KL(Q‖M), M = (P + Q)/2, by quadrature written from its definition (no f)."""
    x = torch.linspace(-15, 15, 60001, **F64)
    p, q = _logpdf(x, *P).exp(), _logpdf(x, *Q).exp()
    m = (p + q) / 2
    return float(torch.trapezoid(0.5 * p * torch.log(p / m) + 0.5 * q * torch.log(q / m), x))


CLOSED = {"kl": lambda: kl(P, Q), "reverse_kl": lambda: kl(Q, P), "pearson": lambda: pearson(P, Q),
          "hellinger": lambda: hellinger(P, Q), "js": lambda: 2 * jsd(),  # the paper's JS is twice the course's
          "gan": lambda: 2 * jsd() - math.log(4)}  # the minimax GAN's value at the optimal D


@pytest.mark.parametrize("name", ["js", "gan"])
def test_jsd_conversion_undoes_what_the_divergence_measures(name):
    div = DIVERGENCES[name]
    assert div.to_jsd(CLOSED[name]()) == pytest.approx(jsd(), rel=1e-9) and "JSD" in div.measures
    assert 0 < jsd() < math.log(2)


@pytest.mark.parametrize("name", list(DIVERGENCES))
def test_closed_forms_agree_with_quadrature(name):
    assert quadrature(name) == pytest.approx(CLOSED[name](), rel=1e-4, abs=1e-6)


@pytest.mark.parametrize("name", list(DIVERGENCES))
def test_bound_at_optimal_critic_reaches_divergence(name):
    """T* = f'(p/q) makes E_P[T] - E_Q[f*(T)] equal D_f(P||Q) (Monte Carlo on 200k samples)."""
    div, g = DIVERGENCES[name], torch.Generator().manual_seed(0)
    n = 200_000
    xp = P[0] + P[1] * torch.randn(n, generator=g, **F64)
    xq = Q[0] + Q[1] * torch.randn(n, generator=g, **F64)
    t = lambda x: div.f_prime(torch.exp(_logpdf(x, *P) - _logpdf(x, *Q)))  # noqa: E731
    est = float(bound(div, t(xp), t(xq)))
    assert est == pytest.approx(CLOSED[name](), rel=0.05, abs=0.005)


@pytest.mark.parametrize("name", list(DIVERGENCES))
def test_a_worse_critic_gives_a_lower_bound(name):
    div, g = DIVERGENCES[name], torch.Generator().manual_seed(1)
    xp = P[0] + P[1] * torch.randn(200_000, generator=g, **F64)
    xq = Q[0] + Q[1] * torch.randn(200_000, generator=g, **F64)
    r = lambda x: torch.exp(_logpdf(x, *P) - _logpdf(x, *Q))  # noqa: E731
    shrunk = lambda x: div.f_prime(1 + 0.5 * (r(x) - 1))  # critic of a ratio halfway to 1  # noqa: E731
    assert float(bound(div, shrunk(xp), shrunk(xq))) < CLOSED[name]() - 1e-3


@pytest.mark.parametrize("name", list(DIVERGENCES))
def test_conjugate_is_fenchel_dual_of_f(name):
    """f*(f'(u)) = u f'(u) - f(u) (tight Fenchel-Young), and f*(t) >= t u - f(u) for other t."""
    div = DIVERGENCES[name]
    u = torch.linspace(0.05, 5.0, 50, **F64)
    t = div.f_prime(u)
    assert torch.allclose(div.conjugate(t), u * t - div.f(u), atol=1e-9)
    for t_other in div.activation(torch.linspace(-3, 3, 13, **F64)):
        assert torch.all(div.conjugate(t_other) >= t_other * u - div.f(u) - 1e-9)


@pytest.mark.parametrize("name", list(DIVERGENCES))
def test_activation_lands_in_conjugate_domain_and_log_ratio_inverts(name):
    div = DIVERGENCES[name]
    t = div.activation(torch.linspace(-6, 6, 101, **F64))
    assert torch.isfinite(div.conjugate(t)).all()
    u = torch.linspace(0.1, 4.0, 20, **F64)
    assert torch.allclose(div.log_ratio(div.f_prime(u)), torch.log(u), atol=1e-9)
