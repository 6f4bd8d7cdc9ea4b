"""The EBM models: CD gradient direction, the DSM optimum, NaN handling and short Sessions of each model."""
import math

import numpy as np
import pytest
import torch

from genviz.core import data as data_mod
from genviz.core import registry
from genviz.core.data import Dataset
from genviz.core.ebm.energy import cd_loss, dsm_loss
from genviz.core.session import Session


@pytest.fixture(scope="module")
def gauss8():
    return data_mod.load("8gaussians", n=3000)


SMALL = {"hidden": 32, "depth": 2, "grid_res": 64, "buffer_size": 512}


def test_cd_step_raises_data_energy_relative_to_negatives(gauss8):
    torch.manual_seed(0)
    model = registry.build("ebm", data_dim=2, **SMALL)
    model.fit_box(gauss8.train)
    x_pos, x_neg = gauss8.train[:256], model.negatives(256)
    def gap():
        with torch.no_grad():
            return float(model(x_pos).mean() - model(x_neg).mean())

    before = gap()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    loss, terms = cd_loss(model(x_pos), model(x_neg), alpha=0.0)
    loss.backward()
    opt.step()
    assert gap() > before + 1e-4
    assert math.isclose(float(terms["cd"]), -before, rel_tol=1e-4)


def test_dsm_optimum_is_the_noise_smoothed_gaussian():
    """Data N(0, s²): DSM with noise σ is minimised by the score of N(0, s² + σ²)."""
    s, sigma = 0.5, 0.3
    log_v = torch.zeros(1, requires_grad=True)  # f(x) = -x²/(2v): a one-parameter energy
    f = lambda x: -0.5 * (x ** 2).sum(1) / log_v.exp()  # noqa: E731
    opt = torch.optim.Adam([log_v], lr=0.05)
    g = torch.Generator().manual_seed(0)
    for _ in range(300):
        x = s * torch.randn(2048, 1, generator=g)
        loss, _ = dsm_loss(f, x, sigma, g)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert abs(float(log_v.detach().exp()) - (s ** 2 + sigma ** 2)) < 0.02


def test_dsm_per_example_sigma_matches_the_scalar_form():
    f = lambda x: -(x ** 2).sum(1) + x[:, 0]  # noqa: E731
    x = torch.randn(64, 2)
    a, _ = dsm_loss(f, x, 0.3, torch.Generator().manual_seed(1))
    b, _ = dsm_loss(f, x, torch.full((64,), 0.3), torch.Generator().manual_seed(1))
    c, _ = dsm_loss(f, x, torch.tensor([0.3] * 32 + [1.0] * 32), torch.Generator().manual_seed(1))
    assert torch.allclose(a, b) and not torch.allclose(a, c)


def test_nan_energy_stops_the_session_with_a_message(gauss8):
    s = Session("ebm", gauss8, SMALL, {"steps": 20, "snapshot_every": 2, "batch_size": 64})
    snaps = []
    for snap in s.run():
        snaps.append(snap)
        if snap.step == 4 and snap.status == "running":
            with torch.no_grad():  # poison the energy: every f(x) is NaN from now on
                s.model.energy.net[-1].bias.fill_(math.nan)
    last = snaps[-1]
    assert last.status == "diverged" and "NaN" in last.message and "restored to step 4" in last.message
    assert "e_pos" in last.message  # the energy terms themselves carried the NaN, not just the loss
    assert s.step == 4 and all(torch.isfinite(p).all() for p in s.model.parameters())


@pytest.mark.parametrize("objective", ["cd", "dsm"])
def test_session_improves_2d_nll(gauss8, objective):
    torch.manual_seed(0)
    cfg = {**SMALL, "objective": objective, "step_size": 0.01, "dsm_sigma": 0.1}
    s = Session("ebm", gauss8, cfg, {"steps": 120, "snapshot_every": 40, "batch_size": 128, "lr": 3e-3})
    snaps = list(s.run())
    assert snaps[-1].status == "done"
    assert snaps[-1].metrics["nll"] < snaps[0].metrics["nll"] - 0.5
    if objective == "cd":  # Langevin negatives push down f wherever the model puts spurious mass
        assert snaps[-1].metrics["edge_mass"] < 1e-3
    a = snaps[-1].arrays  # the last snapshot always carries fresh arrays
    assert a["energy"].shape == (96, 96) and a["log_density"].shape == (96, 96)
    assert a["trails"].shape == (6, 101, 2) and a["negatives"].shape[1] == 2
    assert a["anomaly_heldout"].sum() == len(gauss8.test)
    key = "cd" if objective == "cd" else "dsm"
    assert {key, "e_pos"} <= set(snaps[1].losses)
    assert all(isinstance(v, (np.ndarray, float)) for snap in snaps for v in snap.arrays.values())


def test_clicked_chain_starts_slide_downhill(gauss8):
    s = Session("ebm", gauss8, {**SMALL, "step_size": 0.01}, {"steps": 60, "snapshot_every": 60, "batch_size": 128})
    s.send("view", {"chain_starts": [[-3.5, -3.5], [3.5, 3.5]], "n_chains": 0})  # corners: far from data
    last = list(s.run())[-1]
    trails = last.arrays["trails"]
    assert trails.shape == (2, 101, 2) and np.allclose(trails[:, 0], [[-3.5, -3.5], [3.5, 3.5]])
    f = lambda p: -s.model(torch.as_tensor(p)).detach().numpy()  # noqa: E731  energy −f
    assert (f(trails[:, -10:].mean(1)) < f(trails[:, 0])).all()


def test_log_prob_integrates_to_one_and_follows_parameters(gauss8):
    model = registry.build("ebm", data_dim=2, **{**SMALL, "grid_res": 128})
    model.fit_box(gauss8.train)
    from genviz.core.model import density_on_grid, integrate_density

    with torch.no_grad():
        total = integrate_density(density_on_grid(model.log_prob, model.box, 128), model.box)
        assert abs(total - 1.0) < 1e-4
        z0 = model.log_z()
        model.energy.net[-1].bias.add_(1.0)  # f + 1 => log Z + 1, log p unchanged
        assert math.isclose(model.log_z(), z0 + 1.0, abs_tol=1e-5)


def _tiny_mnist():
    try:
        ds = data_mod.load("mnist")
    except data_mod.DataError as e:
        pytest.skip(str(e))
    return Dataset("mnist", "image", ds.train[:512], ds.val[:256], ds.test[:256],
                   {k: v[:512] for k, v in ds.labels.items()}, binarize=True)


def test_mnist_ebm_session_trains_on_grey_images():
    ds = _tiny_mnist()
    s = Session("ebm-mnist", ds, {"channels": 4, "langevin_steps": 5, "buffer_size": 256},
                {"steps": 30, "snapshot_every": 10, "batch_size": 32, "lr": 1e-3})
    batch = s.model.fetch_batch(ds, 32, torch.Generator().manual_seed(0))
    assert ((batch > 0) & (batch < 1)).any()  # not binarized
    snaps = list(s.run())
    assert snaps[-1].status == "done"
    gaps = np.concatenate([sn.losses["e_pos"] - sn.losses["e_neg"] for sn in snaps if sn.losses])
    assert gaps[-10:].mean() > gaps[:3].mean()  # data scored above negatives as it learns
    a = snaps[-1].arrays
    assert a["negatives_grid"].shape == (4 * 30 + 2, 8 * 30 + 2)  # 32 negatives, 8 per row
    assert a["noise_chains_grid"].shape == (4 * 30 + 2, 8 * 30 + 2)
    assert len(s.model.replay) == 256 and 0.0 <= a["anomaly_auroc"] <= 1.0
