import pytest
import torch

from autoregressive_contract import (check_jacobian_triangular, check_loss_falls, check_normalized,
                                     check_sample_frequencies, check_sampling_follows_order, mnist_slice,
                                     randomize)
from genviz.core import registry
from genviz.core.config import ConfigError

N = 6
VARIANTS = [
    dict(),
    dict(depth=3, order="random", order_seed=3),
    dict(num_masks=4, order_agnostic=True),
    dict(num_masks=3, direct=True, depth=2),
]


def made(**kw):
    return randomize(registry.build("made", data_dim=N, hidden=12, **kw).double())


@pytest.mark.parametrize("kw", VARIANTS)
def test_jacobian_zero_above_diagonal_for_every_mask(kw):
    model = made(**kw)
    for k in range(model.cfg.num_masks):
        model.use_mask(k)
        check_jacobian_triangular(model, N, seed=k)
        # nonzero Jacobian entries only where the masks leave a path
        jac = model.in_order(model.jacobian(torch.randn(N, dtype=torch.float64)))
        conn = model.in_order(model.connectivity())
        assert (jac[conn == 0] == 0).all()
        assert torch.equal(conn.triu(), torch.zeros_like(conn))


def test_masks_differ_across_mask_sets_and_orders():
    model = made(num_masks=3, order_agnostic=True)
    orders, masks = [], []
    for k in range(3):
        model.use_mask(k)
        orders.append(model.order.clone())
        masks.append(model.masks()[0].clone())
    assert torch.equal(orders[0], torch.arange(N))  # mask 0 keeps the chosen (raster) ordering
    assert not torch.equal(orders[1], orders[2])
    assert not torch.equal(masks[0], masks[1])


@pytest.mark.parametrize("kw", VARIANTS)
def test_log_prob_sums_to_one_over_all_configurations(kw):
    check_normalized(made(**kw), N)


def test_sampling_follows_the_order():
    model = made(order="random", order_seed=5, depth=2, direct=True)
    check_sampling_follows_order(model)


@pytest.mark.parametrize("kw", [dict(depth=2), dict(num_masks=3, order_agnostic=True)])
def test_sample_frequencies_match_log_prob(kw):
    check_sample_frequencies(made(**kw), N)


def test_ensemble_is_the_mean_of_mask_probabilities():
    model = made(num_masks=3, order_agnostic=True)
    from autoregressive_contract import all_binary

    x = all_binary(N)
    each = torch.stack([model.log_prob_mask(x, k).exp() for k in range(3)])
    assert torch.allclose(model.log_prob(x).exp(), each.mean(0))


def test_loss_falls_on_mnist_slice():
    model = registry.build("made", data_shape=(1, 28, 28), hidden=64)
    check_loss_falls(model, mnist_slice())


def test_visualize_returns_plain_arrays():
    import numpy as np

    data = mnist_slice(64)
    model = registry.build("made", data_shape=(1, 28, 28), hidden=16, depth=2, num_masks=2)
    with torch.no_grad():
        arrays = model.visualize(data, {"n_grid": 4, "mask": 1})
    assert all(isinstance(v, (np.ndarray, float)) for v in arrays.values())
    assert arrays["jacobian"].shape == (784, 784) and arrays["ordering"].shape == (28, 28)
    assert np.all(np.triu(arrays["jacobian"]) == 0) and np.all(np.triu(arrays["connectivity"]) == 0)
    assert [arrays[f"mask_{i}"].shape for i in range(3)] == [(16, 784), (16, 16), (784, 16)]
    assert int(model.mask_index) == 0  # visualize restored the training mask


def test_bad_config_names_the_field():
    with pytest.raises(ConfigError, match="hidden"):
        registry.build("made", data_dim=4, hidden=0)
    with pytest.raises(ConfigError, match="order"):
        registry.build("made", data_dim=4, order="spiral")


def test_checkpoint_round_trip_keeps_masks_and_ensemble(tmp_path):
    from autoregressive_contract import all_binary
    from genviz.core import checkpoint

    model = made(num_masks=3, order_agnostic=True).float()
    model.use_mask(2)  # saved mid-training with a mask other than 0 installed
    path = checkpoint.save(model, tmp_path / "made.pt")
    back = checkpoint.load(path)
    x = all_binary(N, torch.float32)
    assert torch.equal(back.order, model.order) and int(back.mask_index) == 2
    assert torch.allclose(back.log_prob(x), model.log_prob(x))
