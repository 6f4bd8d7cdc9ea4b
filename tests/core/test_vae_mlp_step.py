"""The VAE's written-out training step (genviz/core/vae/mlp_step.py) against autograd on the same model.

Same loss terms and gradients for Rec + β·KL (float64 to 1e-10, float32 to 1e-5) at several depths and sizes
and β ≠ 1; a few Adam steps stay on autograd's trajectory; models it does not cover (IWAE's objective, the
autoregressive decoder, a Gaussian decoder) train through autograd; val_metrics reports what it did before
(one encoder pass fewer, the held-out binarization drawn once).
"""
from __future__ import annotations

import copy

import pytest
import torch

from genviz.core import config, registry, session
from genviz.core.model import GenerativeModel
from decayed_adam import decayed_adam
from genviz.core.vae import mlp_step, viz
from genviz.core.vae.vae import active_units

SHAPE = (1, 5, 7)
TRAIN = config.make(config.TrainConfig, {"lr": 1e-2, "grad_clip": 0.0})
CASES = [dict(z_dim=3, hidden=7, depth=1), dict(z_dim=4, hidden=9, depth=2, beta=0.5),
         dict(z_dim=1, hidden=5, depth=3, beta=2.0)]


class Grabber:
    def __init__(self, model):
        self.model, self.grads = model, None

    def zero_grad(self, set_to_none=True):
        for p in self.model.parameters():
            p.grad = None

    def step(self):
        self.grads = {n: p.grad.clone() for n, p in self.model.named_parameters()}


def _x(dtype, n=6, seed=0):
    return torch.bernoulli(torch.full((n, *SHAPE), 0.4, dtype=dtype), generator=torch.Generator().manual_seed(seed))


# on a GPU the written-out step runs too (its first layer then reads every column)
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("kw", CASES)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("device", DEVICES)
def test_written_out_step_is_autograds_loss_and_gradients(kw, dtype, device, monkeypatch):
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == torch.float64 else dict(rtol=1e-5, atol=1e-6)
    model = registry.build("vae", data_shape=SHAPE, seed=0, **kw).to(device, dtype)
    ref = copy.deepcopy(model)
    calls = []
    real = mlp_step.train_step
    monkeypatch.setattr(mlp_step, "train_step", lambda *a: calls.append(1) or real(*a))
    x, opt = _x(dtype).to(device), Grabber(model)
    with torch.random.fork_rng():
        torch.manual_seed(3)
        out = model.train_step(x, [opt], TRAIN)
    assert calls  # the written-out step ran
    with torch.random.fork_rng():
        torch.manual_seed(3)  # the same ε
        loss, terms = ref.loss(x)
    loss.backward()
    torch.testing.assert_close(out["loss"], loss.detach(), **tol)
    for k in ("nelbo", "rec", "kl"):
        torch.testing.assert_close(out[k], terms[k], **tol)
    assert list(out) == ["loss", "nelbo", "rec", "kl"]
    for name, p in ref.named_parameters():
        torch.testing.assert_close(opt.grads[name], p.grad, **tol, msg=name)


def test_adam_steps_follow_autograds_trajectory():
    model = registry.build("vae", data_shape=SHAPE, seed=0, z_dim=3, hidden=11, depth=1)
    ref = copy.deepcopy(model)
    opts, ref_opts = model.configure_optimizers(TRAIN), ref.configure_optimizers(TRAIN)
    for i in range(5):
        x = _x(torch.float32, n=8, seed=i)
        with torch.random.fork_rng():
            torch.manual_seed(i)
            ours = model.train_step(x, opts, TRAIN)["loss"]
        with torch.random.fork_rng():
            torch.manual_seed(i)
            theirs = GenerativeModel.train_step(ref, x, ref_opts, TRAIN)["loss"]
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=0)
    for (name, p), q in zip(model.named_parameters(), ref.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-6, msg=name)


@pytest.mark.parametrize("name, kw, shape", [("iwae", {}, SHAPE), ("vae", dict(decoder="autoregressive"), SHAPE),
                                              ("vae", {}, (2,))])
def test_models_it_does_not_cover_train_through_autograd(name, kw, shape, monkeypatch):
    model = registry.build(name, data_shape=shape, seed=0, **kw)
    monkeypatch.setattr(mlp_step, "train_step", lambda *a: pytest.fail("written-out step used"))
    x = _x(torch.float32) if len(shape) > 1 else torch.randn(6, 2)
    out = model.train_step(x, model.configure_optimizers(TRAIN), TRAIN)
    assert torch.isfinite(out["loss"])


