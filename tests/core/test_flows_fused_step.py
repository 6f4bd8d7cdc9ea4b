"""fused_step's hand-written backward gives autograd's gradients, and train_step uses it (or falls back).

The reference is autograd through the model's own log_prob (the plain path): the same loss, and gradients
equal entry by entry at rtol 1e-10 in float64 (the batch sums run in another order, so not bit for bit).
In float32 an entry that is a sum cancelling to ~1e-3 of its terms (a coupling's bound gradient,
tanh(q) - q·(1 - tanh²q) at small q) has no 1e-5 agreement between any two summation orders, autograd's
own included; there the whole gradient, all parameters as one vector, agrees at rtol 1e-5 in norm.
50 training steps on either path give the same losses.
"""
import copy

import pytest
import torch

from genviz.core import config, gemm, registry, session
from genviz.core.flows import fused_step
from genviz.core.model import GenerativeModel
from decayed_adam import decayed_adam
from same_numbers import same

# every option the registry's RealNVP and MAF configs allow, each with depths, widths and dims around it
CASES = [
    ("realnvp", 2, {}), ("realnvp", 2, {"depth": 1, "hidden": 1, "n_layers": 1}),
    ("realnvp", 2, {"base": "diag", "depth": 3, "hidden": 8}), ("realnvp", 3, {"n_layers": 3, "hidden": 16}),
    ("realnvp", 6, {"hidden": 16, "depth": 1, "base": "diag"}), ("realnvp", 10, {"hidden": 8, "n_layers": 2}),
    ("maf", 2, {}), ("maf", 2, {"scale": "softplus"}), ("maf", 1, {"n_blocks": 2}), ("maf", 2, {"depth": 2, "hidden": 7, "n_blocks": 1}),
    ("maf", 3, {"actnorm": True, "permute": "random", "depth": 2, "hidden": 16}),
    ("maf", 4, {"scale": "softplus", "actnorm": True, "base": "diag", "hidden": 16}),
    ("maf", 3, {"scale": "softplus", "permute": "random", "depth": 1, "hidden": 5, "base": "diag"}),
    ("maf", 6, {"hidden": 16, "n_blocks": 2}),
]
# float32: gradients of ~1e6 in these randomized flows, products through oneDNN (see same_numbers.same)
TOL = {torch.float64: 1e-10, torch.float32: 1e-4}


@pytest.fixture
def fused_runs(monkeypatch):
    """A list that grows by one per fused step run (to tell which path a train_step took)."""
    runs, run = [], fused_step._run
    monkeypatch.setattr(fused_step, "_run", lambda *args: runs.append(1) or run(*args))
    return runs


def _randomize(model, seed=0, size=0.3):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():  # last layers start at zero (an identity flow): move every weight off it
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g, dtype=p.dtype) * size)
    return model


def _assert_grads_close(model, ref, tol):
    """float64: each entry within rtol (and tol of its tensor's scale, for entries that sum to ~0);
    float32: the whole gradient within rtol in norm."""
    pairs = list(zip(model.named_parameters(), ref.parameters()))
    assert all(p.grad is not None for (_, p), _ in pairs)
    if next(model.parameters()).dtype == torch.float32:
        g = torch.cat([p.grad.flatten() for (_, p), _ in pairs]).double()
        h = torch.cat([q.grad.flatten() for _, q in pairs]).double()
        assert float((g - h).norm()) <= tol * float(h.norm())
        return
    for (name, p), q in pairs:
        torch.testing.assert_close(p.grad, q.grad, rtol=tol, atol=tol * float(q.grad.abs().max()), msg=name)


def _backward(model, x):
    for p in model.parameters():
        p.grad = None
    loss = -model.log_prob(x).mean()
    loss.backward()
    return loss.detach()


@pytest.mark.parametrize("name,dim,cfg", CASES)
def test_fused_loss_and_gradients_are_autograds(name, dim, cfg):
    for dtype in (torch.float64, torch.float32):
        _check_gradients(name, dim, cfg, dtype)


