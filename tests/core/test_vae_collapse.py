"""KL weight and posterior collapse: β in the loss, rate + distortion = NELBO, active units, the autoregressive
decoder (a proper distribution over x, strictly autoregressive)."""
import itertools

import numpy as np
import pytest
import torch

from genviz.core import data, registry
from genviz.core.config import ConfigError
from genviz.core.session import Session
from genviz.core.vae.vae import active_units


def test_active_units_count_the_encoder_means_variance():
    g = torch.Generator().manual_seed(0)
    means = torch.randn(20000, 4, generator=g) * torch.tensor([1.0, 0.05, 0.2, 0.09])  # var 1, .0025, .04, .0081
    n, var = active_units(means)
    assert n == 2
    np.testing.assert_allclose(var.numpy(), [1.0, 0.0025, 0.04, 0.0081], rtol=0.05)


def test_active_units_of_a_constructed_encoder():
    """Units whose mean ignores x are inactive; a unit whose mean is 10·x₁ has Cov = 100·Var(x₁)."""
    torch.manual_seed(0)
    vae = registry.build("vae", data_shape=(2,), z_dim=4, hidden=8, depth=1)
    moons = data.load("moons", n=3000)
    with torch.no_grad():
        last = vae.enc[-1]
        last.weight.zero_(), last.bias.zero_()
        vae.enc[0].weight.zero_(), vae.enc[0].bias.zero_()
        vae.enc[0].weight[0, 0] = 1.0  # hidden unit 0 = ELU(x₁)
        last.weight[2, 0] = 10.0  # mean of z₃ = 10·ELU(x₁); z₁, z₂, z₄ constant
    x = moons.val[:1000]
    expected = float((10 * torch.nn.functional.elu(x[:, 0])).var(correction=0))
    assert vae.val_metrics(moons)["au"] == 1.0
    n, var = active_units(vae.encode(x)[0].detach())
    assert n == 1 and float(var[2]) == pytest.approx(expected, rel=1e-5)


def test_loss_weights_kl_by_beta_and_nelbo_is_rate_plus_distortion():
    torch.manual_seed(0)
    x = torch.from_numpy(data.toy2d("moons", 64, seed=0))
    vae = registry.build("vae", data_shape=(2,), beta=3.0)
    torch.manual_seed(1)
    with torch.no_grad():
        loss, terms = vae.loss(x)
    assert float(loss) == pytest.approx(float(terms["rec"] + 3.0 * terms["kl"]), rel=1e-6)
    assert float(terms["nelbo"]) == pytest.approx(float(terms["rec"] + terms["kl"]), rel=1e-6)
    m = vae.val_metrics(data.load("moons", n=2000))
    assert m["nelbo"] == pytest.approx(m["rec"] + m["kl"], rel=1e-6)
    with pytest.raises(ConfigError):  # IWAE trains on its own bound: a β there would silently do nothing
        registry.build("iwae", data_shape=(2,), beta=2.0)


def test_beta_is_live_and_moves_the_rate():
    """β = 0: nothing holds q to the prior, the rate (KL) grows; β = 8 pushes it toward 0. β changed mid-run
    through the session's command queue takes effect."""
    moons = data.load("moons", n=2000)
    rates = {}
    for beta in (0.0, 8.0):
        s = Session("vae", moons, {"hidden": 16, "depth": 1}, {"steps": 120, "batch_size": 64, "lr": 1e-2,
                                                               "snapshot_every": 120}, with_arrays=False)
        s.send("model_set", "beta", beta)
        snaps = list(s.run())
        assert s.model.cfg.beta == beta
        rates[beta] = snaps[-1].metrics["kl"]
    assert rates[0.0] > 3 * rates[8.0] and rates[0.0] > 2.0


def test_autoregressive_decoder_is_a_distribution_and_autoregressive():
    torch.manual_seed(0)
    vae = registry.build("vae", data_shape=(1, 2, 2), z_dim=2, hidden=8, decoder="autoregressive")
    with torch.no_grad():
        vae.ar.weight.normal_(), vae.ar.w2.normal_()  # a context that matters (its outputs start at zero)
    xs = torch.tensor(list(itertools.product([0.0, 1.0], repeat=4))).reshape(16, 1, 2, 2)
    z = torch.randn(3, 1, 2).expand(3, 16, 2)
    total = torch.logsumexp(vae.log_px_given_z(xs, z), 1)  # Σ over all 16 binary images of p(x|z)
    torch.testing.assert_close(total, torch.zeros(3), atol=1e-5, rtol=0)
    # logit i depends on x_j only for j < i
    x = torch.rand(1, 4, requires_grad=True)
    out = vae.decode(torch.zeros(1, 2)) + vae.ar(x)
    jac = torch.stack([torch.autograd.grad(out[0, i], x, retain_graph=True)[0][0] for i in range(4)])
    below = torch.ones(4, 4).tril(-1).bool()
    assert torch.all(jac[~below] == 0) and torch.all(jac[below] != 0)
    with pytest.raises(ConfigError):  # its decoder also takes y: no autoregressive decoder there
        registry.build("ssvae", data_shape=(1, 28, 28), hidden=8, decoder="autoregressive")


@pytest.mark.parametrize("shape", [(1, 4, 4), (2,)])
def test_sequential_generation_agrees_with_the_teacher_forced_decoder(shape):
    """Generating one dimension at a time (the hidden layer updated a column per step) must reproduce the
    decoder that training evaluates in one pass: the mean image is a fixed point x_i = mean_i(z, x_<i)."""
    torch.manual_seed(0)
    vae = registry.build("vae", data_shape=shape, z_dim=2, hidden=8, decoder="autoregressive")
    with torch.no_grad():
        vae.ar.weight.normal_(), vae.ar.w2.normal_()
        z = torch.randn(3, 2)
        x = vae.decode_mean(z)
        out = vae.decode(z) + vae.ar(x)
    torch.testing.assert_close(x, vae.mean_image(out), atol=1e-5, rtol=1e-5)


def test_autoregressive_vae_rebuilds_from_its_snapshot_arrays():
    from genviz.core.vae import nets, rebuild

    torch.manual_seed(0)
    vae = registry.build("vae", data_shape=(1, 4, 4), z_dim=2, hidden=8, decoder="autoregressive").eval()
    with torch.no_grad():
        vae.ar.w2.normal_()
    copy = rebuild.model_from_arrays("vae", (1, 4, 4), nets.export_params(vae))
    x = torch.rand(5, 1, 4, 4).round()
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    with torch.no_grad():
        torch.testing.assert_close(copy.log_prob(x, k=7, generator=g1), vae.log_prob(x, k=7, generator=g2))
    groups = vae.configure_optimizers(registry.train_config("vae"))[0].param_groups
    assert groups[1]["lr"] == pytest.approx(groups[0]["lr"] * 20)  # the context runs the race at full power
