"""The KDE memorization lab's mathematics: a normalized density, test NLL exploding at small bandwidth,
train NLL falling monotonically as the bandwidth shrinks, samples collapsing onto training points."""
import math

import numpy as np
import pytest

from genviz.core.data import toy2d
from genviz.core.labs import memorization as mem

HS = np.logspace(-2.5, 0, 24)


@pytest.fixture(scope="module")
def moons():
    x = toy2d("moons", 900, seed=0).astype(float)
    return x[:200], x[200:]


@pytest.mark.parametrize("h", [0.05, 0.2, 0.6])
def test_kde_density_integrates_to_one_on_a_grid(moons, h):
    train = moons[0]
    box = (-4.0, 5.0, -4.0, 4.5)
    res = 301
    p = mem.density_grid(train, h, box, res)
    cell = (box[1] - box[0]) / (res - 1) * (box[3] - box[2]) / (res - 1)
    assert p.sum() * cell == pytest.approx(1.0, abs=2e-3)


def test_kde_log_prob_is_the_mean_of_gaussian_kernels():
    train = np.array([[0.0, 0.0], [1.0, 2.0], [-1.0, 0.5]])
    x, h = np.array([[0.3, -0.2]]), 0.7
    k = np.exp(-((x - train) ** 2).sum(1) / (2 * h * h)) / (2 * math.pi * h * h)
    assert mem.kde_log_prob(x, train, h)[0] == pytest.approx(math.log(k.mean()), rel=1e-12)


def test_test_nll_at_tiny_bandwidth_is_far_worse_than_at_the_best(moons):
    r = mem.bandwidth_sweep(*moons, HS, n_samples=200)
    best = r["test_nll"].min()
    assert r["best_h"] > HS[0] and r["test_nll"][0] > best + 20
    assert best > 1.131  # never below the entropy of moons (cross-entropy ≥ entropy)


def test_train_nll_decreases_monotonically_as_bandwidth_shrinks_and_obeys_its_bound(moons):
    train = moons[0]
    tr = np.array([mem.nll(train, train, h) for h in HS])
    assert np.all(np.diff(tr) > 0)  # larger h, larger train NLL: shrinking h only helps on the training set
    bound = np.array([mem.train_nll_limit(len(train), 2, h) for h in HS])
    assert np.all(tr <= bound + 1e-9) and tr[0] == pytest.approx(bound[0], abs=0.05)


def test_samples_nearest_train_distance_goes_to_zero_like_copies(moons):
    train = moons[0]
    d = np.array([mem.nearest_distance(mem.sample(train, h, 2000, seed=3), train).mean() for h in HS[:4]])
    assert np.all(np.diff(d) > 0)
    limit = np.array([mem.copy_distance_limit(h, 2) for h in HS[:4]])
    assert np.allclose(d, limit, rtol=0.08)  # h·√(π/2): a copy of its own training point plus h·ε
    assert mem.copy_distance_limit(1.0, 2) == pytest.approx(math.sqrt(math.pi / 2))
    assert mem.copy_distance_limit(1.0, 1) == pytest.approx(math.sqrt(2 / math.pi))
