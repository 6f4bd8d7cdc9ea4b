"""VAE-family models trained for real on small MNIST slices, the SSVAE's label split, and MoG's EM."""
import numpy as np
import pytest
import torch

from genviz.core import checkpoint, data, registry
from genviz.core.config import TrainConfig
from genviz.core.data import Dataset
from genviz.core.session import Session
from genviz.core.vae.ssvae import labelled_split

VAE_FAMILY = ("vae", "gmvae", "iwae", "ssvae")


@pytest.fixture(scope="module")
def mnist():
    return data.load("mnist")


@pytest.fixture(scope="module")
def small(mnist):
    """600 training digits (60+ of each class), 200 validation, 200 test: enough to see learning."""
    lab = {"train": mnist.labels["train"][:600], "val": mnist.labels["val"][:200], "test": mnist.labels["test"][:200]}
    return Dataset("mnist", "image", mnist.train[:600], mnist.val[:200], mnist.test[:200], lab, binarize=True)


def test_ssvae_split_is_100_labelled_10_per_class(mnist):
    labels = mnist.labels["train"]
    lab, unl = labelled_split(labels, 10, seed=0)
    assert len(lab) == 100 and len(set(lab.tolist())) == 100
    assert torch.bincount(labels[lab], minlength=10).tolist() == [10] * 10
    assert len(lab) + len(unl) == len(labels)
    assert not set(lab.tolist()) & set(unl.tolist())
    assert torch.equal(labelled_split(labels, 10, seed=0)[0], lab)  # same seed, same digits
    assert not torch.equal(labelled_split(labels, 10, seed=1)[0], lab)


def test_ssvae_batches_draw_labels_from_the_split(small):
    model = registry.build("ssvae", data_shape=small.shape, hidden=16, z_dim=4)
    xu, xl, yl = model.fetch_batch(small, 32, torch.Generator().manual_seed(0))
    lab, unl = model.split(small)
    assert xu.shape == (32, 1, 28, 28) and xl.shape == (100, 1, 28, 28)
    assert torch.bincount(yl, minlength=10).tolist() == [10] * 10
    assert set(xu.unique().tolist()) <= {0.0, 1.0}  # dynamically binarized
    assert torch.equal(yl, small.labels["train"][lab])


def _train(name, ds, steps=120, **cfg):
    s = Session(name, ds, {"hidden": 64, "z_dim": 4, **cfg},
                {"steps": steps, "batch_size": 64, "snapshot_every": steps, "lr": 3e-3}, view={"iwae_ms": (1, 10)})
    return list(s.run()), s.model


@pytest.mark.parametrize("name", ["vae", "gmvae"])
def test_tiny_model_loss_falls_on_mnist_slice(small, name):
    snaps, _ = _train(name, small, **({"k": 20} if name == "gmvae" else {}))
    first, last = snaps[0].metrics["nelbo"], snaps[-1].metrics["nelbo"]
    assert np.isfinite(last) and last < first - 150  # ≈ 545 nats at init, well below 400 after 120 steps
    assert snaps[-1].metrics["kl"] > 0
    arrays = snaps[-1].arrays
    assert arrays["latent"].shape == (200, 2) and arrays["latent_labels"].shape == (200,)
    assert arrays["recon_out"].shape == (8, 28, 28) and arrays["samples"].shape == (16, 28, 28)
    assert arrays["iwae_mean"].shape == (2,) and arrays["iwae_mean"][1] <= arrays["iwae_mean"][0] + 5
    assert all(isinstance(v, (np.ndarray, float)) for v in arrays.values())


def test_ssvae_learns_from_100_labels(small):
    snaps, model = _train("ssvae", small, steps=60, alpha=100.0)
    acc = model.accuracy(small.test, small.labels["test"])
    assert acc > 0.5  # chance is 0.1
    assert "ce" in snaps[-1].losses or snaps[-1].steps.size == 0


def test_iwae_trains_on_the_m_sample_bound(small):
    snaps, model = _train("iwae", small, steps=40, m_train=4)
    assert snaps[-1].metrics["nelbo"] < snaps[0].metrics["nelbo"] - 50


@pytest.mark.parametrize("name", VAE_FAMILY)
def test_log_prob_is_the_iw_estimate_with_default_k(name, tmp_path):
    model = registry.build(name, data_shape=(1, 28, 28), hidden=16, z_dim=3)
    assert model.cfg.iw_eval >= 100
    x = torch.bernoulli(torch.full((3, 1, 28, 28), 0.3))
    lp = model.log_prob(x)
    assert lp.shape == (3,) and torch.all(torch.isfinite(lp))
    again = checkpoint.load(checkpoint.save(model, tmp_path / "m.pt"))
    torch.manual_seed(0)
    a = model.log_prob(x, k=5)
    torch.manual_seed(0)
    torch.testing.assert_close(again.log_prob(x, k=5), a)


def test_vae_on_2d_draws_a_normalised_density():
    moons = data.load("moons", n=2000)
    s = Session("vae", moons, {"hidden": 32}, {"steps": 150, "batch_size": 128, "snapshot_every": 150, "lr": 3e-3},
                view={"res": 48})
    snaps = list(s.run())
    dens = snaps[-1].arrays["log_density"]
    assert dens.shape == (48, 48) and np.all(np.isfinite(dens))
    from genviz.core.model import integrate_density
    mass = integrate_density(dens, s.view["bbox"])
    assert 0.5 < mass < 1.3  # an IW estimate (k=32) of a density whose mass is mostly in the box


