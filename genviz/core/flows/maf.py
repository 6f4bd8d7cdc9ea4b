"""MAF (Papamakarios et al. 2017) and IAF (Kingma et al. 2016): stacks of MADE affine blocks.

One block maps x_i = z_i·exp(α_i) + μ_i, with (μ_i, α_i) from a MADE (genviz.core.masked) so they depend only
on coordinates earlier in the block's ordering. MAF's MADE reads x: density (x -> z) is one pass, sampling
is D sequential passes. IAF's MADE reads z: sampling is one pass, density is D sequential passes.
Permutations between blocks give each block a new ordering.

How the MADE's raw outputs (r, t) become the affine map (`scale`) and where each block starts (`out_init`).
"softplus" (MAF's default, as nflows): the one-pass direction is u ↦ s·u + t with s = softplus(r + c) + 10⁻³
(c makes s = 1 at r = 0); i.e. MAF's density pass is z = s·x + t, IAF's sampling pass x = s·z + t. "tanh" (IAF's
default, and MAF's before #17): α = 3·tanh(r/3) and x = z·exp(α) + μ. `out_init` "random" (MAF's default, as
nflows) keeps nn.Linear's initialisation of the MADE's output layer; "zero" (IAF's) starts every block at the
identity. Measured (#17; bench_flows_quality.py):
- the peers' recipe (5,000 steps, batch 256, Adam 1e-3, the same batches for all, 10 seeds, NLL on 20k fresh
  points), MAF on 8gaussians: softplus + random 3.077 ± 0.032, tanh + zero 3.144 ± 0.064, softplus + zero
  3.104 ± 0.031; zuko 3.093 ± 0.026, nflows 3.109 ± 0.060;
- the app's recipe (registry defaults through a Session, the course's target ≤ 1.25), MAF on moons, 16 seeds:
  softplus + random 1.238 ± 0.036, tanh + zero 1.286 ± 0.076 (three seeds of 1.36-1.44: slow learners);
  softplus + zero lost there (6 seeds 1.286 ± 0.023), which kept tanh the default until the init was tried.
"""
from __future__ import annotations

import math
import time
from copy import deepcopy
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from genviz.core.config import param
from genviz.core.flows import viz
from genviz.core.flows.actnorm import ActNorm
from genviz.core.flows.base import FlowModel, make_base
from genviz.core.flows.permute import Permutation
from genviz.core.masked import MADE


SOFTPLUS_SHIFT = math.log(math.expm1(1 - 1e-3))  # softplus(0 + c) + 1e-3 = 1: a zero output is the identity


