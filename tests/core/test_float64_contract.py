"""Every registered model works in float64 end to end (issue #17), checked for each registry entry.

After `.double()` a model's log_prob, samples, training steps (through a Session on the usual float32
dataset), held-out metrics and views all compute in float64: noise is drawn in the model's dtype, grids and
constants are made in it, data are cast to it. `Float32Leaks` watches every tensor operation and reports a
float64 model that
- combines float32 and float64 tensors in one operation (a float32 constant, grid or batch slipped in),
- draws random numbers in float32 (a float32 draw cast to float64 is not a float64 draw), or
- casts to float64 a float32 tensor it made itself (e.g. a float32 grid).
Float32 tensors from outside (the dataset's) may be cast, and snapshots cast results down to float32 numpy.
Float32 models are unchanged: fixed-seed samples and log-densities recorded before the float64 work.
"""
from __future__ import annotations

import collections
import inspect
import math
import traceback
import weakref

import numpy as np
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

import model_contract
from genviz.core import registry, rng
from genviz.core.session import Session
from model_contract import is_plain

RANDOM_OPS = {"randn", "rand", "normal", "normal_", "uniform_", "randn_like", "rand_like", "bernoulli",
              "bernoulli_", "exponential_", "cauchy_", "log_normal_", "geometric_"}


class Float32Leaks(TorchDispatchMode):
    """Records (problem, op, genviz file:line) for each operation that lets float32 into float64 work."""

    def __init__(self):
        super().__init__()
        self.found: collections.Counter = collections.Counter()
        self._made: dict[int, weakref.ref] = {}  # float32 tensors made under this mode, not from outside data

    def _made_here(self, t: torch.Tensor) -> bool:
        ref = self._made.get(id(t))
        return ref is not None and ref() is t

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        ins = [t for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor) and t.is_floating_point()]
        outs = [t for t in tree_flatten(out)[0] if isinstance(t, torch.Tensor) and t.dtype == torch.float32]
        made = [t for t in ins if t.dtype == torch.float32 and self._made_here(t)]
        op = func.overloadpacket.__name__
        problem = None
        if {torch.float32, torch.float64} <= {t.dtype for t in ins}:
            problem = "float32 and float64 in one op"
        elif op in RANDOM_OPS and outs and (made or not ins):
            problem = "float32 random draw"
        elif op == "_to_copy" and made and isinstance(out, torch.Tensor) and out.dtype == torch.float64:
            problem = "float32 tensor made here, then cast to float64"
        if outs and (made or not ins):  # a factory's float32 output, or one computed from such
            self._made.update((id(t), weakref.ref(t)) for t in outs)
        if problem:
            frames = [(f.filename.replace("\\", "/"), f.lineno) for f in traceback.extract_stack()]
            ours = [f"genviz/{path.split('/genviz/')[-1]}:{line}" for path, line in frames if "/genviz/" in path]
            where = ours[-1] if ours else "?"
            self.found[(problem, op, where)] += 1
        return out


@pytest.fixture(scope="module")
def datasets():
    return model_contract.datasets()


def _sample(model, n: int) -> torch.Tensor:
    kw = {"steps": 5} if "steps" in inspect.signature(model.sample).parameters else {}  # EBMs: short chains
    return model.sample(n, generator=torch.Generator().manual_seed(0), **kw)


@pytest.mark.parametrize("name", registry.names())
def test_float64_end_to_end(name, datasets):
    ds = datasets["2d" if "2d" in registry.get(name).data_kinds else "image"]
    model = registry.build(name, data_shape=ds.shape, seed=0).double()
    x = ds.val[:32].double()
    leaks = Float32Leaks()
    with leaks:
        with torch.no_grad():
            if hasattr(model, "log_prob"):
                with rng.seeded(0):  # VAEs estimate it by sampling from the global stream
                    lp = model.log_prob(x)
                assert lp.dtype == torch.float64 and lp.shape == (len(x),) and torch.isfinite(lp).all()
            if hasattr(model, "sample"):
                s = _sample(model, 16)
                assert s.dtype == torch.float64 and s.shape == (16, *ds.shape) and torch.isfinite(s).all()
        session = Session(name, ds, {}, {"steps": 2, "batch_size": 16, "snapshot_every": 1}, model=model,
                          view={"res": 12, "n_samples": 64})
        snaps = list(session.run())
    if leaks.found:
        pytest.fail(f"{name} lets float32 in:\n" + "\n".join(
            f"  {problem}: {op} at {where} (x{n})" for (problem, op, where), n in leaks.found.items()))
    assert snaps[-1].status == "done", snaps[-1].message
    assert [s.step for s in snaps] == [0, 1, 2]
    losses = {k: np.concatenate([s.losses[k] for s in snaps if k in s.losses]) for k in snaps[-1].losses}
    assert losses and all(len(v) == 2 and np.all(np.isfinite(v)) for v in losses.values())
    assert any(s.arrays for s in snaps)
    for s in snaps:
        assert is_plain(s.arrays) and is_plain(s.metrics) and is_plain(s.losses)
        # NaN only where the model says a metric is not defined yet (distillation's KL while its teacher trains)
        assert all(math.isfinite(v) or k in model.pending_metrics for k, v in s.metrics.items())
    assert all(p.dtype == torch.float64 for p in model.parameters())


# Recorded from the code before the float64 work (commit a2ad686): float32 models built with seed=0, untrained.
# name -> (the first values of sample(3) from a generator seeded 0, log p of the first 3 held-out moons points)
FLOAT32_BEFORE = {
    "realnvp": ([1.540996, -0.293429, -2.178789, 0.568431, -1.084522, -1.398595], [-2.02498, -1.98424, -2.6389]),
    "made-2d": ([-0.063738, -2.887944, 2.056953, -1.420962, -3.331388, 1.050215], [-4.00547, -4.07275, -4.03746]),
    "mog": ([1.994498, -0.724453, 0.461311, -0.112832, -0.859575, -1.377916], [-2.19107, -2.40671, -2.70184]),
    "vae": ([0.40441, 0.57584, -0.149935, -0.57837, -0.343186, -0.07764], [-1.55243, -1.6064, -2.85307]),
    "gmvae": ([0.612229, 0.553182, 0.150329, 0.613567, 1.003485, -0.197131], [-1.53212, -1.6541, -2.88392]),
    "gan": ([0.074598, -0.01933, 0.11312, -0.072053, 0.088194, -0.068316], None),
    "cyclegan": ([0.090948, -0.024592, 0.076344, -0.016481, 0.089901, -0.036572], None),
    "ebm": ([-0.114681, 2.027623, -3.240065, -2.6086, -1.856137, 0.936562], [-4.197, -4.19646, -4.16934]),
    "fvsbn": ([1.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0], None),
}


@pytest.mark.parametrize("name", FLOAT32_BEFORE)
def test_float32_numbers_are_unchanged(name, datasets):
    shape = (1, 28, 28) if name == "fvsbn" else (2,)
    model = registry.build(name, data_shape=shape, seed=0).eval()
    want_sample, want_lp = FLOAT32_BEFORE[name]
    with torch.no_grad():
        s = _sample(model, 3)
        assert s.dtype == torch.float32
        torch.testing.assert_close(s.flatten()[:len(want_sample)], torch.tensor(want_sample), rtol=1e-4, atol=1e-5)
        if want_lp is not None:
            with rng.seeded(0):
                lp = model.log_prob(datasets["2d"].val[:3])
            assert lp.dtype == torch.float32
            torch.testing.assert_close(lp, torch.tensor(want_lp), rtol=1e-4, atol=1e-4)
