"""The VAE and MADE training fast path (#17, target 4) against the stock PyTorch path.

fast_ops' ELU and Bernoulli log-likelihood evaluate expm1 / log1p in float64 or float32, whichever this CPU
computes faster (both are checked here): the same function to one unit in the last place, with the
closed-form gradients autograd uses. Both models train with torch's fused Adam
(fused_adam.py), frozen parameters left alone (MADE's direct bias): bit for bit a twin stepped by a fused
torch.optim.Adam, and to float rounding a plain copy trained with nn.ELU / binary_cross_entropy_with_logits
through autograd and torch's for-loop Adam.
"""
from __future__ import annotations

import copy

import pytest
import torch
from torch.nn import functional as F

from genviz.core import config, cpu_kernels, fast_ops, registry


@pytest.fixture(params=[True, False], ids=["float64-expm1-log1p", "float32-expm1-log1p"])
def either_precision(request, monkeypatch):
    """Both ways fast_ops evaluates expm1 / log1p, whichever this machine uses (cpu_kernels)."""
    monkeypatch.setattr(cpu_kernels, "F64_TRANSCENDENTALS", request.param)
    return request.param


def _values():
    g = torch.Generator().manual_seed(0)
    return torch.cat([torch.randn(20_000, generator=g) * 4, -torch.rand(5_000, generator=g) * 1e-4,
                      torch.tensor([0.0, -0.0, 1e-30, -1e-30, -50.0, 30.0, -1e-7, 1e-7])])


def _ulps(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a - b).abs() / torch.finfo(a.dtype).eps / b.abs().clamp_min(torch.finfo(a.dtype).tiny)


def test_elu_and_its_gradient_are_torch_elus_to_one_ulp(either_precision):
    x = _values().requires_grad_(True)
    y = x.detach().clone().requires_grad_(True)
    ours, ref = fast_ops.elu(x), F.elu(y)
    assert float(_ulps(ours.detach(), ref.detach()).max()) <= 2.0  # relative error in eps: ≤ 1 ulp
    assert torch.equal(ours[x > 0], ref[y > 0])  # the identity branch is exact
    g = torch.randn(x.shape, generator=torch.Generator().manual_seed(1))
    ours.backward(g)
    ref.backward(g)
    assert float(_ulps(x.grad, y.grad).max()) <= 2.0
    assert torch.equal(x.grad[x > 0], g[x > 0])
    x64 = x.detach().double()
    assert torch.equal(fast_ops.elu(x64), F.elu(x64))  # other dtypes take torch's op


def test_log_bernoulli_is_the_binary_cross_entropy_and_its_gradient_is_x_minus_sigmoid(either_precision):
    g = torch.Generator().manual_seed(2)
    logits = (torch.randn(64, 784, generator=g) * 6).requires_grad_(True)
    x = torch.bernoulli(torch.full((64, 784), 0.3), generator=g)
    ref_logits = logits.detach().clone().requires_grad_(True)
    ours = fast_ops.log_bernoulli_with_logits(x, logits)
    ref = -F.binary_cross_entropy_with_logits(ref_logits, x, reduction="none").sum(-1)
    assert ours.shape == (64,)
    torch.testing.assert_close(ours, ref, rtol=2e-7, atol=0)
    # every term is log σ(±l) ≤ 0, and a sum over 784 of them is exact to a few ulps of the total
    w = torch.randn(64, generator=g)
    (ours * w).sum().backward()
    (ref * w).sum().backward()
    torch.testing.assert_close(logits.grad, ref_logits.grad, rtol=1e-6, atol=1e-7)
    expected = w[:, None] * (x - torch.sigmoid(logits.detach()))
    assert torch.equal(logits.grad, expected)
    # broadcast over importance samples (IWAE: logits (k, batch, D), x (batch, D))
    k3 = fast_ops.log_bernoulli_with_logits(x, logits.detach().expand(3, 64, 784))
    assert k3.shape == (3, 64) and torch.equal(k3[1], ours.detach())


def _seeded_steps(model, opt_step, batches, seed=5):
    """model.train_step-like steps whose noise (the VAE's z) comes from a fixed seed per step."""
    losses = []
    for i, x in enumerate(batches):
        with torch.random.fork_rng():
            torch.manual_seed(seed + i)
            losses.append(opt_step(x))
    return losses


def _batches(n, batch=32, d=784, seed=4):
    g = torch.Generator().manual_seed(seed)
    return [torch.bernoulli(torch.full((batch, 1, 28, 28) if d == 784 else (batch, d), 0.2), generator=g)
            for _ in range(n)]


