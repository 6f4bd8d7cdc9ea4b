import math

import numpy as np
import torch

from genviz.core import data as data_mod
from genviz.core import registry
from genviz.core.model import density_on_grid, integrate_density
from genviz.core.session import Session


def model2d(**kw):
    torch.manual_seed(0)
    m = registry.build("made-2d", data_dim=2, bins=12, hidden=16, extent=2.0, **kw)
    with torch.no_grad():
        for p in m.parameters():
            p.normal_()
    return m


@torch.no_grad()
def test_cell_probabilities_sum_to_one_and_density_integrates_to_one_over_the_plane():
    m = model2d()
    assert abs(float(m.bin_probabilities().sum()) - 1) < 1e-5
    # density at cell centres x cell area: exact for a piecewise-constant density
    c = -2.0 + (torch.arange(12) + 0.5) * m.width
    pts = torch.cartesian_prod(c, c)
    assert abs(float(m.log_prob(pts).exp().sum()) * m.width ** 2 - 1) < 1e-5
    # a Riemann sum over a box larger than the model's square: the mass outside is zero
    box = (-3.0, 3.0, -3.0, 3.0)
    logp = density_on_grid(m.log_prob, box, 481)
    assert abs(integrate_density(np.nan_to_num(logp, neginf=-1e9), box) - 1) < 0.02


@torch.no_grad()
def test_outside_the_square_has_zero_density_and_samples_stay_inside():
    m = model2d(order="yx")
    assert torch.isneginf(m.log_prob(torch.tensor([[2.5, 0.0], [0.0, -2.01]]))).all()
    s = m.sample(4000, torch.Generator().manual_seed(0))
    assert s.abs().max() <= 2.0
    # sampled cells follow the cell probabilities (row = y bin, column = x bin)
    idx = m.bin_index(s)
    freq = torch.bincount(idx[:, 1] * 12 + idx[:, 0], minlength=144).float() / 4000
    p = m.bin_probabilities().reshape(-1)
    assert ((freq - p).abs() < 5 * torch.sqrt(p * (1 - p) / 4000) + 2e-3).all()


def test_first_coordinate_conditional_ignores_the_input():
    m = model2d()
    with torch.no_grad():
        a = m._logits(torch.tensor([[0, 3]]))[:, :, 0]
        b = m._logits(torch.tensor([[11, 7]]))[:, :, 0]
    assert torch.equal(a, b)


def test_training_on_moons_lowers_nll_in_a_session():
    data = data_mod.load("moons", 2000)
    s = Session("made-2d", data, {"bins": 24, "hidden": 32}, {"steps": 150, "snapshot_every": 150, "lr": 3e-3})
    snaps = list(s.run())
    assert snaps[-1].metrics["nll"] < snaps[0].metrics["nll"] - 1.0
    assert snaps[-1].metrics["outside"] == 0.0
    assert snaps[-1].arrays["log_density"].shape == (96, 96)
    assert math.isclose(float(snaps[-1].arrays["bin_probs"].sum()), 1.0, rel_tol=1e-4)


def test_measured_jacobian_is_zero_on_and_above_the_diagonal():
    for order in ("xy", "yx"):
        jac = model2d(order=order).jacobian()
        assert jac[0, 0] == 0 and jac[0, 1] == 0 and jac[1, 1] == 0 and jac[1, 0] > 0
