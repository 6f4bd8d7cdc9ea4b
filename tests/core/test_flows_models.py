"""The contract every registry flow model meets: change of variables, normalization, training, Session."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.autograd.functional import jacobian

from genviz.core import data, registry
from genviz.core.model import density_on_grid, integrate_density
from genviz.core.session import Session


# Tiny configs: each test file must run in < 30 s on two busy cores.
SMALL = {
    "realnvp": {"n_layers": 4, "hidden": 16},
    "nice": {"n_layers": 4, "hidden": 16, "depth": 2},
    "maf": {"n_blocks": 3, "hidden": 16},
    "iaf": {"n_blocks": 3, "hidden": 16},
    "planar": {"n_layers": 6, "anneal_steps": 0},
    "distill": {"n_blocks": 2, "hidden": 16, "teacher_steps": 10},
}
MODELS = list(SMALL)


@pytest.fixture(scope="module")
def moons():
    return data.load("moons", n=1200, seed=0)


def build(name: str, seed: int = 0):
    torch.manual_seed(seed)
    return registry.build(name, data_dim=2, **SMALL[name])


def train(model, ds, steps: int, lr: float = 3e-3, seed: int = 0) -> list[float]:
    tr = registry.train_config(model_name(model), {"lr": lr, "batch_size": 128, "seed": seed})
    opts, gen = model.configure_optimizers(tr), torch.Generator().manual_seed(seed)
    return [float(model.train_step(model.fetch_batch(ds, 128, gen), opts, tr)["loss"]) for _ in range(steps)]


def model_name(model) -> str:
    return next(n for n, s in registry.MODELS.items() if type(model) is s.model_class())


def test_every_flow_model_is_registered():
    flows = {n for n, s in registry.MODELS.items() if s.family == "flows"}
    assert set(MODELS) <= flows


@pytest.mark.parametrize("name", MODELS)
def test_log_prob_is_change_of_variables(name, moons):
    """log p(x) = log p_Z(z) − log|det ∂f/∂z| at x = f(z), the Jacobian by autograd in float64."""
    model = build(name)
    train(model, moons, 5)  # move away from the identity initialisation
    model = model.double().eval()
    z = model.base.sample(5).double()
    trace, _ = model.forward_with_trace(z)
    x = trace[-1].detach()
    logp = model.log_prob(x).detach()
    for i in range(len(z)):
        jac = jacobian(lambda v: model.forward_with_trace(v[None])[0][-1][0], z[i])
        expected = model.base.log_prob(z[i:i + 1])[0] - torch.linalg.slogdet(jac).logabsdet
        assert abs(float(logp[i] - expected)) < 1e-6
    back, _ = model.inverse_with_trace(x)
    assert (back[-1] - z).abs().max() < 1e-6


@pytest.mark.parametrize("name", MODELS)
def test_log_prob_integrates_to_one_after_training(name, moons):
    model = build(name)
    train(model, moons, 15)
    model.eval()
    bbox = (-7.0, 7.0, -7.0, 7.0)
    with torch.no_grad():
        logp = density_on_grid(model.log_prob, bbox, 161)
    assert abs(integrate_density(logp, bbox) - 1) < 0.02


@pytest.mark.parametrize("name", MODELS)
def test_loss_falls_on_moons(name, moons):
    model = build(name, seed=1)
    steps = 70 if name == "distill" else 60  # distill: 10 teacher steps, then the student's KL
    losses = train(model, moons, steps, seed=1)[-60:] if name != "distill" else train(model, moons, steps)[10:]
    assert np.mean(losses[-10:]) < np.mean(losses[:10]) - 0.05


@pytest.mark.parametrize("name", MODELS)
def test_trains_in_a_session(name, moons):
    session = Session(name, moons, model_config=SMALL[name],
                      train={"steps": 6, "snapshot_every": 3, "batch_size": 64}, view={"res": 24})
    snaps = list(session.run())
    assert snaps[-1].status == "done", snaps[-1].message
    arrays = snaps[-1].arrays
    for v in arrays.values():
        assert isinstance(v, np.ndarray)
    n_layers = len(session.model.layers)
    assert arrays["log_density"].shape == (24, 24) and np.isfinite(arrays["log_density"]).all()
    assert arrays["warp_lines"].shape[0] == n_layers + 1 and arrays["warp_lines"].shape[-1] == 2
    assert arrays["warp_samples"].shape[0] == n_layers + 1
    assert len(arrays["layer_names"]) == n_layers + 1
    if "pullback" in arrays:  # index convention: [-1] is the data, [0] the data mapped to base space
        assert np.allclose(arrays["pullback"][-1], moons.val[:len(arrays["pullback"][-1])].numpy())
    np.testing.assert_allclose(arrays["warp_samples"][-1], arrays["samples"][:len(arrays["warp_samples"][-1])],
                               atol=1e-5)


@pytest.mark.parametrize("name", MODELS)
def test_checkpoint_round_trip(name, moons, tmp_path):
    from genviz.core import checkpoint

    model = build(name)
    train(model, moons, 3)
    model.eval()
    loaded = checkpoint.load(checkpoint.save(model, tmp_path / f"{name}.pt"))
    x = moons.val[:64]
    with torch.no_grad():
        assert torch.allclose(loaded.log_prob(x), model.log_prob(x), atol=1e-6)
