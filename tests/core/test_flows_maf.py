"""MAF / IAF blocks: autoregressive structure, the course default, speed table, and MAF→IAF distillation."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.autograd.functional import jacobian

from genviz.core import checkpoint, data, registry
from genviz.core.config import ConfigError
from genviz.core.flows.maf import MaskedAffine, speed_table


def perturbed_block(dim: int, mode: str, seed: int) -> MaskedAffine:
    torch.manual_seed(seed)
    block = MaskedAffine(dim, (24, 24), mode, order=torch.randperm(dim)).double()
    with torch.no_grad():
        for p in block.parameters():
            p.add_(0.5 * torch.randn_like(p))
    return block


@pytest.mark.parametrize("mode", ("maf", "iaf"))
@pytest.mark.parametrize("seed", range(3))
def test_made_jacobian_is_strictly_triangular_in_its_ordering(mode, seed):
    """∂(μ, α)_i/∂v_j ≠ 0 only when j comes before i in the block's ordering (and the mask's paths agree)."""
    dim = 5
    block = perturbed_block(dim, mode, seed)
    pos = torch.empty(dim, dtype=torch.long)
    pos[block.made.order] = torch.arange(dim)  # pos[j] = place of variable j in the ordering
    allowed = pos[None, :] < pos[:, None]  # [i, j]: j strictly before i
    v = torch.randn(dim, dtype=torch.float64)
    for k in range(2):  # μ then α
        jac = jacobian(lambda t: block.conditioner(t[None])[k][0], v)
        assert (jac[~allowed] == 0).all()
        assert (jac[allowed].abs() > 0).float().mean() > 0.5  # the allowed part is really used
    assert ((block.made.connectivity() > 0) <= allowed).all()
    # hence the block's own Jacobian is triangular in the ordering with exp(α) on the diagonal
    jac = jacobian(lambda t: block(t[None])[0][0], v)
    assert (jac[pos[None, :] > pos[:, None]] == 0).all()
    reads = block(v[None])[0] if mode == "maf" else v[None]  # MAF conditions on x, IAF on z
    _, alpha = block.conditioner(reads)
    assert torch.allclose(jac.diagonal(), torch.exp(alpha[0]))


def test_maf_defaults_are_the_course_homework_model():
    model = registry.build("maf", data_dim=2)
    blocks = [layer for layer in model.layers if isinstance(layer, MaskedAffine)]
    assert len(blocks) == 5 and all(b.made.hidden == (100,) for b in blocks)
    assert len(model.layers) == 9  # permutations between the blocks


def test_maf_and_iaf_directions():
    """MAF: one MADE pass for density, D for sampling; IAF: the reverse (counted with a forward hook)."""
    dim = 4
    for mode, sample_calls, density_calls in (("maf", dim, 1), ("iaf", 1, dim)):
        block = MaskedAffine(dim, (8,), mode)
        calls = []
        block.made.register_forward_hook(lambda *_: calls.append(1))
        x, _ = block(torch.randn(3, dim))
        assert len(calls) == sample_calls
        calls.clear()
        block.inverse(x)
        assert len(calls) == density_calls


def test_speed_table_times_maf_and_iaf_through_the_same_plain_formulas(monkeypatch):
    """The MAF vs IAF lesson (D passes against one) compares the two directions with one implementation:
    fused_eval's MAF sampling (about one pass in 2D) would make a 2D MAF sample faster than its IAF twin."""
    from genviz.core.flows import fused_eval

    returned = []
    for name in ("sample", "log_prob"):
        real = getattr(fused_eval, name)
        monkeypatch.setattr(fused_eval, name, lambda *a, _real=real: returned.append(_real(*a)) or returned[-1])
    model = registry.build("maf", data_dim=2, n_blocks=2, hidden=16)
    table = speed_table(model, n=256)
    assert table.shape == (2, 2) and np.isfinite(table).all() and (table > 0).all()
    assert returned and all(r is None for r in returned)  # asked, and declined: the plain formulas ran
    with torch.no_grad():  # outside the timing, the same call takes the fast path
        model.sample(10)
    assert returned[-1] is not None


@pytest.fixture(scope="module")
def moons():
    return data.load("moons", n=1200, seed=0)


def _steps(model, ds, n, lr=3e-3):
    tr = registry.train_config("distill", {"lr": lr, "batch_size": 128})
    opts, gen = model.configure_optimizers(tr), torch.Generator().manual_seed(0)
    return [{k: float(v) for k, v in model.train_step(ds.batch(128, gen), opts, tr).items()} for _ in range(n)]


def _params(module):
    return torch.cat([p.detach().flatten().clone() for p in module.parameters()])


def test_distill_trains_teacher_first_then_only_the_student(moons):
    torch.manual_seed(0)
    model = registry.build("distill", data_dim=2, n_blocks=2, hidden=16, teacher_steps=8)
    t0, s0 = _params(model.teacher), torch.cat([p.detach().flatten() for p in model.student_parameters()])
    _steps(model, moons, 8)
    t1, s1 = _params(model.teacher), torch.cat([p.detach().flatten() for p in model.student_parameters()])
    assert not torch.equal(t0, t1) and torch.equal(s0, s1)
    _steps(model, moons, 5)
    assert torch.equal(t1, _params(model.teacher))
    assert not torch.equal(s1, torch.cat([p.detach().flatten() for p in model.student_parameters()]))


