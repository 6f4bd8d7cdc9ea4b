"""Langevin dynamics and the replay buffer: the sampler's stationary law and the buffer's bookkeeping."""
import math

import torch

from genviz.core.ebm.buffer import ReplayBuffer
from genviz.core.ebm.langevin import langevin, score

MU = torch.tensor([1.0, -2.0])
COV = torch.tensor([[0.5, 0.3], [0.3, 1.0]])
PREC = torch.linalg.inv(COV)


def gaussian_f(x):
    """log N(x; MU, COV) up to a constant: a quadratic energy with known samples."""
    d = x - MU
    return -0.5 * ((d @ PREC) * d).sum(1)


def test_score_is_the_analytic_gradient():
    x = torch.randn(5, 2)
    assert torch.allclose(score(gaussian_f, x), -(x - MU) @ PREC, atol=1e-5)


def test_langevin_samples_the_gaussian_of_a_quadratic_energy():
    g = torch.Generator().manual_seed(0)
    eta = 0.02
    x, _ = langevin(gaussian_f, torch.zeros(3000, 2), n_steps=500, step_size=eta, generator=g)
    mean, cov = x.mean(0), torch.cov(x.T)
    assert torch.allclose(mean, MU, atol=0.06)
    # the unadjusted chain's exact stationary covariance is (P - ηP²/2)⁻¹, a few % above COV at this η;
    # the sampling error of a variance from 3000 draws is ~3 %
    ula = torch.linalg.inv(PREC - eta * PREC @ PREC / 2)
    assert torch.allclose(cov, ula, atol=0.05, rtol=0.05), (cov, ula)
    assert torch.allclose(cov, COV, atol=0.08, rtol=0.08), cov


def test_noise_scale_zero_is_gradient_ascent_to_the_mode():
    x, _ = langevin(gaussian_f, torch.randn(50, 2), n_steps=2000, step_size=0.05, noise_scale=0.0)
    assert torch.allclose(x, MU.expand(50, 2), atol=1e-3)


def test_trail_holds_every_state_and_bounds_clamp():
    x, trail = langevin(gaussian_f, torch.zeros(3, 2), n_steps=7, step_size=0.1, bounds=(-0.5, 0.5), trail=True)
    assert trail.shape == (8, 3, 2)
    assert torch.equal(trail[-1], x) and torch.equal(trail[0], torch.zeros(3, 2))
    assert x.abs().max() <= 0.5


def test_langevin_propagates_nan_instead_of_hiding_it():
    x, _ = langevin(lambda z: gaussian_f(z) * math.nan, torch.zeros(4, 2), n_steps=2, step_size=0.1)
    assert torch.isnan(x).all()


def _zeros_init(n, g):
    return torch.zeros(n, 2)


def test_buffer_keeps_its_size_and_writes_back():
    buf = ReplayBuffer(100, lambda n, g: torch.rand(n, 2, generator=g) + 1.0, reinit_prob=0.0)
    for _ in range(20):
        x, idx = buf.sample(64)
        buf.push(torch.full_like(x, -1.0), idx)
        assert len(buf) == 100 and buf.states.shape == (100, 2)
    written = (buf.states == -1.0).all(1)
    assert written.sum() > 90  # 1280 draws with replacement touch nearly all 100 slots
    assert (buf.states[~written] >= 1.0).all()  # the rest still hold their initial states


def test_buffer_reinitializes_at_the_given_rate():
    buf = ReplayBuffer(500, lambda n, g: torch.ones(n, 2), reinit_prob=0.2)
    buf.states.zero_()  # every stored state is 0, every fresh start is 1
    fresh = 0
    for _ in range(50):
        x, _ = buf.sample(200)
        fresh += int((x == 1).all(1).sum())
        assert buf.last_reinit == int((x == 1).all(1).sum())
    rate = fresh / (50 * 200)
    assert abs(rate - 0.2) < 0.02  # binomial std of the rate is 0.003
