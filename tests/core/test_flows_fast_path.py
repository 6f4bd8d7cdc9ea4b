"""The flows' optimised step computes the numbers of the plain formulas, bit for bit.

The plain path is written here as the formulas read (and as the code was before #17): couplings multiply by
their mask and allocate every activation, every layer's log-det is added to a running zero, MAF negates α
twice, Adam loops over the parameters. The models' code drops those zeros and ones and trains with FlatAdam
(one update over flat buffers); log_prob, a training step's loss and the updated weights must come out
identical (the autograd step; train_step's fused one is held to it in test_flows_fused_step.py). Samples are
drawn under no_grad, through fused_eval, whose conditioner products have other shapes than the formulas':
they agree to rounding (float64: rtol 1e-10).
"""
import copy

import pytest
import torch
from torch import nn

from genviz.core import config, registry
from genviz.core.flows.coupling import AdditiveCoupling, AffineCoupling, mlp
from genviz.core.flows.flat_adam import FlatAdam
from genviz.core.flows.maf import SOFTPLUS_SHIFT, MaskedAffine
from genviz.core.model import GenerativeModel
from same_numbers import same


def plain_net(net, h):
    """The coupling's MLP with out-of-place activations (the model's ReLUs run in place)."""
    for mod in net:
        h = torch.relu(h) if isinstance(mod, nn.ReLU) else mod(h)
    return h


def plain_layer(layer, z, inverse: bool):
    """One layer by the masked formulas (couplings) or its own code (other layers)."""
    if isinstance(layer, AffineCoupling):
        m = layer.mask
        s_raw, t = plain_net(layer.net, z * m).chunk(2, dim=1)
        s = layer.scale * torch.tanh(s_raw / layer.scale)
        s, t = s * (1 - m), t * (1 - m)
        if inverse:
            return z * m + (1 - m) * ((z - t) * torch.exp(-s)), -s.sum(1)
        return z * m + (1 - m) * (z * torch.exp(s) + t), s.sum(1)
    if isinstance(layer, AdditiveCoupling):
        t = plain_net(layer.net, z * layer.mask) * (1 - layer.mask)
        return (z - t if inverse else z + t), z.new_zeros(len(z))
    if isinstance(layer, MaskedAffine) and inverse and layer.mode == "maf":
        if layer.scale == "softplus":  # z = s·x + t, s = softplus(r + c) + 1e-3
            t, r = layer.made(z).chunk(2, dim=1)
            s = torch.nn.functional.softplus(r + SOFTPLUS_SHIFT) + 1e-3
            return s * z + t, torch.log(s).sum(1)
        mu, a = layer.conditioner(z)
        return (z - mu) * torch.exp(-a), -a.sum(1)
    return layer.inverse(z) if inverse else layer(z)


def plain_log_prob(model, x):
    total = x.new_zeros(len(x))
    for layer in reversed(model.layers):
        x, ld = plain_layer(layer, x, inverse=True)
        total = total + ld
    return model.base.log_prob(x) + total


def plain_sample(model, n, generator):
    z = model.base.sample(n, generator)
    for layer in model.layers:
        z = plain_layer(layer, z, inverse=False)[0]
    return z


def _randomize(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():  # the last layers start at zero (identity flow); make the test non-trivial
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g, dtype=p.dtype) * 0.3)
    return model


CASES = [("realnvp", 2, {}), ("realnvp", 3, {"n_layers": 4, "hidden": 16}), ("realnvp", 6, {"hidden": 16}),
         ("realnvp", 2, {"base": "diag"}), ("nice", 2, {}), ("nice", 5, {"partition": "random"}),
         ("maf", 2, {}), ("maf", 3, {"actnorm": True, "permute": "random"}), ("maf", 2, {"scale": "tanh"})]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name,dim,cfg", CASES)
def test_log_prob_and_samples_are_the_plain_formulas(name, dim, cfg, dtype):
    model = _randomize(registry.build(name, data_dim=dim, seed=0, **cfg)).to(dtype)
    x = torch.randn(300, dim, generator=torch.Generator().manual_seed(1), dtype=dtype) * 1.5
    assert same(model.log_prob(x), plain_log_prob(model, x))
    with torch.no_grad():
        a = model.sample(257, generator=torch.Generator().manual_seed(2))
        b = plain_sample(model, 257, generator=torch.Generator().manual_seed(2))
    assert same(a, b, 2e-3, exact64=False)
    trace, ld = model.forward_with_trace(b[:5])
    assert ld.shape == (5,) and ld.is_contiguous() and len(trace) == len(model.layers) + 1


@pytest.mark.parametrize("name,dim,cfg", CASES)
def test_a_training_step_is_the_plain_step(name, dim, cfg):
    """The autograd step (FlatAdam on the optimised log_prob) == a for-loop Adam on the plain formulas.

    (model.train_step takes fused_step's hand-written gradients where it covers the model: the same loss,
    gradients to the last bits, compared with this autograd step in test_flows_fused_step.py.)"""
    model = _randomize(registry.build(name, data_dim=dim, seed=0, **cfg))
    plain = copy.deepcopy(model)
    train = config.make(config.TrainConfig, {"lr": 1e-2, "grad_clip": 0.0})
    opts = model.configure_optimizers(train)
    plain_opt = torch.optim.Adam(plain.parameters(), lr=1e-2, foreach=False)
    g = torch.Generator().manual_seed(3)
    for _ in range(3):
        x = torch.randn(256, dim, generator=g)
        loss = GenerativeModel.train_step(model, x, opts, train)["loss"]
        plain_opt.zero_grad(set_to_none=True)
        plain_loss = -plain_log_prob(plain, x).mean()
        plain_loss.backward()
        plain_opt.step()
        assert torch.equal(loss, plain_loss.detach())
    for (k, p), q in zip(model.named_parameters(), plain.parameters()):
        assert torch.equal(p, q), k


