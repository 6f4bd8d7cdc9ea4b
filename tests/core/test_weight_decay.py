"""weight_decay pulls a model's weights towards 0 and leaves its biases and scales alone (weight_decay.py)."""
from __future__ import annotations

import pytest
import torch

from genviz.core import config, registry, session

CASES = [("fvsbn", {"data_shape": (1, 4, 4)}), ("made", {"data_shape": (1, 4, 4), "hidden": 8}),
         ("vae", {"data_shape": (1, 4, 4), "hidden": 8, "z_dim": 2}),
         ("maf", {"data_dim": 2, "actnorm": True}), ("gan", {"data_dim": 2})]


def _one_step_without_data(name, kw, pulls: dict, fill):
    """`name` with every parameter set by `fill`, after one step of Session's optimizers (lr 1e-2, `pulls`) on
    zero data gradients: (model, the parameters before, the ids of the pulled weights)."""
    model = registry.build(name, seed=0, **kw)
    train = config.make(config.TrainConfig, {"lr": 1e-2, **pulls})
    opts = session.build_optimizers(model, train)
    session.apply_optimizer_settings(opts, train)
    with torch.no_grad():
        for p in model.parameters():
            fill(p)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    for opt in opts:
        opt.step()
    return model, before, {id(p) for p in model.decayed_parameters()}


@pytest.mark.parametrize("name,kw", CASES)
def test_decay_moves_the_weights_and_not_the_biases(name, kw):
    """With zero data gradients, a step of Session's optimizers under weight_decay shrinks every decayed weight
    and leaves every other parameter exactly where it was (Adam's step is 0 where the gradient is)."""
    model, before, weights = _one_step_without_data(name, kw, {"weight_decay": 0.5}, lambda p: p.fill_(0.5))
    assert weights and len(weights) < len(before)
    for n, p in model.named_parameters():
        if id(p) in weights:
            assert (p.detach().abs() < before[n].abs()).all(), n
        else:
            assert torch.equal(p.detach(), before[n]), n


def test_fvsbn_decays_its_packed_weights_not_its_biases():
    model = registry.build("fvsbn", data_shape=(1, 4, 4), seed=0)
    assert [id(p) for p in model.decayed_parameters()] == [id(model.alpha)]


def test_a_state_saved_with_adams_own_decay_loads_without_it():
    """Runs saved before the pull kept λ in Adam's weight_decay on every tensor, biases included: loaded and
    set by the config, that decay is 0 and λ is the pull's."""
    model = registry.build("made", data_shape=(1, 4, 4), seed=0, hidden=8)
    old = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=0.3).state_dict()
    train = config.make(config.TrainConfig, {"weight_decay": 0.3})
    opts = session.build_optimizers(model, train)
    session.load_optimizer_states(opts, [old])
    session.apply_optimizer_settings(opts, train)
    assert [(g["weight_decay"], g["l2"]) for g in opts[0].param_groups] == [(0.0, 0.3)]


def test_optimizers_without_the_pull_refuse_a_decay():
    """A trainer that skipped build_optimizers would silently train without decay: it is told instead."""
    model = registry.build("made", data_shape=(1, 4, 4), seed=0, hidden=8)
    train = config.make(config.TrainConfig, {"weight_decay": 0.1})
    with pytest.raises(RuntimeError, match="build_optimizers"):
        session.apply_optimizer_settings(model.configure_optimizers(train), train)
    session.apply_optimizer_settings(model.configure_optimizers(train), config.make(config.TrainConfig, {}))


@pytest.mark.parametrize("name,kw", CASES)
def test_l1_moves_each_weight_by_the_learning_rate_towards_zero(name, kw):
    """With zero data gradients the gradient is l1·sign(w), and Adam's first step is lr·sign(gradient): every
    weight, of either sign, moves exactly lr towards 0; every other parameter stays where it was."""
    signs = torch.Generator().manual_seed(1)
    model, before, weights = _one_step_without_data(
        name, kw, {"l1": 0.3}, lambda p: p.copy_(torch.where(torch.rand(p.shape, generator=signs) < 0.5, 0.5, -0.5)))
    for n, p in model.named_parameters():
        if id(p) in weights:
            expect = before[n] - 1e-2 * torch.sign(before[n])
            assert torch.allclose(p.detach(), expect, atol=1e-6), n
        else:
            assert torch.equal(p.detach(), before[n]), n


def test_l1_is_set_live_and_reaches_the_optimizer():
    """`set l1 ...` while training: the running optimizers carry it from the next step."""
    from genviz.core import data

    s = session.Session("realnvp", data.load("moons", n=200, seed=0), model_config={"hidden": 8, "n_layers": 2},
                        train={"steps": 4, "batch_size": 32, "snapshot_every": 2})
    run = s.run()
    next(run)
    s.send("set", "l1", 2e-4)
    for _ in run:
        pass
    assert s.train.l1 == 2e-4
    assert all(g["l1"] == 2e-4 for opt in s.optimizers for g in opt.param_groups)


def test_a_negative_l1_is_refused_naming_the_field():
    with pytest.raises(config.ConfigError, match="l1"):
        config.make(config.TrainConfig, {"l1": -1e-4})