def test_mog_em_never_decreases_the_likelihood():
    x = torch.from_numpy(data.toy2d("8gaussians", 3000, seed=0))
    torch.manual_seed(0)
    model = registry.build("mog", data_dim=2, k=8)
    model.init_from_data(x, torch.Generator().manual_seed(0))
    lls = [model.em_step(x) for _ in range(40)]
    assert all(b >= a - 1e-5 for a, b in zip(lls, lls[1:]))
    assert lls[-1] > lls[0] + 0.1
    r = model.responsibilities(x)
    torch.testing.assert_close(r.sum(1), torch.ones(len(x)))
    # samples have the fitted mixture's mean
    np.testing.assert_allclose(model.sample(20000).mean(0).numpy(), x.mean(0).numpy(), atol=0.1)


def test_mog_gradient_fit_in_a_session():
    moons = data.load("moons", n=2000)
    s = Session("mog", moons, {"method": "gradient", "k": 6},
                {"steps": 150, "batch_size": 256, "lr": 3e-2, "snapshot_every": 150}, view={"res": 32})
    snaps = list(s.run())
    nll = np.concatenate([sn.losses["nll"] for sn in snaps if "nll" in sn.losses])
    assert nll[-10:].mean() < nll[:10].mean() - 0.3
    a = snaps[-1].arrays
    assert a["log_density"].shape == (32, 32) and a["resp"].shape[1] == 6
    torch.testing.assert_close(torch.from_numpy(a["resp"].sum(1)), torch.ones(len(a["resp"])))


@pytest.mark.parametrize("name,shape", [("vae", (1, 28, 28)), ("gmvae", (1, 28, 28)), ("ssvae", (1, 28, 28)),
                                        ("iwae", (2,)), ("gmvae", (2,))])
def test_snapshot_weights_rebuild_the_same_model(name, shape):
    """The GUI's labs and live decoding work from exported arrays: they must reproduce the model exactly."""
    from genviz.core.vae import nets, rebuild

    torch.manual_seed(0)
    model = registry.build(name, data_shape=shape, hidden=24, z_dim=3, depth=3).eval()
    arrays = nets.export_params(model)
    copy = rebuild.model_from_arrays(name, shape, arrays)
    x = torch.rand(5, *shape).round() if len(shape) > 1 else torch.randn(5, 2)
    torch.manual_seed(1)
    a = model.log_prob(x, k=7)
    torch.manual_seed(1)
    torch.testing.assert_close(copy.log_prob(x, k=7), a)
    z = np.random.default_rng(0).normal(size=(4, model.dec_in())).astype(np.float32)
    np.testing.assert_allclose(nets.numpy_mlp(arrays, "param/dec.", z),
                               model.dec(torch.from_numpy(z)).detach().numpy(), atol=1e-5)


def test_ssvae_shared_first_layer_equals_encoding_each_class(small):
    """The ELBO's enumeration over y computes W_x x once; it must equal encoding every (x, y) pair."""
    torch.manual_seed(0)
    model = registry.build("ssvae", data_shape=small.shape, hidden=32, z_dim=5)
    x = torch.bernoulli(small.train[:7])
    y = torch.eye(10).repeat_interleave(7, 0)
    m_ref, v_ref = model.encode(x.flatten(1).repeat(10, 1), y)
    m, v = model.encode_every_class(x)
    assert m.shape == (70, 5) and torch.allclose(m, m_ref, atol=1e-5) and torch.allclose(v, v_ref, atol=1e-5)
    grads = torch.autograd.grad((m * v).sum(), model.enc[0].weight)[0]  # gradients reach both halves of W
    ref = torch.autograd.grad((m_ref * v_ref).sum(), model.enc[0].weight)[0]
    assert torch.allclose(grads, ref, atol=1e-4)


def test_ssvae_predicts_with_a_warmed_up_average_of_the_classifier(small):
    torch.manual_seed(0)
    model = registry.build("ssvae", data_shape=small.shape, hidden=16, z_dim=3, cls_average=0.9)
    (opt,) = model.configure_optimizers(TrainConfig())
    assert not any(p.requires_grad for p in model.cls_avg.parameters())  # no gradient, no Adam update
    assert model.classifier is model.cls  # nothing averaged before the first step
    expected = [p.detach().clone() for p in model.cls.parameters()]
    g = torch.Generator().manual_seed(0)
    for n in range(30):
        model.train_step(model.fetch_batch(small, 16, g), [opt], TrainConfig())
        d = 0.0 if n == 0 else min(0.9, (1 + n) / (10 + n))  # first update copies; then the warm-up decay
        expected = [d * e + (1 - d) * p.detach() for e, p in zip(expected, model.cls.parameters())]
    assert model.classifier is model.cls_avg.module
    assert not any(p in opt.state for p in model.cls_avg.parameters())
    for e, a, p in zip(expected, model.classifier.parameters(), model.cls.parameters()):
        assert torch.allclose(a, e, atol=1e-6) and not torch.allclose(a, p)
    x, y = small.val[:50], small.labels["val"][:50]
    assert model.accuracy(x, y) == model.accuracy(x, y, cls=model.cls_avg.module)


def test_ssvae_without_average_and_older_checkpoints(small):
    plain = registry.build("ssvae", data_shape=small.shape, hidden=16, z_dim=3, cls_average=0.0)
    assert plain.cls_avg is None and plain.classifier is plain.cls
    assert not any(k.startswith("cls_avg") for k in plain.state_dict())
    # a state dict saved before the average existed loads, its average starting at the saved weights
    model = registry.build("ssvae", data_shape=small.shape, hidden=16, z_dim=3)
    model.load_state_dict(plain.state_dict())
    for a, p in zip(model.classifier.parameters(), plain.cls.parameters()):
        assert torch.equal(a, p)
