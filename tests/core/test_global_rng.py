"""No model, metric, view or lab touches torch's global random generator (issue #12, point 5).

The training run owns that stream (its `loss` draws from it). Snapshot-time code (`val_metrics`,
`visualize`) and the labs must use their own generators: a draw there would shift the run's noise, and a
seed there would replay it after every snapshot. Every registered model is covered, on every kind of data
it trains on, with no list to update.
"""
from __future__ import annotations

import contextlib

import numpy as np
import pytest
import torch

from genviz.core import data as data_mod
from genviz.core import registry
from genviz.core.data import Dataset

# smaller networks where the defaults would be slow; a model missing here is tested with its defaults
SMALL = {
    "maf": {"n_blocks": 2, "hidden": 16}, "iaf": {"n_blocks": 2, "hidden": 16},
    "distill": {"n_blocks": 2, "hidden": 16, "teacher_steps": 1},  # the 2nd step distils (student path)
    "planar": {"n_layers": 4},
    "made": {"hidden": 32, "num_masks": 2},  # an ensemble: sampling draws a mask per sample
    "vae": {"hidden": 32}, "iwae": {"hidden": 32}, "gmvae": {"hidden": 32, "k": 8},
    "ssvae": {"hidden": 32, "z_dim": 8, "labels_per_class": 2},
    "ebm": {"grid_res": 64, "buffer_size": 256}, "ebm-mnist": {"channels": 4, "buffer_size": 64},
    **{name: {"hidden": 16} for name in ("gan", "dcgan", "fgan", "bigan", "cyclegan")},
}
FORBIDDEN = ("manual_seed", "seed", "set_rng_state", "fork_rng")  # seeding or restoring the global stream


@pytest.fixture(scope="module")
def datasets():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(200, 1, 28, 28, generator=g)  # grey levels: binarized where a model wants bits
    y = torch.arange(200) % 10
    labels = {"train": y[:120], "val": y[120:160], "test": y[160:]}
    images = Dataset("tiny", "image", x[:120], x[120:160], x[160:], labels, binarize=True)
    return {"2d": data_mod.load("moons", n=600), "image": images}


def cases():
    return [(name, kind) for name, spec in registry.MODELS.items() for kind in spec.data_kinds]


@contextlib.contextmanager
def global_stream_untouched(monkeypatch):
    """Fails if the block seeds, restores or draws from torch's (or numpy's) global generator."""
    def refuse(name):
        def call(*args, **kwargs):
            raise AssertionError(f"torch.{name} called: use a torch.Generator of your own")
        return call

    with monkeypatch.context() as m:
        for name in FORBIDDEN:
            m.setattr(torch, name, refuse(name), raising=False)  # torch.fork_rng does not exist
            m.setattr(torch.random, name, refuse(name))
        for name in ("manual_seed", "manual_seed_all", "seed", "seed_all", "set_rng_state", "set_rng_state_all"):
            m.setattr(torch.cuda, name, refuse(f"cuda.{name}"))
        cpu, np_state = torch.random.get_rng_state(), np.random.get_state()
        cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []
        yield
        assert torch.equal(torch.random.get_rng_state(), cpu), "the global CPU generator was drawn from"
        assert all(torch.equal(a, b) for a, b in zip(torch.cuda.get_rng_state_all() if cuda else [], cuda))
        after = np.random.get_state()
        assert np.array_equal(after[1], np_state[1]) and after[2] == np_state[2], "numpy's global generator moved"


def trained_a_little(name, data, steps: int = 2):
    """The model after `steps` training steps (the global stream, as in a session), so the views see
    trained state: replay buffers, averaged weights, a distilling student, an initialised mixture."""
    torch.manual_seed(0)
    model = registry.build(name, data_shape=data.shape, **SMALL.get(name, {}))
    train = registry.train_config(name, {"batch_size": 32, "steps": 10})
    opts = model.configure_optimizers(train)
    gen = torch.Generator().manual_seed(1)
    for _ in range(steps):
        model.train_step(model.fetch_batch(data, train.batch_size, gen), opts, train)
    return model


@pytest.mark.parametrize("name,kind", cases())
def test_snapshot_code_leaves_the_global_generator_alone(name, kind, datasets, monkeypatch):
    """val_metrics, visualize and evaluate neither draw from, seed nor restore the global generator."""
    data = datasets[kind]
    model = trained_a_little(name, data)
    view = {"bbox": data.bbox() if kind == "2d" else None, "res": 24, "n_samples": 200}  # what a Session sends
    with torch.no_grad(), global_stream_untouched(monkeypatch):
        for _ in range(2):  # the second call meets whatever the first one cached
            metrics = model.val_metrics(data)
            arrays = model.visualize(data, view)
            held_out = model.evaluate(data.val[:64])
    assert isinstance(metrics, dict) and isinstance(arrays, dict) and isinstance(held_out, dict)


def test_the_sweep_reaches_every_registered_model():
    assert all(spec.data_kinds for spec in registry.MODELS.values())  # a model without data kinds is skipped
    assert set(SMALL) <= set(registry.MODELS)  # no stale entry for a model that is gone