class MaskedAffine(nn.Module):
    """One MAF ('maf') or IAF ('iaf') block on (batch, dim).

    scale "softplus": the one-pass direction (MAF: x -> z, IAF: z -> x) is u ↦ s·u + t, s = softplus(r + c) +
    10⁻³, log|det| = Σ log s. scale "tanh": x = z·exp(α) + μ with α = bound·tanh(r/bound), log|det ∂x/∂z| = Σ α.
    """

    def __init__(self, dim: int, hidden: tuple = (100,), mode: str = "maf", order=None, bound: float = 3.0,
                 scale: str = "tanh", out_init: str = "zero"):
        super().__init__()
        if mode not in ("maf", "iaf"):
            raise ValueError(f"mode must be 'maf' or 'iaf', got {mode!r}")
        if scale not in ("softplus", "tanh"):
            raise ValueError(f"scale must be 'softplus' or 'tanh', got {scale!r}")
        if out_init not in ("zero", "random"):
            raise ValueError(f"out_init must be 'zero' or 'random', got {out_init!r}")
        self.mode, self.bound, self.scale = mode, bound, scale
        self.made = MADE(dim, hidden, n_out=2, order=order)
        if out_init == "zero":  # a new block is the identity map; "random" keeps nn.Linear's init, as nflows
            nn.init.zeros_(self.made.out.weight)
            nn.init.zeros_(self.made.out.bias)
        # which scale the weights were trained with travels in the state_dict: a checkpoint from before this
        # buffer existed (#17) holds tanh-scaled weights and loads as such, whatever its config says
        self.register_buffer("softplus", torch.tensor(scale == "softplus"))

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        key = prefix + "softplus"
        old = key not in state_dict
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)
        if old:
            self.softplus.fill_(False)
            if key in missing_keys:
                missing_keys.remove(key)
        self.scale = "softplus" if bool(self.softplus) else "tanh"

    def _s_t(self, v):
        """softplus scale: (s, t) of the one-pass map u ↦ s·u + t, each (batch, dim)."""
        t, raw = self.made(v).chunk(2, dim=1)
        return F.softplus(raw + SOFTPLUS_SHIFT) + 1e-3, t

    def conditioner(self, v):
        """(μ, α) of the generative map x = z·exp(α) + μ, each (batch, dim); entry i depends only on v's
        coordinates before i in the ordering."""
        if self.scale == "tanh":
            mu, raw = self.made(v).chunk(2, dim=1)
            return mu, self.bound * torch.tanh(raw / self.bound)
        s, t = self._s_t(v)
        if self.mode == "iaf":  # x = s·z + t
            return t, torch.log(s)
        return -t / s, -torch.log(s)  # MAF: z = s·x + t, so x = (z − t)/s

    def _affine(self, z):  # one pass: the conditioner reads z (IAF sampling)
        if self.scale == "softplus":
            s, t = self._s_t(z)
            return s * z + t, torch.log(s).sum(1)
        mu, a = self.conditioner(z)
        return z * torch.exp(a) + mu, a.sum(1)

    def _unaffine(self, x):  # one pass: the conditioner reads x (MAF density)
        if self.scale == "softplus":
            s, t = self._s_t(x)
            return s * x + t, torch.log(s).sum(1)
        mu, a = self.conditioner(x)
        neg_a = -a  # Σ(−α) is −Σα bit for bit (rounding is symmetric): one negation serves both
        return (x - mu) * torch.exp(neg_a), neg_a.sum(1)

    def _solve(self, y):
        """The D-pass direction (MAF sampling z -> x, IAF density x -> z): after pass k the first k coordinates
        in the ordering are final. Returns (u, log|det ∂u/∂y|)."""
        u = torch.zeros_like(y)
        for _ in range(self.made.dim):
            if self.scale == "softplus":
                s, t = self._s_t(u)
                u = (y - t) / s
            else:
                mu, a = self.conditioner(u)
                u = y * torch.exp(a) + mu if self.mode == "maf" else (y - mu) * torch.exp(-a)
        if self.scale == "softplus":
            return u, -torch.log(s).sum(1)
        return u, (a if self.mode == "maf" else -a).sum(1)

    def forward(self, z):
        return self._solve(z) if self.mode == "maf" else self._affine(z)

    def inverse(self, x):
        return self._unaffine(x) if self.mode == "maf" else self._solve(x)


def _scale_param(default: str):
    return param(default, choices=("softplus", "tanh"),
                 help="each block's scale: softplus(r)+1e-3 multiplying the one-pass direction (as nflows), "
                      "or exp(3·tanh(r/3))")


def _out_init_param(default: str):
    return param(default, choices=("random", "zero"),
                 help="each MADE's output layer starts at nn.Linear's random init (as nflows) or at zero "
                      "(every block starts as the identity)")


@dataclass
class MAFConfig:
    n_blocks: int = param(5, lo=1, hi=64, help="number of MADE blocks")
    hidden: int = param(100, lo=1, hi=4096, unit="units", help="width of each MADE hidden layer")
    depth: int = param(1, lo=1, hi=8, unit="layers", help="hidden layers per MADE")
    permute: str = param("reverse", choices=("reverse", "random"), help="permutation between blocks")
    actnorm: bool = param(False, help="an ActNorm layer before each block (data-initialised scale/shift)")
    scale: str = _scale_param("softplus")
    out_init: str = _out_init_param("random")
    base: str = param("normal", choices=("normal", "diag"), help="base distribution: N(0,I) or learnable diagonal")