def _check_gradients(name, dim, cfg, dtype):
    model = _randomize(registry.build(name, data_dim=dim, seed=0, **cfg)).to(dtype)
    ref = copy.deepcopy(model)
    for batch in (1, 7, 256):  # one point, odd sizes; buffers reused: each batch gets its own gradients
        for seed in (1, 2):
            xi = torch.randn(batch, dim, generator=torch.Generator().manual_seed(seed), dtype=dtype) * 1.5
            assert fused_step.covers(model, xi)
            if batch == 7 and seed == 2:  # every entry of every grad is set (train_step skips zero_grad)
                for p in model.parameters():
                    p.grad.fill_(float("nan"))
            loss = fused_step.nll_and_grads(model, xi)
            ref_loss = _backward(ref, xi)
            if dim == 2:  # the forward is the model's ops in the model's order
                assert same(loss, ref_loss)
            torch.testing.assert_close(loss, ref_loss, rtol=TOL[dtype], atol=0)
            _assert_grads_close(model, ref, TOL[dtype])


def test_a_wrong_gradient_is_caught():
    """The comparison above can fail: one coupling's scale gradient off by 1e-6 relative is seen."""
    model = _randomize(registry.build("realnvp", data_dim=2, seed=0)).double()
    ref = copy.deepcopy(model)
    x = torch.randn(64, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    fused_step.nll_and_grads(model, x)
    (-ref.log_prob(x).mean()).backward()
    model.layers[3].scale.grad.mul_(1 + 1e-6)
    with pytest.raises(AssertionError):
        _assert_grads_close(model, ref, TOL[torch.float64])


def _train(model, step, xs, grad_clip):
    train = config.make(config.TrainConfig, {"lr": 3e-3, "grad_clip": grad_clip})
    opts = model.configure_optimizers(train)
    return torch.stack([step(model, x, opts, train)["loss"] for x in xs])


@pytest.mark.parametrize("dtype,grad_clip", [(torch.float64, 0.0), (torch.float64, 0.5), (torch.float32, 0.0)])
@pytest.mark.parametrize("name,cfg", [("realnvp", {}), ("maf", {"actnorm": True}), ("maf", {"scale": "softplus"})])
def test_fifty_steps_match_the_autograd_path(name, cfg, dtype, grad_clip, fused_runs):
    """model.train_step (fused: the registry defaults are covered) vs GenerativeModel's autograd step."""
    fast = registry.build(name, data_dim=2, seed=0, **cfg).to(dtype)
    plain = copy.deepcopy(fast)
    g = torch.Generator().manual_seed(3)
    xs = []
    for _ in range(50):  # a banana: something to learn beyond ActNorm's Gaussian fit
        u = torch.randn(97, 2, generator=g, dtype=dtype)
        xs.append(torch.stack([u[:, 0], u[:, 0] ** 2 - 1 + 0.2 * u[:, 1]], 1))
    assert fused_step.covers(fast, xs[0])
    b = _train(plain, GenerativeModel.train_step, xs, grad_clip)
    assert not fused_runs
    a = _train(fast, type(fast).train_step, xs, grad_clip)
    assert len(fused_runs) == 50
    tol = 1e-9 if dtype == torch.float64 else 1e-4
    torch.testing.assert_close(a, b, rtol=tol, atol=0)
    assert a[-10:].mean() < a[:10].mean()  # it learned
    if dtype == torch.float64:  # (float32: Adam's step on a gradient rounding to ±0 can move a weight by ±lr)
        for p, q in zip(fast.parameters(), plain.parameters()):
            torch.testing.assert_close(p, q, rtol=tol, atol=tol)


def test_grad_clip_clips_the_fused_gradients():
    model = _randomize(registry.build("realnvp", data_dim=2, seed=0))
    train = config.make(config.TrainConfig, {"lr": 1e-3, "grad_clip": 1e-3})
    (opt,) = model.configure_optimizers(train)
    opt.step = lambda: None  # look at the gradients the optimizer would get
    model.train_step(torch.randn(64, 2, generator=torch.Generator().manual_seed(4)), [opt], train)
    norm = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in model.parameters()]))
    assert float(norm) == pytest.approx(1e-3, rel=1e-4)


