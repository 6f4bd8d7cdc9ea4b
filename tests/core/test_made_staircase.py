"""MADE's staircase fast path (genviz/core/autoregressive/staircase.py) against the dense autograd path.

The fast train_step's loss and gradients equal autograd's on the dense masked layers (float64 to 1e-10,
float32 to 1e-5), masked weights get exactly zero gradient, a few Adam steps stay on the dense trajectory,
the held-out logits keep the autoregressive property, and a model whose hidden units are not sorted (an
old checkpoint's) takes the gathering path with the same numbers.
"""
from __future__ import annotations

import copy

import pytest
import torch

from genviz.core import config, registry, session
from genviz.core.autoregressive import staircase
from genviz.core.model import GenerativeModel
from decayed_adam import decayed_adam

SHAPE = (1, 5, 7)  # D = 35: odd sizes everywhere
TRAIN = config.make(config.TrainConfig, {"lr": 1e-2, "grad_clip": 0.0})
CASES = [dict(hidden=16), dict(hidden=17, depth=2), dict(hidden=9, direct=False),
         dict(hidden=13, order="random", order_seed=2), dict(hidden=11, depth=2, order="snake", direct=False)]


class Grabber:
    """An optimizer that only records the gradients train_step left (and zeroes nothing)."""

    def __init__(self, model):
        self.model, self.grads = model, None

    def zero_grad(self, set_to_none=True):
        for p in self.model.parameters():
            p.grad = None

    def step(self):
        self.grads = {n: p.grad.clone() for n, p in self.model.named_parameters() if p.grad is not None}


def _made(dtype, device="cpu", **kw):
    return registry.build("made", data_shape=SHAPE, seed=0, **kw).to(device, dtype)


def _x(dtype, n=9, seed=0):
    return torch.bernoulli(torch.full((n, *SHAPE), 0.4, dtype=dtype), generator=torch.Generator().manual_seed(seed))


def _dense_grads(model, x):
    model.zero_grad(set_to_none=True)
    loss = model.loss(x)[0]
    loss.backward()
    return loss.detach(), {n: p.grad for n, p in model.named_parameters() if p.grad is not None}


def _check_against_dense(model, dtype):
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == torch.float64 else dict(rtol=1e-5, atol=1e-6)
    ref = copy.deepcopy(model)
    x = _x(dtype).to(model.net.out.weight.device)
    opt = Grabber(model)
    out = model.train_step(x, [opt], TRAIN)
    assert model._plan is not None  # the fast path ran (a silent fallback would make this test vacuous)
    loss, grads = _dense_grads(ref, x)
    torch.testing.assert_close(out["loss"], loss, **tol)
    assert set(opt.grads) == set(grads) and "direct.bias" not in grads
    for name, g in grads.items():
        torch.testing.assert_close(opt.grads[name], g, **tol, msg=name)
    for layer, name in [(model.net.layers[0], "net.layers.0.weight"), (model.net.out, "net.out.weight")]:
        assert torch.equal(opt.grads[name][layer.mask == 0], torch.zeros_like(opt.grads[name][layer.mask == 0]))
    return opt


