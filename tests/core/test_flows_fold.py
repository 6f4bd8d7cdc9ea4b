"""Why û: the planar map with the raw u folds for wᵀu < −1. Roots, the first-root density's exact mass, and the
all-preimage density against samples pushed through the map."""
from __future__ import annotations

import math

import numpy as np
import pytest

from genviz.core.flows import fold
from genviz.core.model import integrate_density

BOX = (-6.0, 6.0, -6.0, 6.0)
FOLDS = [([1.5, 0.5], [-2.0, -0.4], 0.0), ([2.0, 1.0], [-1.5, 0.8], -0.3), ([0.5, 2.0], [-1.0, -1.5], 1.0)]


def test_roots_solve_the_equation_and_count_the_branches():
    c, b = -3.2, 0.4
    a1, a2 = fold.turning_points(c, b)
    band = (a2 + c * math.tanh(a2 + b), a1 + c * math.tanh(a1 + b))  # g(α₂) < g(α₁): three preimages between
    y = np.linspace(-8, 8, 4001)
    r = fold.roots(y, c, b)
    ok = np.isfinite(r)
    assert np.abs((r + c * np.tanh(r + b) - y)[ok]).max() < 1e-5
    inside = (y > band[0] + 1e-3) & (y < band[1] - 1e-3)
    assert (ok.sum(0)[inside] == 3).all() and (ok.sum(0)[(y < band[0] - 1e-3) | (y > band[1] + 1e-3)] == 1).all()
    assert fold.turning_points(-0.9, b) is None and np.isfinite(fold.roots(y, -0.9, b)).sum(0).tolist() == [1] * len(y)


@pytest.mark.parametrize("w, u, b", FOLDS)
def test_first_root_mass_closed_form_matches_monte_carlo(w, u, b):
    """Φ(α₁/‖w‖) + 1 − Φ(α_r/‖w‖) = the share of samples z that ARE the first root of their own image."""
    z = np.random.default_rng(1).standard_normal((200_000, 2))
    alpha, c = z @ np.array(w), float(np.dot(w, u))
    y = alpha + c * np.tanh(alpha + b)
    first = np.nanmin(fold.roots(y, c, b), 0)
    share = np.mean(np.abs(first - alpha) < 1e-3)
    assert fold.one_root_mass(w, u, b) == pytest.approx(share, abs=6e-3)
    a1, a2 = fold.turning_points(c, b)
    assert fold.folded_mass(w, u, b) == pytest.approx(np.mean((alpha > a1) & (alpha < a2)), abs=6e-3)


@pytest.mark.parametrize("w, u, b", FOLDS)
def test_one_root_formula_misses_mass_all_preimages_integrate_to_one(w, u, b):
    out = fold.unfixed_density(w, u, b, BOX, 200)
    assert out["branches"] == 3
    exact = fold.one_root_mass(w, u, b)
    assert exact < 0.6 and integrate_density(out["one"], BOX) == pytest.approx(exact, abs=0.012)
    assert integrate_density(out["all"], BOX) == pytest.approx(1.0, abs=0.005)


def test_without_a_fold_the_raw_u_is_an_ordinary_bijection():
    w, u, b = [1.0, 0.5], [0.4, -0.6], 0.2  # wᵀu = 0.1 > −1
    out = fold.unfixed_density(w, u, b, BOX, 150)
    assert out["branches"] == 1 and fold.one_root_mass(w, u, b) == 1.0 and fold.folded_mass(w, u, b) == 0.0
    assert integrate_density(out["one"], BOX) == pytest.approx(1.0, abs=0.003)


def test_all_preimage_density_is_the_density_of_the_pushed_samples():
    """Binned: the histogram of 400k pushed samples against the density's mass per bin (coarse 24² bins)."""
    w, u, b = FOLDS[0]
    box, res, bins = (-4.0, 4.0, -4.0, 4.0), 240, 24
    out = fold.unfixed_density(w, u, b, box, res)
    x, _ = fold.push_samples(w, u, b, n=400_000, seed=3)
    hist, _, _ = np.histogram2d(x[:, 1], x[:, 0], bins=bins, range=[box[2:], box[:2]])
    cell = (8 / (res - 1)) ** 2
    p = np.exp(out["all"]) * cell
    # grid points → bins (rows = y); points on the outer edge go to the last bin
    idx = np.minimum((np.arange(res) * bins) // res, bins - 1)
    mass = np.zeros((bins, bins))
    np.add.at(mass, (idx[:, None], idx[None, :]), p)
    assert np.abs(hist / len(x) - mass).sum() < 0.05  # total variation of the binned distributions ×2