def test_val_metrics_are_the_two_pass_values():
    from genviz.core import data as data_mod

    ds = data_mod.Dataset("tiny", "image", torch.rand(50, *SHAPE), torch.rand(40, *SHAPE), torch.rand(10, *SHAPE),
                          binarize=True)
    model = registry.build("vae", data_shape=SHAPE, seed=0, z_dim=3, hidden=7, depth=1)
    with torch.no_grad():
        got = model.val_metrics(ds)
        x = viz.fixed_val(ds, 1000, model.dtype)
        nelbo, kl, rec = model.negative_elbo_bound(x, model.fixed_generator())
        au, _ = active_units(model.encode(x)[0])
    assert got == {"nelbo": float(nelbo), "kl": float(kl), "rec": float(rec), "au": float(au)}
    with torch.no_grad():
        ds.val.mul_(0.5)  # the held-out data changed in place: drawn again
        again = model.val_metrics(ds)
        x = viz.fixed_val(ds, 1000, model.dtype)
        assert again["nelbo"] == float(model.negative_elbo_bound(x, model.fixed_generator())[0])


def test_first_layer_over_the_batchs_nonzero_columns_only(monkeypatch):
    """Sparse binary input (most columns 0 in the whole batch): the compact product gives autograd's numbers
    and exactly zero gradient for the weights of the skipped columns."""
    model = registry.build("vae", data_shape=SHAPE, seed=0, z_dim=3, hidden=7, depth=2).double()
    ref = copy.deepcopy(model)
    x = torch.bernoulli(torch.full((6, *SHAPE), 0.1, dtype=torch.float64), generator=torch.Generator().manual_seed(7))
    skipped = (x.flatten(1) == 0).all(0)
    assert skipped.numel() * (1 - mlp_step.COMPACT) <= int(skipped.sum()) < skipped.numel()  # compact path taken
    seen = []
    real = mlp_step._active_columns
    monkeypatch.setattr(mlp_step, "_active_columns", lambda xf: seen.append(real(xf)) or seen[-1])
    opt = Grabber(model)
    for p in model.parameters():  # last step's gradients still there: every entry must be overwritten
        p.grad = torch.full_like(p, 7.0)
    with torch.random.fork_rng():
        torch.manual_seed(1)
        out = model.train_step(x, [opt], TRAIN)
    assert seen and seen[0] is not None and len(seen[0]) == int((~skipped).sum())
    with torch.random.fork_rng():
        torch.manual_seed(1)
        loss = ref.loss(x)[0]
    loss.backward()
    torch.testing.assert_close(out["loss"], loss.detach(), rtol=1e-10, atol=0)
    for name, p in ref.named_parameters():
        torch.testing.assert_close(opt.grads[name], p.grad, rtol=1e-10, atol=1e-12, msg=name)
    assert torch.equal(opt.grads["enc.0.weight"][:, skipped], torch.zeros(7, int(skipped.sum()), dtype=torch.float64))


def test_adam_is_torchs_fused_one_and_flat_adam_where_there_is_none(monkeypatch):
    from genviz.core import fused_adam
    from genviz.core.flows.flat_adam import FlatAdam

    model = registry.build("vae", data_shape=SHAPE, seed=0, z_dim=3, hidden=7, depth=1)
    assert model.configure_optimizers(TRAIN)[0].param_groups[0]["fused"]

    def old_torch(params, lr):  # what torch < 2.4 says to fused=True on a CPU
        raise RuntimeError("`fused=True` requires all the params to be floating point Tensors of supported devices")

    monkeypatch.setattr(fused_adam, "FusedAdam", old_torch)
    assert type(fused_adam.adam(model.parameters(), 1e-3)) is fused_adam.UnfusedAdam
    monkeypatch.undo()
    opt = fused_adam.adam(model.double().parameters(), 1e-3)  # float64: no fused kernel
    assert type(opt) is fused_adam.UnfusedAdam and isinstance(opt, FlatAdam)


def test_a_fused_runs_state_resumes_on_flat_adam_where_torch_has_no_fused_adam(monkeypatch):
    """A run saved with the fused Adam (groups say fused=True), resumed where there is none (torch < 2.4):
    FlatAdam's own step, not a call into the missing fused kernel, on the for-loop Adam's trajectory."""
    from genviz.core import fused_adam

    model = registry.build("vae", data_shape=SHAPE, seed=0, z_dim=3, hidden=7, depth=1)
    opt = model.configure_optimizers(TRAIN)[0]
    for i in range(2):
        model.train_step(_x(torch.float32, seed=i), [opt], TRAIN)
    saved = copy.deepcopy(opt.state_dict())
    assert saved["param_groups"][0]["fused"]
    ref = copy.deepcopy(model)
    ref_opt = torch.optim.Adam(ref.parameters(), lr=1e-2, foreach=False)
    ref_opt.load_state_dict(copy.deepcopy(saved))
    ref_opt.param_groups[0]["fused"] = None
    def old_torch(params, lr):
        raise RuntimeError("`fused=True` requires all the params to be floating point Tensors of supported devices")

    monkeypatch.setattr(fused_adam, "FusedAdam", old_torch)
    opt = model.configure_optimizers(TRAIN)[0]
    opt.load_state_dict(saved)
    for i in range(2, 4):
        x = _x(torch.float32, seed=i)
        with torch.random.fork_rng():
            torch.manual_seed(i)
            model.train_step(x, [opt], TRAIN)
            torch.manual_seed(i)
            GenerativeModel.train_step(ref, x, [ref_opt], TRAIN)
    assert not opt.param_groups[0]["fused"] and opt._flat is not None  # FlatAdam's flat path ran
    for (name, p), q in zip(model.named_parameters(), ref.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-7, msg=name)