def _plain_step_result(model, x):
    plain = copy.deepcopy(model)
    train = config.make(config.TrainConfig, {"lr": 1e-2, "grad_clip": 0.0})
    out = GenerativeModel.train_step(plain, x, plain.configure_optimizers(train), train)
    return out["loss"], plain


@pytest.mark.parametrize("name,cfg,why", [
    ("iaf", {}, "IAF's density needs D passes"), ("nice", {}, "additive couplings"),
    ("realnvp", {"frozen": True}, "a frozen parameter"), ("realnvp", {"x_grad": True}, "inputs need grad"),
    ("maf", {"hook": True}, "a gradient hook (distributed.py averages gradients in one)")])
def test_what_is_not_covered_trains_on_the_autograd_path(name, cfg, why, fused_runs):
    frozen, x_grad, hook = cfg.pop("frozen", False), cfg.pop("x_grad", False), cfg.pop("hook", False)
    model = _randomize(registry.build(name, data_dim=2, seed=0, **cfg))
    if frozen:
        model.layers[0].scale.requires_grad_(False)
    seen = []
    if hook:
        model.layers[-1].made.out.bias.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.clone()))
    x = torch.randn(33, 2, generator=torch.Generator().manual_seed(5)).requires_grad_(x_grad)
    assert not fused_step.covers(model, x), why
    ref_loss, ref = _plain_step_result(model, x)
    train = config.make(config.TrainConfig, {"lr": 1e-2, "grad_clip": 0.0})
    loss = model.train_step(x, model.configure_optimizers(train), train)["loss"]
    assert not fused_runs
    assert torch.equal(loss, ref_loss)
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), ref.parameters()))
    if frozen:
        assert model.layers[0].scale.grad is None
    if hook:
        assert len(seen) == 1 and seen[0].abs().sum() > 0


def test_the_session_trains_the_default_flows_on_the_fused_path(fused_runs):
    from genviz.core import data
    from genviz.core.session import Session

    for name in ("realnvp", "maf"):
        s = Session(name, data.load("moons", n=2000), None, {"steps": 3, "batch_size": 64}, with_arrays=False)
        for _ in s.run():
            pass
        assert s.step == 3 and len(fused_runs) == 3, name
        fused_runs.clear()


def test_no_grad_log_prob_and_sample_are_the_autograd_paths_numbers():
    for name, dim, cfg in CASES + [("iaf", 2, {}), ("nice", 3, {})]:
        for dtype in (torch.float64, torch.float32):
            _check_no_grad_paths(name, dim, cfg, dtype)


def _check_no_grad_paths(name, dim, cfg, dtype):
    """Under no_grad, log_prob and sample run fused_eval (shared buffers) where it covers the model: the
    same numbers as the graph-building path to rounding (float64: rtol 1e-10; fused_eval computes the
    conditioners' products in other shapes, whose sums run in another order); the rest (IAF, NICE, couplings
    summing a masked log-det row) take the plain path."""
    from genviz.core.flows import fused_eval

    model = _randomize(registry.build(name, data_dim=dim, seed=0, **cfg)).to(dtype)
    x = torch.randn(300, dim, generator=torch.Generator().manual_seed(1), dtype=dtype) * 1.5
    graph_lp = model.log_prob(x).detach()  # grad mode: the plain path
    z = model.base.sample(257, torch.Generator().manual_seed(2))
    graph_x = model.forward_with_trace(z)[0][-1].detach()
    with torch.no_grad():
        lp, xs = model.log_prob(x), model.sample(257, torch.Generator().manual_seed(2))
        covered = fused_eval.log_prob(model, x) is not None
    # float32: these randomized flows reach |log p| ~ 1e7, and a last-bit difference in a conditioner grows
    # through 8 couplings' exp(s) to ~1e-4 of it (float64 holds the formulas to 1e-10)
    assert same(lp, graph_lp, 1e-3, exact64=False) and same(xs, graph_x, 2e-3, exact64=False)
    assert covered == (name in ("realnvp", "maf") and (dim <= 4 or name == "maf"))
    if covered:  # fresh tensors: a second call does not overwrite the first's result
        with torch.no_grad():
            model.log_prob(x * 2), model.sample(257, torch.Generator().manual_seed(3))
        assert same(lp, graph_lp, 1e-3, exact64=False) and same(xs, graph_x, 2e-3, exact64=False)