@dataclass
class IAFConfig(MAFConfig):
    """IAF keeps the tanh scale and identity blocks at the start (the MAF's defaults before #17's change; an IAF
    student starts as its base distribution)."""

    scale: str = _scale_param("tanh")
    out_init: str = _out_init_param("zero")


class AutoregressiveFlow(FlowModel):
    """MADE affine blocks with permutations between them; `mode` picks MAF or IAF."""

    mode = "maf"

    def __init__(self, cfg: MAFConfig, data_shape):
        super().__init__(cfg, data_shape)
        d, layers = self.data_dim, []
        g = torch.Generator().manual_seed(torch.initial_seed() % 2**62)
        for i in range(cfg.n_blocks):
            if i:
                layers.append(Permutation.reverse(d) if cfg.permute == "reverse"
                              else Permutation(torch.randperm(d, generator=g)))
            if cfg.actnorm:
                layers.append(ActNorm(d))
            layers.append(MaskedAffine(d, (cfg.hidden,) * cfg.depth, self.mode, scale=cfg.scale, out_init=cfg.out_init))
        self.layers = nn.ModuleList(layers)
        self.base = make_base(cfg.base, d)

    def visualize(self, data, view):
        out = viz.flow_arrays(self, data, view)
        if "_speed" not in self.__dict__:  # speed depends on the architecture, not the weights: time it once
            self.__dict__["_speed"] = speed_table(self)
        out["speed"] = self.__dict__["_speed"]
        return out


class MAF(AutoregressiveFlow):
    mode = "maf"


class IAF(AutoregressiveFlow):
    mode = "iaf"


@torch.no_grad()
def rates(model, n: int = 4096, repeats: int = 5, generator: torch.Generator | None = None) -> tuple[float, float]:
    """(samples/s, densities/s) of a flow model: best of `repeats` timings of n samples / n log_probs, both
    under no_grad through the plain formulas (fused_eval.plain: MAF and IAF timed with one implementation).

    Samples come from `generator` (default: a fresh one seeded 0), never from torch's global stream.
    """
    from genviz.core.flows import fused_eval  # it imports this module

    g = generator if generator is not None else torch.Generator(device=model.device).manual_seed(0)
    was = model.training
    model.eval()
    best_s = best_d = float("inf")
    with fused_eval.plain():
        for _ in range(repeats):
            t0 = time.perf_counter()
            x = model.sample(n, g)
            t1 = time.perf_counter()
            model.log_prob(x)
            t2 = time.perf_counter()
            best_s, best_d = min(best_s, t1 - t0), min(best_d, t2 - t1)
    model.train(was)
    return n / best_s, n / best_d


def twin(model, mode: str):
    """`model`'s network run as the other flow: a copy whose blocks use `mode` ('maf' or 'iaf'); cached.

    Timing does not depend on the weights, so the copy keeps `model`'s: building a fresh model here would
    draw initial weights from torch's global stream, which the training run owns.
    """
    cache = model.__dict__.setdefault("_twins", {})  # plain dict: not a submodule, not in the state_dict
    if mode not in cache:
        saved = {k: model.__dict__.pop(k) for k in ("_twins", "_speed") if k in model.__dict__}
        try:
            copy = deepcopy(model).requires_grad_(False)
        finally:
            model.__dict__.update(saved)
        copy.mode = mode
        for layer in copy.layers:
            if isinstance(layer, MaskedAffine):
                layer.mode = mode
        cache[mode] = copy
    return cache[mode]


def speed_table(model, n: int = 4096) -> np.ndarray:
    """[[MAF samples/s, MAF densities/s], [IAF samples/s, IAF densities/s]] at `model`'s size."""
    maf = model if getattr(model, "mode", "") == "maf" else twin(model, "maf")
    iaf = model if getattr(model, "mode", "") == "iaf" else twin(model, "iaf")
    return np.array([rates(maf, n), rates(iaf, n)], np.float64)