@pytest.mark.parametrize("kw", CASES)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("device", ["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
def test_fast_step_loss_and_gradients_are_autograds_on_the_dense_layers(kw, dtype, device):
    """On a GPU the written-out step runs with one block per layer (staircase.GPU_BLOCKS)."""
    model = _made(dtype, device, **kw)
    _check_against_dense(model, dtype)
    expected = staircase.BLOCKS if device == "cpu" else staircase.GPU_BLOCKS
    assert max(len(layer.blocks) for layer in model._plan.hidden) == min(expected, kw["hidden"])


def test_one_block_is_the_same_step_as_six(monkeypatch):
    """The GPU's plan (one block per layer) on a CPU: autograd's loss and gradients too."""
    model = _made(torch.float64, hidden=16)
    monkeypatch.setattr(staircase, "BLOCKS", staircase.GPU_BLOCKS)
    _check_against_dense(model, torch.float64)
    assert all(len(layer.blocks) == 1 for layer in model._plan.hidden)


def test_hidden_units_are_stored_by_degree_and_the_function_is_the_drawn_one():
    model = _made(torch.float64, hidden=16, depth=2)
    # the staircase: every row of every mask reads a prefix that grows with the row (generation order)
    for m in model.masks()[:-1]:
        ext = (m * torch.arange(1, m.shape[1] + 1)).amax(1)
        assert torch.equal(ext, ext.sort().values)
    # relabelling hidden units is a permutation of the same network: undo it and the logits are unchanged
    perm = torch.randperm(16, generator=torch.Generator().manual_seed(1))
    shuffled = _shuffle_hidden(copy.deepcopy(model), 0, perm)
    x = _x(torch.float64).flatten(1)
    with torch.enable_grad():  # the dense path on both
        torch.testing.assert_close(shuffled.logits(x), model.logits(x), rtol=1e-12, atol=1e-12)


def _shuffle_hidden(model, i, perm):
    """Hidden layer i's units in another order (weights and masks moved together): an unsorted model."""
    layers = [*model.net.layers, model.net.out]
    with torch.no_grad():
        for t in (layers[i].weight, layers[i].bias, layers[i].mask):
            t.copy_(t[perm])
        for t in (layers[i + 1].weight, layers[i + 1].mask):
            t.copy_(t[:, perm])
    return model


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_an_unsorted_checkpoint_loads_and_takes_the_gathering_path(dtype):
    old = _shuffle_hidden(_made(dtype, hidden=16, depth=2), 1,
                          torch.randperm(16, generator=torch.Generator().manual_seed(3)))
    model = _made(dtype, hidden=16, depth=2)
    model.load_state_dict(old.state_dict())
    x = _x(dtype)
    with torch.no_grad():
        torch.testing.assert_close(model.log_prob(x), old.log_prob(x), rtol=1e-5, atol=1e-5)
    _check_against_dense(model, dtype)
    assert model._plan.hidden[1].rows is not None  # layer 2's rows gathered into degree order


def test_held_out_logits_are_autoregressive_and_equal_the_dense_ones():
    model = _made(torch.float64, hidden=16, depth=2, order="random", order_seed=5)
    x = _x(torch.float64, n=4).flatten(1)
    with torch.no_grad():
        fast = model.logits(x)
        plan = model._plan
    assert plan is not None and plan.in_perm is not None
    with torch.enable_grad():
        torch.testing.assert_close(fast, model.logits(x), rtol=1e-12, atol=1e-12)
    pos = torch.argsort(model.order)  # pos[d] = step at which variable d is generated
    for d in range(x.shape[1]):
        flipped = x.clone()
        flipped[:, d] = 1 - flipped[:, d]
        with torch.no_grad():
            changed = (model.logits(flipped) != fast).any(0)
        assert not changed[pos <= pos[d]].any()  # nothing at or before d's step sees x_d


def test_adam_steps_follow_the_dense_trajectory():
    model = _made(torch.float32, hidden=24, depth=1)
    ref = copy.deepcopy(model)
    opts, ref_opts = model.configure_optimizers(TRAIN), ref.configure_optimizers(TRAIN)
    for i in range(4):
        x = _x(torch.float32, n=16, seed=10 + i)
        ours = model.train_step(x, opts, TRAIN)["loss"]
        theirs = GenerativeModel.train_step(ref, x, ref_opts, TRAIN)["loss"]
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=0)
    for (name, p), q in zip(model.named_parameters(), ref.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-6, msg=name)
    masked = model.net.out.mask == 0
    assert torch.equal(opts[0].state[model.net.out.weight]["exp_avg"][masked], torch.zeros(int(masked.sum())))


def test_several_mask_sets_fall_back_to_the_dense_step():
    model = _made(torch.float32, hidden=12, num_masks=3)
    opts = model.configure_optimizers(TRAIN)
    loss = model.train_step(_x(torch.float32), opts, TRAIN)["loss"]
    assert model._plan is None and torch.isfinite(loss)


def test_a_run_saved_with_flat_adam_resumes_fused_on_the_same_trajectory():
    """An older checkpoint's optimizer state (FlatAdam, groups saying fused=None) loads into the fused Adam,
    which stays fused and continues as the for-loop Adam would."""
    from genviz.core.flows.flat_adam import FlatAdam
    from genviz.core.session import load_optimizer_states

    model = _made(torch.float32, hidden=24)
    old_opt = FlatAdam(model.parameters(), lr=1e-2)
    for i in range(3):
        model.train_step(_x(torch.float32, n=16, seed=i), [old_opt], TRAIN)
    saved = copy.deepcopy(old_opt.state_dict())
    ref = copy.deepcopy(model)
    ref_opt = torch.optim.Adam(ref.parameters(), lr=1e-2, foreach=False)
    ref_opt.load_state_dict(copy.deepcopy(saved))
    opts = model.configure_optimizers(TRAIN)
    load_optimizer_states(opts, [saved])
    assert opts[0].param_groups[0]["fused"]
    for i in range(3, 6):
        x = _x(torch.float32, n=16, seed=i)
        ours = model.train_step(x, opts, TRAIN)["loss"]
        theirs = GenerativeModel.train_step(ref, x, [ref_opt], TRAIN)["loss"]
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=0)
    assert all(float(s["step"]) == 6 for s in opts[0].state.values())
    for (name, p), q in zip(model.named_parameters(), ref.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-6, msg=name)