def test_maf_sampling_follows_new_masks_and_orders():
    """fused_eval caches each MADE block's ordering and which outputs read hidden units; after new masks and
    orders (written in place, as load_state_dict does) sampling must use them, in a dimension where a
    coordinate in the middle of the ordering can read no hidden unit (5 hidden units of degrees 1..4)."""
    model = _randomize(registry.build("maf", data_dim=5, seed=0, hidden=5, n_blocks=2), size=0.5).double()
    for seed in (1, 2, 3):
        with torch.no_grad():
            fast = model.sample(300, torch.Generator().manual_seed(seed))
        z = model.base.sample(300, torch.Generator().manual_seed(seed))
        assert same(fast, model.forward_with_trace(z)[0][-1].detach(), exact64=False)
        for layer in model.layers:
            if hasattr(layer, "made"):
                layer.made.resample_masks(seed=seed, new_order=True)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("name,cfg", [("realnvp", {}), ("maf", {"actnorm": True}), ("maf", {"scale": "softplus"})])
def test_fused_gradients_on_cuda(name, cfg):
    model = _randomize(registry.build(name, data_dim=2, seed=0, **cfg)).double().cuda()
    ref = copy.deepcopy(model)
    x = torch.randn(257, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64).cuda()
    loss = fused_step.nll_and_grads(model, x)
    torch.testing.assert_close(loss, _backward(ref, x), rtol=1e-12, atol=0)
    _assert_grads_close(model, ref, TOL[torch.float64])
    graph = ref.log_prob(x).detach()
    with torch.no_grad():  # fused_eval
        torch.testing.assert_close(model.log_prob(x), graph, rtol=1e-12, atol=0)


def test_no_grad_after_inference_mode_on_the_same_shape():
    """Buffers made under torch.inference_mode() are inference tensors (no in-place writes outside it): a later
    no_grad call of the same shape must not reuse them (it raised "Inplace update to inference tensor")."""
    for name in ("realnvp", "maf"):
        model = _randomize(registry.build(name, data_dim=2, seed=0))
        x = torch.randn(50, 2, generator=torch.Generator().manual_seed(1))
        graph_lp, graph_x = model.log_prob(x).detach(), model.sample(40, torch.Generator().manual_seed(2)).detach()
        with torch.inference_mode():
            lp, xs = model.log_prob(x), model.sample(40, torch.Generator().manual_seed(2))
        with torch.no_grad():
            lp2, xs2 = model.log_prob(x), model.sample(40, torch.Generator().manual_seed(2))
        for a in (lp, lp2):
            assert same(a, graph_lp, exact64=False), name
        for a in (xs, xs2):
            assert same(a, graph_x, 2e-3, exact64=False), name


