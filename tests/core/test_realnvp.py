"""RealNVP: the mathematics the foundation stands on (the flows family adds a contract for every layer)."""
import numpy as np
import pytest
import torch

from genviz.core import data, registry
from genviz.core.model import density_on_grid, integrate_density
from genviz.core.session import Session


def _randomize(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():  # the last layers start at zero (identity flow); make the test non-trivial
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.3)
    return model


@pytest.mark.parametrize("dim,seed", [(2, 0), (2, 1), (5, 2)])
def test_round_trip_and_inverse_log_det(dim, seed):
    m = _randomize(registry.build("realnvp", data_dim=dim, n_layers=6, hidden=16), seed)
    z = torch.randn(64, dim, generator=torch.Generator().manual_seed(seed))
    x, ld = m.forward_with_trace(z)
    back, ld_inv = m.inverse_with_trace(x[-1])
    assert (back[-1] - z).norm(dim=1).max() < 1e-4
    assert torch.allclose(ld + ld_inv, torch.zeros_like(ld), atol=1e-4)


def test_log_det_matches_autograd_jacobian_float64():
    m = _randomize(registry.build("realnvp", data_dim=3, n_layers=4, hidden=16), 3).double()
    for layer in m.layers:
        for z in torch.randn(5, 3, dtype=torch.float64):
            jac = torch.autograd.functional.jacobian(lambda v: layer(v[None])[0][0], z)
            expected = torch.linalg.slogdet(jac)[1]
            assert abs(float(layer(z[None])[1][0].detach()) - float(expected)) < 1e-6


def test_loss_falls_on_moons_and_density_integrates_to_one():
    ds = data.load("moons", n=6000, seed=0)
    s = Session("realnvp", ds, {"hidden": 32, "n_layers": 6}, {"steps": 300, "batch_size": 256,
                                                               "snapshot_every": 300, "lr": 3e-3})
    snaps = list(s.run())
    start, end = snaps[0].metrics["nll"], snaps[-1].metrics["nll"]
    assert end < start - 0.7, (start, end)
    box = (-4.0, 4.0, -4.0, 4.0)
    logp = density_on_grid(s.model.log_prob, box, 300)
    assert abs(integrate_density(logp, box) - 1) < 0.02


def test_samples_have_the_data_shape_and_follow_the_seed():
    m = registry.build("realnvp", data_dim=2)
    a = m.sample(7, generator=torch.Generator().manual_seed(1))
    b = m.sample(7, generator=torch.Generator().manual_seed(1))
    assert a.shape == (7, 2) and torch.equal(a, b)
    assert np.isfinite(m.log_prob(a).detach().numpy()).all()