def test_the_default_mnist_vae_trains_through_a_session_on_the_written_out_step(monkeypatch):
    from genviz.core import data as data_mod
    from genviz.core.session import Session

    calls = []
    real = mlp_step.train_step
    monkeypatch.setattr(mlp_step, "train_step", lambda *a: calls.append(1) or real(*a))
    g = torch.Generator().manual_seed(0)
    ds = data_mod.Dataset("tiny", "image", *(torch.rand(n, 1, 28, 28, generator=g) for n in (64, 16, 8)),
                          binarize=True)
    session = Session("vae", ds, None, {"steps": 3, "batch_size": 8, "snapshot_every": 1}, with_arrays=False)
    snaps = list(session.run())
    assert snaps[-1].status == "done" and len(calls) == 3
    assert session.optimizers[0].param_groups[0]["fused"]


def test_weight_decay_and_grad_clip_reach_the_written_out_step_as_autograds(monkeypatch):
    """Session's optimizers pull the weights (not the biases) by TrainConfig.weight_decay; the written-out step
    leaves that L2 term and the clipping (active here: the gradient norm starts ~2.5) to the same optimizer step
    and clip as autograd's: torch's Adam with the weights in a decayed group and the biases in another."""
    train = config.make(config.TrainConfig, {"lr": 1e-2, "grad_clip": 0.5, "weight_decay": 0.2})
    model = registry.build("vae", data_shape=SHAPE, seed=0, z_dim=3, hidden=11, depth=1)
    ref, undecayed = copy.deepcopy(model), copy.deepcopy(model)
    opts = session.build_optimizers(model, train)
    session.apply_optimizer_settings(opts, train)  # what Session._set_lr does
    ref_opt = decayed_adam(ref, train)
    plain_opts = undecayed.configure_optimizers(train)
    calls = []
    real = mlp_step.train_step
    monkeypatch.setattr(mlp_step, "train_step", lambda *a: calls.append(1) or real(*a))
    for i in range(4):
        x = _x(torch.float32, n=8, seed=20 + i)
        with torch.random.fork_rng():
            torch.manual_seed(i)
            ours = model.train_step(x, opts, train)["loss"]
            torch.manual_seed(i)
            theirs = GenerativeModel.train_step(ref, x, [ref_opt], train)["loss"]
            torch.manual_seed(i)
            undecayed.train_step(x, plain_opts, train)
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=0)
    assert len(calls) == 8  # model's and undecayed's steps took the written-out path
    for (name, p), q, r in zip(model.named_parameters(), ref.parameters(), undecayed.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-6, msg=name)
        assert not torch.equal(p, r), name  # the decay made a difference


def test_gradient_hooks_send_the_step_through_autograd(monkeypatch):
    """distributed.py averages gradients across torchrun ranks in post-accumulate hooks, which only autograd
    runs: with a hook on a parameter the step is autograd's and every hook sees its gradient."""
    model = registry.build("vae", data_shape=SHAPE, seed=0, z_dim=3, hidden=7, depth=1)
    monkeypatch.setattr(mlp_step, "train_step", lambda *a: pytest.fail("written-out step used"))
    seen = []
    for name, p in model.named_parameters():
        p.register_post_accumulate_grad_hook(lambda q, name=name: seen.append(name))
    model.train_step(_x(torch.float32), model.configure_optimizers(TRAIN), TRAIN)
    assert sorted(seen) == sorted(n for n, _ in model.named_parameters())


def test_a_nan_or_negative_input_column_is_kept():
    """The compact first layer drops only columns that are exactly 0 in the whole batch: a column whose one
    nonzero is negative, or NaN, stays (a bad input must still reach the loss, not vanish)."""
    x = torch.zeros(4, 10)
    x[1, 2], x[3, 5], x[0, 7] = -1.0, float("nan"), 1.0
    assert mlp_step._active_columns(x).tolist() == [2, 5, 7]