def _nelbo_draws(model, x, snapshots: bool, data) -> list[float]:
    """The loss on one fixed batch for 10 'steps' (weights fixed, so it varies only with the training ε),
    with val_metrics and visualize every 2 steps when `snapshots`."""
    torch.manual_seed(123)  # the run's stream, as the session seeds it
    out = []
    for step in range(1, 11):
        with torch.no_grad():
            out.append(float(model.loss(x)[0]))
            if snapshots and step % 2 == 0:
                model.val_metrics(data)
                model.visualize(data, {"bbox": data.bbox(), "res": 16, "n_samples": 50})
    return out


def test_vae_training_noise_neither_repeats_nor_shifts_across_snapshots(datasets):
    """Once, val_metrics seeded the global generator with 0: headless training replayed the same ε after
    every snapshot. Snapshots must leave the training draws exactly as they are without snapshots."""
    data = datasets["2d"]
    torch.manual_seed(0)
    model = registry.build("vae", data_shape=data.shape, hidden=16)
    x = data.train[:64]
    with_snaps, without = _nelbo_draws(model, x, True, data), _nelbo_draws(model, x, False, data)
    assert len(set(with_snaps)) == len(with_snaps), f"the training noise repeats: {with_snaps}"
    assert with_snaps == without


def test_vae_family_labs_leave_the_global_generator_alone(monkeypatch):
    """What the VAE panel's lab thread runs: rebuild a model from snapshot arrays, then the three labs."""
    from genviz.core.vae import labs, nets, rebuild

    shape = (1, 28, 28)
    x = torch.bernoulli(torch.full((3, *shape), 0.3), generator=torch.Generator().manual_seed(0))
    for name in ("vae", "gmvae", "iwae", "ssvae"):
        torch.manual_seed(0)
        extra = {"k": 4} if name == "gmvae" else {}
        arrays = nets.export_params(registry.build(name, data_shape=shape, hidden=16, z_dim=3, **extra))
        with global_stream_untouched(monkeypatch):
            model = rebuild.model_from_arrays(name, shape, arrays)
            a = labs.estimator_spread(model, x, ns=(1, 10), repeats=2)
            b = labs.vae_gradient_variance(model, x, ns=(1, 4), repeats=5)
            c = labs.amortization_gap(model, x, steps=3, k_eval=100)
        assert np.isfinite(a["is_mean"]).all() and np.isfinite(b["reparam_var"]).all()
        assert np.isfinite(c["log_px"]).all()
        again = labs.estimator_spread(model, x, ns=(1, 10), repeats=2)  # seeded by default: a repeatable picture
        np.testing.assert_array_equal(again["naive_mean"], a["naive_mean"])


def test_linear_gaussian_labs_leave_the_global_generator_alone(monkeypatch):
    from genviz.core.vae import labs

    g = torch.Generator().manual_seed(0)
    lg = labs.LinearGaussian(torch.randn(3, 1, generator=g, dtype=torch.float64), torch.zeros(3), 0.5)
    x = torch.randn(4, 3, generator=g, dtype=torch.float64)
    with global_stream_untouched(monkeypatch):
        labs.estimator_spread(lg, x, ns=(1, 10), repeats=2)
        labs.gradient_variance(lambda z: (z ** 2).sum(-1), torch.zeros(1, dtype=torch.float64),
                               torch.ones(1, dtype=torch.float64), 4, repeats=10)
        labs.amortization_gap(lg, x, steps=3, k_eval=100)


def test_concept_and_flow_labs_leave_the_global_generator_alone(monkeypatch):
    from genviz.core.flows import lab as flow_lab
    from genviz.core.labs import counts, kl, likelihood_gap, montecarlo, twosample

    rng = np.random.default_rng(0)
    with global_stream_untouched(monkeypatch):
        flow_lab.planar_density([1.0, 0.5], [0.3, -0.2], 0.1, (-4, 4, -4, 4), res=24)
        flow_lab.coupling_density(0.1, 0.2, 0.0, 0.3, (-4, 4, -4, 4), res=24)
        w, mu, cov = kl.bimodal(2)
        kl.forward_kl_fit(w, mu, cov)
        fit = kl.ReverseKLFit(w, mu, cov, init_mean=np.array([1.0, 0.0]), seed=0)
        fit.step(5)
        fit.result()
        likelihood_gap.gap_curve([1, 2, 4], n=100, seed=0)
        likelihood_gap.mixture_samples(100, 2, seed=0)
        montecarlo.estimates(next(iter(montecarlo.INTEGRANDS)), montecarlo.log_t_values(100, 4), 5, seed=0)
        twosample.permutation_test(rng.normal(size=(20, 2)), rng.normal(size=(20, 2)), "mmd", 20, seed=0)
        counts.bayes_net_params(4, counts.markov_chain_edges(4))


def test_classifier_builds_and_trains_without_the_global_generator(monkeypatch):
    from genviz.core import classifier

    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(64, 1, 28, 28, generator=g), torch.randint(0, 10, (64,), generator=g)
    data = Dataset("toy", "image", x, x, x, {"train": y})
    with global_stream_untouched(monkeypatch):
        a = classifier.train_classifier(data, steps=2, batch_size=8, seed=3)
    b = classifier.train_classifier(data, steps=2, batch_size=8, seed=3)
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