class _OldAffine(nn.Module):
    """The coupling's module layout before #17 (the same one today: the fast path kept every shape)."""

    def __init__(self, mask, hidden, depth, affine=True):
        super().__init__()
        dim = mask.numel()
        self.register_buffer("mask", mask.float())
        self.net = mlp(dim, (2 if affine else 1) * dim, hidden, depth)
        if affine:
            self.scale = nn.Parameter(torch.full((dim,), 2.0))


class _OldFlow(nn.Module):
    def __init__(self, layers, dim):
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.base = nn.Module()
        self.base.register_buffer("_anchor", torch.zeros(()))


def _old_realnvp(dim, n, hidden, depth):
    masks = [(torch.arange(dim) + i) % 2 for i in range(n)]  # alternating, as RealNVP builds them
    return _OldFlow([_OldAffine(m, hidden, depth) for m in masks], dim)


def _old_nice_random(dim, n, hidden, depth, seed):
    from genviz.core.flows.scaling import Scaling
    g = torch.Generator().manual_seed(seed)
    masks = []
    for _ in range(n):
        m = torch.zeros(dim)
        m[torch.randperm(dim, generator=g)[: dim // 2]] = 1
        masks.append(m)
    return _OldFlow([Scaling(dim), *(_OldAffine(m, hidden, depth, affine=False) for m in masks)], dim)


@pytest.mark.parametrize("dim", [2, 5])
def test_an_old_realnvp_state_dict_loads_and_gives_the_same_log_prob(dim):
    old = _randomize(_old_realnvp(dim, 4, 16, 2), seed=4)
    state = old.state_dict()
    model = registry.build("realnvp", data_dim=dim, seed=1, n_layers=4, hidden=16, depth=2)
    model.load_state_dict(state)  # strict: same keys, same shapes
    x = torch.randn(200, dim, generator=torch.Generator().manual_seed(5))
    assert same(model.log_prob(x), plain_log_prob(model, x))
    assert torch.isfinite(model.log_prob(x)).all()


def test_an_old_nice_state_dict_with_other_random_masks_loads():
    """A random partition comes from the seed; a loaded mask replaces the built one, and the split follows."""
    old = _randomize(_old_nice_random(5, 4, 16, 3, seed=123), seed=6)
    model = registry.build("nice", data_dim=5, seed=0, n_layers=4, hidden=16, partition="random")
    assert any(not torch.equal(a.mask, b.mask) for a, b in zip(model.layers[1:], old.layers[1:]))
    model.load_state_dict(old.state_dict())
    x = torch.randn(200, 5, generator=torch.Generator().manual_seed(7))
    assert same(model.log_prob(x), plain_log_prob(model, x))
    twin = copy.deepcopy(model).double()  # copies and casts keep the split
    assert torch.equal(twin.log_prob(x.double()), plain_log_prob(twin, x.double()))


def _adam_run(model, opt, xs):
    for x in xs:
        opt.zero_grad(set_to_none=True)
        loss = -model.log_prob(x).mean()
        loss.backward()
        opt.step()


def test_flat_adam_state_travels_both_ways_with_plain_adam():
    """FlatAdam's state_dict is Adam's: a run can move between them mid-way (checkpoints, old runs) and
    continue exactly; a model given new parameter storage re-binds the buffers."""
    g = torch.Generator().manual_seed(8)
    xs = [torch.randn(128, 2, generator=g) for _ in range(6)]
    ref = _randomize(registry.build("realnvp", data_dim=2, seed=0, n_layers=3, hidden=8))
    flat = copy.deepcopy(ref)
    ref_opt = torch.optim.Adam(ref.parameters(), lr=1e-2, foreach=False)
    flat_opt = FlatAdam(flat.parameters(), lr=1e-2)
    _adam_run(ref, ref_opt, xs[:2])
    _adam_run(flat, flat_opt, xs[:2])
    assert flat_opt._is_bound()  # the flat path ran
    # plain -> flat and flat -> plain, mid-run
    a, b = copy.deepcopy(flat), copy.deepcopy(ref)
    a_opt, b_opt = FlatAdam(a.parameters(), lr=1e-2), torch.optim.Adam(b.parameters(), lr=1e-2, foreach=False)
    a_opt.load_state_dict(copy.deepcopy(ref_opt.state_dict()))
    b_opt.load_state_dict(copy.deepcopy(flat_opt.state_dict()))
    for model, opt in ((ref, ref_opt), (flat, flat_opt), (a, a_opt), (b, b_opt)):
        _adam_run(model, opt, xs[2:4])
    for model in (flat, a, b):
        assert all(torch.equal(p, q) for p, q in zip(model.parameters(), ref.parameters()))
    with torch.no_grad():  # new parameter storage: the next step copies everything into fresh buffers
        for p in flat.parameters():
            p.data = p.data.clone()
    assert not flat_opt._is_bound()
    _adam_run(ref, ref_opt, xs[4:])
    _adam_run(flat, flat_opt, xs[4:])
    assert flat_opt._is_bound()
    assert all(torch.equal(p, q) for p, q in zip(flat.parameters(), ref.parameters()))
