import pytest
import torch

from autoregressive_contract import (check_jacobian_triangular, check_loss_falls, check_normalized,
                                     check_sample_frequencies, check_sampling_follows_order, mnist_slice,
                                     randomize)
from genviz.core import registry
from genviz.core.autoregressive.base import AutoregressiveModel
from genviz.core.autoregressive.nade import BLOCK, parameter_counts


def nade(n: int, order="random", seed=2, hidden=5):
    return randomize(registry.build("nade", data_dim=n, order=order, order_seed=seed, hidden=hidden).double())


@pytest.mark.parametrize("order", ["raster", "random", "snake"])
def test_jacobian_is_strictly_lower_triangular_in_the_order(order):
    model = nade(6, order)
    model.jacobian = lambda x: AutoregressiveModel.jacobian(model, x)  # autograd's, not the closed form
    check_jacobian_triangular(model, 6)


@pytest.mark.parametrize("n", [1, 4, 7])
def test_log_prob_sums_to_one_over_all_binary_vectors(n):
    check_normalized(nade(n), n)


def test_recurrence_equals_the_naive_computation():
    n = 2 * BLOCK + 5  # three blocks of the recurrence, the last one partial
    model = nade(n, hidden=4)
    x = torch.cat([torch.randint(0, 2, (6, n)).double(), torch.rand(3, n, dtype=torch.float64)])  # and off {0,1}
    torch.testing.assert_close(model.logits(x), model.logits_naive(x), rtol=0, atol=1e-12)


def test_conditional_by_hand():
    """p(x_t = 1 | x_<t) = σ(V_t · σ(c + Σ_{s<t} W[:, s] x_s) + b_t), the paper's formula, for one x and t."""
    model = nade(5, order="raster", hidden=3)
    x = torch.tensor([[1.0, 0.0, 1.0, 1.0, 0.0]], dtype=torch.float64)
    t = 3
    h = torch.sigmoid(model.c + model.W[:, :t] @ x[0, :t])
    torch.testing.assert_close(model.logits(x)[0, t], h @ model.V[t] + model.b[t])


def test_sampling_follows_order_and_matches_log_prob():
    model = nade(5, seed=1, hidden=3)
    check_sampling_follows_order(model)
    check_sample_frequencies(model, 5)


def test_parameter_counts_beside_fvsbn_and_made():
    n, h = 12, 7
    counts = parameter_counts(n, h)
    built = {"fvsbn": registry.build("fvsbn", data_dim=n), "nade": registry.build("nade", data_dim=n, hidden=h),
             "made": registry.build("made", data_dim=n, hidden=h, direct=False),
             "made_direct": registry.build("made", data_dim=n, hidden=h, direct=True)}
    for name, m in built.items():
        assert counts[f"n_parameters_{name}"] == sum(p.numel() for p in m.parameters() if p.requires_grad), name
    assert counts["n_parameters_nade"] == 2 * n * h + n + h


def test_views_carry_masks_counts_and_a_triangular_jacobian():
    ds = mnist_slice(64)
    model = registry.build("nade", data_shape=(1, 28, 28), hidden=8)
    with torch.no_grad():
        out = model.visualize(ds, {"n_grid": 4})
    jac = torch.from_numpy(out["jacobian"])
    assert torch.equal(jac.triu(), torch.zeros_like(jac)) and jac.tril(-1).sum() > 0
    assert out["mask_0"].shape == (784, 784) and out["connectivity"].max() == 8 and "mask_1" not in out
    assert out["n_parameters"] == out["n_parameters_nade"] == 2 * 784 * 8 + 784 + 8
    assert out["sample_grid"].ndim == 2 and set(out["anim_sample"].tolist()) <= {0.0, 1.0}


def test_loss_falls_on_mnist_slice():
    check_loss_falls(registry.build("nade", data_shape=(1, 28, 28), hidden=32), mnist_slice(), steps=30, lr=1e-2)


@pytest.mark.parametrize("order", ["raster", "random"])
def test_closed_form_jacobian_equals_autograd(order):
    model = nade(7, order, hidden=4)
    x = torch.rand(7, dtype=torch.float64)
    measured = AutoregressiveModel.jacobian(model, x)  # the base class's autograd Jacobian
    torch.testing.assert_close(model.jacobian(x), measured, rtol=0, atol=1e-12)


def _by_autograd(model, x):
    """log p(x) through `logits` and autograd (the base class's path), and its parameter gradients."""
    lp = AutoregressiveModel.log_prob(model, x)
    return lp, torch.autograd.grad(lp.square().sum(), (model.W, model.c, model.V, model.b))


@pytest.mark.parametrize("n,batch", [(1, 3), (2 * BLOCK + 5, 6), (BLOCK, 1)])
def test_hand_written_log_prob_and_gradients_equal_autograd(n, batch):
    """The training path (_LogLikelihood's forward and backward by hand) against autograd through the logits,
    with an upstream gradient that differs per example (loss = Σ log p², not a plain mean)."""
    model = nade(n, hidden=4)
    x = torch.randint(0, 2, (batch, n)).double()
    ref, ref_grads = _by_autograd(model, x)
    lp = model.log_prob(x)
    grads = torch.autograd.grad(lp.square().sum(), (model.W, model.c, model.V, model.b))
    torch.testing.assert_close(lp, ref, rtol=0, atol=1e-12)
    for g, r in zip(grads, ref_grads):
        torch.testing.assert_close(g, r, rtol=1e-12, atol=1e-12)


def test_hand_written_path_at_mnist_size_in_float32(onednn_calls):
    """784 pixels, H = 200, a batch of 100, float32: the block products are large enough for gemm to send them
    to oneDNN; the loss and gradients agree with autograd's (MKL products) to float32 rounding."""
    torch.manual_seed(0)
    model = registry.build("nade", data_shape=(1, 28, 28), hidden=200)
    x = (torch.rand(100, 784) < 0.2).float()
    ref, ref_grads = _by_autograd(model, x)
    lp = model.log_prob(x)
    grads = torch.autograd.grad(lp.square().sum(), (model.W, model.c, model.V, model.b))
    assert len(onednn_calls) >= 2 * 784 // BLOCK  # forward and backward, every block
    torch.testing.assert_close(lp, ref, rtol=1e-5, atol=0)
    for g, r in zip(grads, ref_grads):
        torch.testing.assert_close(g, r, rtol=1e-4, atol=1e-5 * r.abs().max().item())


def test_log_prob_with_a_gradient_on_x_goes_through_the_logits():
    model = nade(5, hidden=3)
    x = torch.rand(2, 5, dtype=torch.float64, requires_grad=True)
    (gx,) = torch.autograd.grad(model.log_prob(x).sum(), x)
    assert torch.isfinite(gx).all() and gx.abs().sum() > 0
