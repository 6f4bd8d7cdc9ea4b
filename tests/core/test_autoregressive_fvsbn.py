import pytest
import torch

from autoregressive_contract import (check_jacobian_triangular, check_loss_falls, check_normalized,
                                     check_sample_frequencies, check_sampling_follows_order, mnist_slice,
                                     randomize)
from genviz.core import registry


@pytest.mark.parametrize("shape", [(1,), (5,), (1, 28, 28)])
def test_parameter_count_is_n_n_plus_1_over_2(shape):
    model = registry.build("fvsbn", data_shape=shape)
    n = model.data_dim
    assert sum(p.numel() for p in model.parameters()) == n * (n + 1) // 2


@pytest.mark.parametrize("order", ["raster", "random", "snake"])
def test_jacobian_is_the_strictly_lower_triangular_weight(order):
    model = randomize(registry.build("fvsbn", data_dim=6, order=order, order_seed=2).double())
    check_jacobian_triangular(model, 6)
    jac = model.in_order(model.jacobian(torch.rand(6, dtype=torch.float64)))
    assert torch.allclose(jac, model.weight())  # logits are linear in x: the Jacobian is the weight


def test_log_prob_sums_to_one():
    check_normalized(randomize(registry.build("fvsbn", data_dim=7, order="random").double()), 7)


def test_sampling_follows_order_and_matches_log_prob():
    model = randomize(registry.build("fvsbn", data_dim=5, order="random", order_seed=1).double())
    check_sampling_follows_order(model)
    check_sample_frequencies(model, 5)


def test_snake_order_visits_neighbours():
    model = registry.build("fvsbn", data_shape=(1, 3, 4), order="snake")
    assert model.order.tolist() == [0, 1, 2, 3, 7, 6, 5, 4, 8, 9, 10, 11]


def test_loss_falls_on_mnist_slice():
    check_loss_falls(registry.build("fvsbn", data_shape=(1, 28, 28)), mnist_slice(), steps=20, lr=1e-2)