def test_distill_from_a_teacher_checkpoint(moons, tmp_path):
    torch.manual_seed(0)
    teacher = registry.build("maf", data_dim=2, n_blocks=2, hidden=16)
    tr = registry.train_config("maf", {"lr": 3e-3, "batch_size": 128})
    opts, gen = teacher.configure_optimizers(tr), torch.Generator().manual_seed(0)
    for _ in range(40):
        teacher.train_step(moons.batch(128, gen), opts, tr)
    path = checkpoint.save(teacher, tmp_path / "maf.pt")
    model = registry.build("distill", data_dim=2, n_blocks=2, hidden=16, teacher_path=str(path))
    assert torch.equal(_params(model.teacher), _params(teacher)) and model.teacher_ready
    kl = [s["loss"] for s in _steps(model, moons, 60)]  # the teacher is ready: the loss is the student's KL
    assert np.mean(kl[-10:]) < np.mean(kl[:10]) - 0.05 and kl[-1] > -0.1
    assert model.val_metrics(moons)["speedup"] > 0


def test_distill_refuses_a_bad_teacher_path(tmp_path):
    with pytest.raises(ConfigError) as err:
        registry.build("distill", data_dim=2, teacher_path=str(tmp_path / "missing.pt"))
    assert err.value.field == "teacher_path"
    nvp = registry.build("realnvp", data_dim=2, n_layers=1, hidden=4)
    path = checkpoint.save(nvp, tmp_path / "nvp.pt")
    with pytest.raises(ConfigError, match="must hold a MAF"):
        registry.build("distill", data_dim=2, teacher_path=str(path))


def test_actnorm_initialises_from_the_first_training_batch(moons):
    """The data-dependent init standardises the first batch it sees; later batches don't re-initialise it."""
    from genviz.core.flows.actnorm import ActNorm

    model = registry.build("maf", data_dim=2, n_blocks=1, hidden=8, actnorm=True, out_init="zero")
    act = next(layer for layer in model.layers if isinstance(layer, ActNorm))
    x = moons.train[:512] * 3 + 1
    model.train()
    model.log_prob(x)
    z, log_det = act.inverse(x)  # the first block is the identity at init, so ActNorm sees x itself
    assert torch.allclose(z.mean(0), torch.zeros(2), atol=1e-5)
    assert torch.allclose(z.std(0), torch.ones(2), atol=1e-3)
    assert torch.allclose(log_det, -torch.log(x.std(0)).sum().expand(512), atol=1e-4)
    before = act.loc.detach().clone()
    model.log_prob(moons.train[:512])
    assert torch.equal(before, act.loc.detach())


def test_a_maf_checkpoint_from_before_the_softplus_scale_loads_as_tanh():
    """The state_dict records the scale; one without that record (written before #17) holds tanh-scaled
    weights, and loads as such into a softplus model, giving the old densities."""
    old = registry.build("maf", data_dim=2, seed=0, n_blocks=2, hidden=8, scale="tanh")
    with torch.no_grad():
        for p in old.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=torch.Generator().manual_seed(1)))
    sd = {k: v for k, v in old.state_dict().items() if not k.endswith(".softplus")}
    new = registry.build("maf", data_dim=2, seed=0, n_blocks=2, hidden=8, scale="softplus")
    assert all(b.scale == "softplus" for b in new.layers if isinstance(b, MaskedAffine))
    new.load_state_dict(sd)
    assert all(b.scale == "tanh" for b in new.layers if isinstance(b, MaskedAffine))
    x = torch.randn(16, 2, generator=torch.Generator().manual_seed(2))
    assert torch.equal(new.log_prob(x), old.log_prob(x))
    fresh = registry.build("maf", data_dim=2, seed=0, n_blocks=2, hidden=8, scale="softplus")
    fresh.load_state_dict(registry.build("maf", data_dim=2, seed=3, n_blocks=2, hidden=8, scale="softplus").state_dict())
    assert all(b.scale == "softplus" for b in fresh.layers if isinstance(b, MaskedAffine))


def test_the_output_layer_init_decides_whether_a_new_block_is_the_identity():
    """MAF's default (softplus scale, nn.Linear's random output init, as nflows) starts away from the base
    density; out_init="zero" starts every block at the identity, so log p(x) is the base's; IAF keeps tanh and
    identity blocks (an IAF student starts as its base)."""
    x = torch.randn(64, 2, generator=torch.Generator().manual_seed(0)) * 2
    maf = registry.build("maf", data_dim=2, seed=0, n_blocks=3, hidden=16)
    assert (maf.cfg.scale, maf.cfg.out_init) == ("softplus", "random")
    ident = registry.build("maf", data_dim=2, seed=0, n_blocks=3, hidden=16, out_init="zero")
    ref = torch.distributions.Normal(0.0, 1.0).log_prob(x).sum(1)
    with torch.no_grad():
        torch.testing.assert_close(ident.log_prob(x), ref, rtol=1e-6, atol=1e-6)
        assert (maf.log_prob(x) - ref).abs().max() > 1e-2
    iaf = registry.build("iaf", data_dim=2, seed=0, n_blocks=2, hidden=16)
    assert (iaf.cfg.scale, iaf.cfg.out_init) == ("tanh", "zero")
    with torch.no_grad():
        torch.testing.assert_close(iaf.log_prob(x), ref, rtol=1e-6, atol=1e-6)
    with pytest.raises(Exception, match="out_init"):
        registry.build("maf", data_dim=2, out_init="ones")
