"""BiGAN and CycleGAN: shapes, domains and one training step."""
import pytest
import torch

from genviz.core import registry
from genviz.core.data import Dataset, split, toy2d

SMALL = dict(hidden=32, depth=2)


@pytest.fixture(scope="module")
def moons():
    return split(toy2d("moons", 3000, 0), "moons")


def _train(name):
    return registry.train_config(name, {"batch_size": 64, "steps": 5})


def test_bigan_shapes_and_one_step(moons):
    torch.manual_seed(0)
    model = registry.build("bigan", data_dim=2, **SMALL)
    assert model.encode(torch.randn(9, 2)).shape == (9, 2) and model.reconstruct(torch.randn(9, 2)).shape == (9, 2)
    before = [p.clone() for p in model.E.parameters()]
    out = model.train_step(moons.train[:64], model.configure_optimizers(_train("bigan")), _train("bigan"))
    assert torch.isfinite(torch.stack(list(out.values()))).all()
    assert not all(torch.equal(a, b) for a, b in zip(before, model.E.parameters()))  # E learns with G


def test_bigan_image_shapes():
    model = registry.build("bigan", data_shape=(1, 28, 28), hidden=16, latent_dim=8)
    x = torch.rand(4, 1, 28, 28)
    assert model.encode(x).shape == (4, 8) and model.reconstruct(x).shape == (4, 1, 28, 28)
    assert model.D(x, model.encode(x)).shape == (4,)


def test_cyclegan_2d_domains_step_and_cycle(moons):
    torch.manual_seed(0)
    model = registry.build("cyclegan", data_dim=2, domain_b="8gaussians", **SMALL)
    a, b = model.fetch_batch(moons, 64, torch.Generator().manual_seed(0))
    assert a.shape == b.shape == (64, 2) and b.abs().max() > 2.0  # B really is the wider 8-gaussians set
    opts = model.configure_optimizers(_train("cyclegan"))
    out = model.train_step((a, b), opts, _train("cyclegan"))
    assert set(out) == {"loss_d", "loss_g", "cycle"}
    assert model.sample(5).shape == (5, 2)


@pytest.mark.parametrize("pair", ["invert", "rotate"])
def test_cyclegan_image_pair_shapes_and_one_step(pair):
    x = torch.rand(40, 1, 28, 28)
    data = Dataset("tiny", "image", x[:30], x[30:35], x[35:])
    model = registry.build("cyclegan", data_shape=(1, 28, 28), image_pair=pair, hidden=16)
    a, b = model.fetch_batch(data, 8, torch.Generator().manual_seed(0))
    assert model.G(a).shape == model.F(b).shape == (8, 1, 28, 28)
    out = model.train_step((a, b), model.configure_optimizers(_train("cyclegan")), _train("cyclegan"))
    assert all(torch.isfinite(v) for v in out.values())
    back = 1 - b if pair == "invert" else torch.rot90(b, -1, (2, 3))  # undo the domain transform
    nearest = (back[:, None] - data.train[None]).abs().flatten(2).amax(2).min(1).values
    assert torch.all(nearest < 1e-5)  # every B image is a transformed training image
    assert b.min() >= 0 and b.max() <= 1