@pytest.mark.parametrize("name,cfg", [("realnvp", {}), ("maf", {"actnorm": True})])
def test_weight_decay_and_grad_clip_reach_the_fused_step_as_torchs_adam(name, cfg, fused_runs):
    """Session's optimizers pull the weights (not the biases, ActNorm's scales or shifts) by
    TrainConfig.weight_decay, FlatAdam still on its one flat buffer; the fused step with an active clip follows
    autograd + torch's Adam with the weights in a decayed group and the rest in another, and the decay is felt
    (a run without it ends elsewhere)."""
    train = config.make(config.TrainConfig, {"lr": 1e-2, "grad_clip": 0.5, "weight_decay": 0.2})
    model = registry.build(name, data_dim=2, seed=0, **cfg).double()
    ref, undecayed = copy.deepcopy(model), copy.deepcopy(model)
    opts = session.build_optimizers(model, train)
    session.apply_optimizer_settings(opts, train)  # what Session._set_lr does
    ref_opt = decayed_adam(ref, train)
    plain_opts = undecayed.configure_optimizers(train)
    g = torch.Generator().manual_seed(3)
    for _ in range(20):
        x = torch.randn(64, 2, generator=g, dtype=torch.float64) * 1.5
        ours = model.train_step(x, opts, train)["loss"]
        theirs = GenerativeModel.train_step(ref, x, [ref_opt], train)["loss"]
        undecayed.train_step(x, plain_opts, train)
        torch.testing.assert_close(ours, theirs, rtol=1e-9, atol=0)
    assert len(fused_runs) == 40  # model and undecayed; ref's step is autograd's
    assert opts[0]._flat is not None  # the pull left FlatAdam on its one-buffer path
    for p, q in zip(model.parameters(), ref.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-9, atol=1e-9)
    with torch.no_grad():
        assert max(float((p - q).abs().max()) for p, q in zip(model.parameters(), undecayed.parameters())) > 1e-4


@pytest.mark.parametrize("name,cfg", [("realnvp", {}), ("realnvp", {"hidden": 8, "n_layers": 2}), ("maf", {})])
def test_a_resumed_run_continues_the_straight_run_bit_for_bit(name, cfg):
    """Weights and Adam state copied into a fresh model and optimizer (what --resume does) continue exactly. The
    fused step writes products straight into p.grad and MKL rounds them by the output's address: without
    FlatAdam.bind before the first step, the resumed step wrote into fresh tensors and differed in the last bits."""
    train = config.make(config.TrainConfig, {"lr": 1e-2, "grad_clip": 0.0})
    g = torch.Generator().manual_seed(3)
    xs = [torch.randn(256, 2, generator=g) for _ in range(6)]
    straight = registry.build(name, data_dim=2, seed=0, **cfg)
    opts = straight.configure_optimizers(train)
    for x in xs[:3]:
        straight.train_step(x, opts, train)
    resumed = registry.build(name, data_dim=2, seed=0, **cfg)  # the run's config, as --resume builds it
    resumed.load_state_dict(straight.state_dict())
    resumed_opts = resumed.configure_optimizers(train)
    resumed_opts[0].load_state_dict(copy.deepcopy(opts[0].state_dict()))  # as from a file: torch's load aliases
    for x in xs[3:]:
        a, b = straight.train_step(x, opts, train)["loss"], resumed.train_step(x, resumed_opts, train)["loss"]
        assert torch.equal(a, b)
    assert all(torch.equal(p, q) for p, q in zip(straight.parameters(), resumed.parameters()))


def test_large_float32_batches_run_onednn_and_keep_the_numbers(onednn_calls, monkeypatch):
    """At 1024 and 4096 points the 64x64 products pass core/gemm.MIN_MACS and run through oneDNN: the loss,
    gradients, log_prob and samples still agree with the autograd path's to float32 rounding."""
    calls = onednn_calls
    model = _randomize(registry.build("realnvp", data_dim=2, seed=0), size=0.1)
    ref = copy.deepcopy(model)
    x = torch.randn(1024, 2, generator=torch.Generator().manual_seed(1))
    loss = fused_step.nll_and_grads(model, x)
    assert calls, "the training step's hidden products did not reach oneDNN"
    torch.testing.assert_close(loss, _backward(ref, x), rtol=1e-5, atol=0)
    _assert_grads_close(model, ref, 1e-4)
    calls.clear()
    xs = torch.randn(4096, 2, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        lp, smp = model.log_prob(xs), model.sample(4096, torch.Generator().manual_seed(3))
    assert calls, "log_prob / sample did not reach oneDNN"
    torch.testing.assert_close(lp, ref.log_prob(xs).detach(), rtol=1e-5, atol=1e-5)
    z = ref.base.sample(4096, torch.Generator().manual_seed(3))
    torch.testing.assert_close(smp, ref.forward_with_trace(z)[0][-1].detach(), rtol=1e-4, atol=1e-5)
