"""Linear probes (genviz.core.probe): pixels carry the digit, label-free constant or random features do not;
each model's feature hook returns the right shape; small-model training leaves the global stream alone."""
import pytest
import torch

from genviz.core import probe, registry
from genviz.core.images import load_images


@pytest.fixture(scope="module")
def mnist():
    return load_images("mnist")


@pytest.fixture(scope="module")
def tiny(mnist):
    return (mnist.train[:600], mnist.labels["train"][:600], mnist.val[:400], mnist.labels["val"][:400])


def test_probe_on_raw_pixels_beats_chance_by_a_wide_margin(tiny):
    r = probe.probe_accuracy(lambda x: x.flatten(1), *tiny, steps=150)
    assert r["test_acc"] > 0.7 and r["dim"] == 784  # chance is 0.1


def test_probe_on_constant_or_label_free_random_features_is_at_chance(tiny):
    xtr, ytr, xte, yte = tiny
    r = probe.probe_accuracy(lambda x: torch.full((len(x), 8), 3.0), *tiny, steps=150)
    majority = torch.bincount(ytr).argmax()
    assert r["test_acc"] == pytest.approx(float((yte == majority).double().mean()))  # it can only guess one class
    assert r["test_acc"] < 0.2
    g = torch.Generator().manual_seed(5)
    noise = {len(xtr): torch.randn(len(xtr), 8, generator=g), len(xte): torch.randn(len(xte), 8, generator=g)}
    r = probe.probe_accuracy(lambda x: noise[len(x)], *tiny, steps=150)
    assert r["test_acc"] < 0.2


@pytest.mark.parametrize("kind,dim", [("gan", 2 * 16 * 7 * 7), ("bigan", 32), ("vae", 10)])
def test_feature_hooks_return_one_vector_per_image(kind, dim, mnist):
    name, hook, overrides = probe.SMALL[kind]
    model = registry.build(name, data_shape=(1, 28, 28), seed=0, **overrides)
    f = probe.extract(probe.HOOKS[hook], model, mnist.val[:7])
    assert f.shape == (7, dim) and f.dtype == torch.float64 and torch.isfinite(f).all()
    assert model.training  # extract restores the mode it found
    assert probe.pca_2d(f).shape == (7, 2)


def test_train_small_leaves_the_global_generator_alone(mnist):
    before = torch.get_rng_state()
    model = probe.train_small("vae", mnist, 3, seed=0, batch_size=16)
    assert torch.equal(before, torch.get_rng_state()) and not model.training


def test_kind_of_names_the_hook_for_a_trained_model_and_refuses_others():
    for kind, (name, _, overrides) in probe.SMALL.items():
        assert probe.kind_of(registry.build(name, data_shape=(1, 28, 28), seed=0, **overrides)) == kind
    with pytest.raises(ValueError, match="MNIST"):
        probe.kind_of(registry.build("vae", data_shape=(2,), seed=0))
    with pytest.raises(ValueError, match="no feature hook"):
        probe.kind_of(registry.build("made", data_shape=(1, 28, 28), seed=0))