def test_the_default_mnist_made_trains_through_a_session_on_the_staircase():
    from genviz.core import data as data_mod
    from genviz.core.session import Session

    g = torch.Generator().manual_seed(0)
    ds = data_mod.Dataset("tiny", "image", *(torch.rand(n, 1, 28, 28, generator=g) for n in (64, 16, 8)),
                          binarize=True)
    session = Session("made", ds, None, {"steps": 2, "batch_size": 8, "snapshot_every": 1}, with_arrays=False)
    snaps = list(session.run())
    assert snaps[-1].status == "done"
    model = session.model
    plan = model._plan  # (the snapshots' held-out logits also build it: only training steps fill wm)
    assert plan is not None and plan.hidden[0].wm is not None  # the staircase trained
    assert all(pl.rows is None for pl in plan.hidden)  # sorted: no gather
    assert session.optimizers[0].param_groups[0]["fused"]


def test_weight_decay_and_grad_clip_reach_the_fast_step_as_the_dense_one():
    """Session's optimizers pull the weights (not the biases) by TrainConfig.weight_decay; the staircase step
    leaves that L2 term and the clipping to the same optimizer step and clip as the dense path, so both follow
    one trajectory: torch's Adam with the weights in a decayed group and the biases in another."""
    train = config.make(config.TrainConfig, {"lr": 1e-2, "grad_clip": 0.5, "weight_decay": 0.2})
    model = _made(torch.float32, hidden=24, depth=2)
    ref, undecayed = copy.deepcopy(model), copy.deepcopy(model)
    opts = session.build_optimizers(model, train)
    session.apply_optimizer_settings(opts, train)  # what Session._set_lr does
    ref_opt = decayed_adam(ref, train)
    plain_opts = undecayed.configure_optimizers(train)
    for i in range(4):
        x = _x(torch.float32, n=16, seed=20 + i)
        ours = model.train_step(x, opts, train)["loss"]
        theirs = GenerativeModel.train_step(ref, x, [ref_opt], train)["loss"]
        undecayed.train_step(x, plain_opts, train)
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=0)
    assert model._plan is not None and model._plan.hidden[0].wm is not None  # the fast step ran
    for (name, p), q, r in zip(model.named_parameters(), ref.parameters(), undecayed.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-6, msg=name)
    masked = model.net.out.mask == 0  # the L2 term moves masked weights too, as on the dense path
    assert not torch.equal(model.net.out.weight[masked], undecayed.net.out.weight[masked])


def test_gradient_hooks_send_the_step_through_autograd():
    """distributed.py averages gradients across torchrun ranks in post-accumulate hooks, which only autograd
    runs: with a hook on a parameter the step is the dense one and every hook sees its gradient."""
    model = _made(torch.float32, hidden=12)
    seen = []
    for name, p in model.named_parameters():
        if p.requires_grad:
            p.register_post_accumulate_grad_hook(lambda q, name=name: seen.append(name))
    model.train_step(_x(torch.float32), model.configure_optimizers(TRAIN), TRAIN)
    assert sorted(seen) == sorted(n for n, p in model.named_parameters() if p.requires_grad)
    assert model._plan is None or model._plan.hidden[0].wm is None  # the staircase did not train


@pytest.mark.parametrize("kw", [dict(hidden=16, depth=2), dict(hidden=13, order="random", order_seed=2)])
def test_sorting_the_hidden_units_keeps_the_drawn_function(kw, monkeypatch):
    """The model built with its hidden units sorted by degree computes what the same seed drew unsorted
    (an older build's model): the sort moves every unit's weights, bias, mask row and outgoing column together."""
    from genviz.core.autoregressive.made_model import MADEModel

    model = _made(torch.float64, **kw)
    monkeypatch.setattr(MADEModel, "_sort_hidden_units", lambda self: None)
    drawn = _made(torch.float64, **kw)
    assert not torch.equal(model.net.layers[0].mask, drawn.net.layers[0].mask)  # the sort did move units
    x = _x(torch.float64, n=5).flatten(1)
    with torch.enable_grad():  # the dense path on both
        torch.testing.assert_close(model.logits(x), drawn.logits(x), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(model.connectivity(), drawn.connectivity(), rtol=0, atol=0)


def test_the_held_out_binarization_is_drawn_once_per_data_set_and_again_when_it_changes():
    """Every model's snapshot evaluates model.held_out_batch: the fixed seed-0 Bernoulli draw of the first n
    held-out examples, drawn once (not at every snapshot), and drawn again when the held-out set changes."""
    from genviz.core import data as data_mod
    from genviz.core.model import held_out_batch

    g = torch.Generator().manual_seed(0)
    ds = data_mod.Dataset("tiny", "image", *(torch.rand(n, *SHAPE, generator=g) for n in (20, 30, 5)), binarize=True)

    def fresh():
        return torch.bernoulli(ds.val[:2048], generator=torch.Generator().manual_seed(0))

    x = held_out_batch(ds, 2048, torch.float32)
    assert torch.equal(x, fresh()) and held_out_batch(ds, 2048, torch.float32) is x
    model = _made(torch.float32, hidden=16)
    assert model.val_metrics(ds) == model.evaluate(fresh())
    ds.val.mul_(0.5)
    assert torch.equal(held_out_batch(ds, 2048, torch.float32), fresh())
    assert model.val_metrics(ds) == model.evaluate(fresh())