def test_a_vae_step_is_fused_adams_bit_for_bit_and_the_stock_ops_to_rounding():
    model = registry.build("vae", data_shape=(1, 28, 28), seed=0, z_dim=20, hidden=64, depth=1)
    twin, stock = copy.deepcopy(model), copy.deepcopy(model)
    train = config.make(config.TrainConfig, {"lr": 1e-2, "grad_clip": 0.0})
    opts = model.configure_optimizers(train)
    assert opts[0].param_groups[0]["fused"]
    twin_opt = torch.optim.Adam(twin.parameters(), lr=1e-2, fused=True)
    stock_opt = torch.optim.Adam(stock.parameters(), lr=1e-2, foreach=False)

    def plain_step(m, opt, stock_ops):
        def step(x):
            opt.zero_grad(set_to_none=True)
            if stock_ops:  # the same VAE written with nn.ELU and binary_cross_entropy_with_logits
                xf = x.flatten(1)
                h = F.linear(F.elu(m.enc[0](xf)), m.enc[2].weight, m.enc[2].bias)
                qm, qv = h[:, :20], F.softplus(h[:, 20:]) + 1e-8
                z = qm + qv.sqrt() * torch.randn_like(qm)
                logits = m.dec[2](F.elu(m.dec[0](z)))
                rec = F.binary_cross_entropy_with_logits(logits, xf, reduction="none").sum(-1)
                kl = 0.5 * (-qv.log() + qv + qm ** 2 - 1).sum(-1)
                loss = (kl + rec).mean()
                loss.backward()
                opt.step()
                return loss.detach()
            # the same train_step (mlp_step's written-out backward, tests/core/test_vae_mlp_step.py) with
            # the optimizer made here
            return m.train_step(x, [opt], train)["loss"]
        return step

    batches = _batches(4)
    ours = _seeded_steps(model, lambda x: model.train_step(x, opts, train)["loss"], batches)
    same = _seeded_steps(twin, plain_step(twin, twin_opt, False), batches)
    ref = _seeded_steps(stock, plain_step(stock, stock_opt, True), batches)
    for a, b, c in zip(ours, same, ref):
        assert torch.equal(a, b)
        torch.testing.assert_close(a, c, rtol=1e-5, atol=0)
    for (name, p), q, r in zip(model.named_parameters(), twin.parameters(), stock.parameters()):
        assert torch.equal(p, q), name
        torch.testing.assert_close(p, r, rtol=1e-4, atol=1e-5)


def test_made_trains_with_fused_adam_and_leaves_its_frozen_bias_alone():
    model = registry.build("made", data_shape=(1, 6, 6), seed=0, hidden=16)
    assert not model.direct.bias.requires_grad
    twin, stock = copy.deepcopy(model), copy.deepcopy(model)
    train = config.make(config.TrainConfig, {"lr": 1e-2, "grad_clip": 0.0})
    opts = model.configure_optimizers(train)
    assert opts[0].param_groups[0]["fused"]
    twin_opt = torch.optim.Adam(twin.parameters(), lr=1e-2, fused=True)
    stock_opt = torch.optim.Adam(stock.parameters(), lr=1e-2, foreach=False)
    for x in _batches(4, d=36):
        loss = model.train_step(x, opts, train)["loss"]
        # the twin: the same staircase gradients (test_made_staircase.py) stepped by a fused torch Adam
        assert torch.equal(loss, twin.train_step(x, [twin_opt], train)["loss"])
        stock_opt.zero_grad(set_to_none=True)
        plain = F.binary_cross_entropy_with_logits(stock.logits(x), x, reduction="none").sum(1).mean()
        plain.backward()
        stock_opt.step()
        torch.testing.assert_close(loss, plain.detach(), rtol=1e-6, atol=0)
    for (name, p), q, r in zip(model.named_parameters(), twin.parameters(), stock.parameters()):
        assert torch.equal(p, q), name
        torch.testing.assert_close(p, r, rtol=1e-4, atol=1e-5)
    assert torch.equal(model.direct.bias, torch.zeros_like(model.direct.bias))


def test_a_large_batch_is_summed_in_pieces_with_the_same_row_sums(monkeypatch):
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(50, 784, generator=g) * 5
    x = torch.bernoulli(torch.full((50, 784), 0.2), generator=g)
    whole = fast_ops.log_bernoulli_with_logits(x, logits)
    monkeypatch.setattr(fast_ops, "CHUNK", 1000)  # 50 x 784 > 2 pieces: one row (784 elements) a piece
    pieces = fast_ops.log_bernoulli_with_logits(x, logits)
    assert torch.equal(pieces, whole)
    ref = -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)
    torch.testing.assert_close(pieces, ref, rtol=2e-7, atol=0)
