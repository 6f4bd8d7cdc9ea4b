"""GAN, f-GAN, BiGAN, CycleGAN: the core API, losses at initialisation, training steps and live settings."""
import math

import pytest
import torch

from genviz.core import config, registry
from genviz.core.data import split, toy2d

SMALL = dict(hidden=32, depth=2)


@pytest.fixture(scope="module")
def moons():
    return split(toy2d("moons", 3000, 0), "moons")


def _train(name):
    return registry.train_config(name, {"batch_size": 64, "steps": 5})


@pytest.mark.parametrize("name", ["gan", "gan_preset", "fgan", "bigan", "cyclegan"])
def test_build_and_sample_2d(name):
    assert registry.get(name).family == "gan"
    torch.manual_seed(0)
    model = registry.build(name, data_dim=2)
    assert model.sample(7).shape == (7, 2)


@pytest.mark.parametrize("name,arch", [("dcgan", "dcgan"), ("gan", "mlp"), ("bigan", "dcgan")])
def test_image_generators_give_images_in_unit_interval(name, arch):
    model = registry.build(name, data_shape=(1, 28, 28), arch=arch, hidden=16).eval()
    x = model.sample(5)
    assert x.shape == (5, 1, 28, 28) and x.min() >= 0 and x.max() <= 1


def test_minimax_losses_at_initialisation(moons):
    """D(x) ≈ 1/2 at init, so the D loss is ≈ 2 ln 2 and the minimax G loss E log(1-D) ≈ -ln 2."""
    torch.manual_seed(0)
    model = registry.build("gan", data_dim=2, loss="minimax")
    out = model.train_step(model.fetch_batch(moons, 512, torch.Generator().manual_seed(0)),
                           model.configure_optimizers(_train("gan")), _train("gan"))
    assert float(out["loss_d"]) == pytest.approx(2 * math.log(2), abs=0.02)
    assert float(out["loss_g"]) == pytest.approx(-math.log(2), abs=0.02)
    ns = registry.build("gan", data_dim=2, loss="nonsaturating")
    with torch.no_grad():
        assert float(ns.g_objective(torch.zeros(512, 2))) == pytest.approx(math.log(2), abs=0.02)


def test_d_steps_and_single_player_steps_touch_only_that_player(moons):
    torch.manual_seed(0)
    model = registry.build("gan", data_dim=2, d_steps=3, **SMALL)
    train = _train("gan")
    opts = model.configure_optimizers(train)
    batch = model.fetch_batch(moons, 64, torch.Generator().manual_seed(0))
    assert batch.shape == (192, 2)  # one fresh real batch per D step
    for player, moved, still in (("D", model.D, model.G), ("G", model.G, model.D)):
        model.set_live("train_players", player)
        before = [p.clone() for p in still.parameters()], [p.clone() for p in moved.parameters()]
        out = model.train_step(batch, opts, train)
        assert set(out) == {"loss_d", "loss_g", "d_real", "d_fake"}  # same names whatever the player
        assert all(torch.equal(a, b) for a, b in zip(before[0], still.parameters()))
        assert not all(torch.equal(a, b) for a, b in zip(before[1], moved.parameters()))


def test_live_settings_are_validated_and_d_lr_ratio_reaches_the_optimizer():
    model = registry.build("gan", data_dim=2, **SMALL)
    opt_d, opt_g = model.configure_optimizers(registry.train_config("gan", {"lr": 1e-3}))
    model.set_live("d_lr_ratio", "4")
    assert opt_d.param_groups[0]["lr"] == pytest.approx(4e-3) and opt_g.param_groups[0]["lr"] == 1e-3
    with pytest.raises(config.ConfigError, match="train_players"):
        model.set_live("train_players", "neither")
    with pytest.raises(config.ConfigError, match="hidden"):
        model.set_live("hidden", 64)


def test_bad_configs_name_their_field():
    with pytest.raises(config.ConfigError, match="arch"):
        registry.build("gan", data_dim=2, arch="dcgan")
    with pytest.raises(config.ConfigError, match="pack"):
        registry.build("bigan", data_dim=2, pack=2)
    with pytest.raises(config.ConfigError, match="divergence"):
        registry.build("fgan", data_dim=2, divergence="wasserstein")


def test_packed_discriminator_judges_groups():
    model = registry.build("gan", data_dim=2, pack=4, **SMALL)
    assert model.critic(torch.randn(64, 2)).shape == (16,)
    assert model.point_scores(torch.randn(10, 2)).shape == (10,)


def test_r1_penalty_changes_the_d_update(moons):
    grads = []
    for r1 in (0.0, 10.0):
        torch.manual_seed(0)
        model = registry.build("gan", data_dim=2, r1=r1, **SMALL)
        opts = model.configure_optimizers(_train("gan"))
        torch.manual_seed(1)
        model._d_step(moons.train[:64], opts[0], _train("gan"), True)
        grads.append(torch.cat([p.grad.flatten() for p in model.D.parameters()]))
    assert not torch.allclose(grads[0], grads[1])


def test_r1_penalty_is_half_gamma_squared_gradient_norm():
    """For a linear critic D(x) = w·x + b, ∇x D = w everywhere, so R1 = γ/2 |w|² whatever the batch."""
    model = registry.build("gan", data_dim=2, r1=4.0, **SMALL)
    w = torch.tensor([0.3, -1.2])
    x = torch.randn(32, 2, requires_grad=True)
    penalty = model._r1(x, x @ w + 0.7)
    assert float(penalty) == pytest.approx(0.5 * 4.0 * float(w.pow(2).sum()), rel=1e-6)
    # and it is differentiable in D's parameters (create_graph), which is what lets D learn to be smooth
    w.requires_grad_(True)
    (g,) = torch.autograd.grad(model._r1(x, x @ w), w)
    assert torch.allclose(g, 4.0 * w.detach())




def test_spectral_norm_keeps_d_layers_at_unit_norm(moons):
    torch.manual_seed(0)
    model = registry.build("gan", data_dim=2, spectral_norm=True, **SMALL)
    opts = model.configure_optimizers(_train("gan"))
    for _ in range(3):
        model.train_step(moons.train[:64], opts, _train("gan"))
    linears = [m for m in model.D.modules() if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():
        norms = [torch.linalg.matrix_norm(m.weight, ord=2) for m in linears]
    assert all(float(n) == pytest.approx(1.0, abs=0.05) for n in norms)


def test_g_ema_averages_generator_weights(moons):
    torch.manual_seed(0)
    model = registry.build("gan", data_dim=2, g_ema=0.5, **SMALL)
    opts = model.configure_optimizers(_train("gan"))
    before = [p.clone() for p in model.G.parameters()]
    model.train_step(moons.train[:64], opts, _train("gan"))
    for e, b, p in zip(model.G_ema.parameters(), before, model.G.parameters()):
        assert torch.allclose(e, 0.5 * b + 0.5 * p)  # one EMA update from the initial copy
