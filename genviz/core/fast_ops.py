"""ELU and the Bernoulli log-likelihood, with expm1 / log1p in whichever precision is fast on this CPU.

PyTorch's AVX-512 float32 `expm1` and `log1p` kernels take ~25 ns per element (their float64 forms ~4 ns,
`exp` ~1.5 ns): on MNIST, `F.elu` of a (128, 400) activation and `binary_cross_entropy_with_logits` of a
(128, 784) batch cost ~1 and ~2.4 ms, a fifth of a VAE training step. There (cpu_kernels.F64_TRANSCENDENTALS)
the forward evaluates expm1 / log1p in float64 and rounds to float32, which is the same function to within
one unit in the last place (the float64 value is the more accurate one); the AVX2 float32 kernels take ~2 ns
and are used as they are. Either way the backward passes are the closed forms autograd uses
(ELU: grad·exp(x) for x ≤ 0, torch's elu_backward's formula; Bernoulli: grad·(x − σ(l))). Other dtypes, and inputs
that need a gradient where these functions give none, take the stock PyTorch ops.
tests/core/test_epoch_fast_path.py checks values and gradients against the stock ops.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from genviz.core import cpu_kernels


def _in_fast_precision(fn, x: torch.Tensor) -> torch.Tensor:
    """fn(x), through float64 where this CPU's float32 kernel for fn is the slow one."""
    if not cpu_kernels.F64_TRANSCENDENTALS:
        return fn(x)
    return fn(x.double()).to(x.dtype)


class _ELU(torch.autograd.Function):
    # relu(x) + expm1(min(x, 0)) and grad·exp(min(x, 0)): the two branches without torch.where, whose CPU
    # kernel is slower here than the exp it would select between (adding expm1(0) = 0, multiplying by
    # exp(0) = 1 change no number)
    @staticmethod
    def forward(ctx, x):
        neg = x.clamp(max=0)
        ctx.save_for_backward(neg)
        return _in_fast_precision(torch.expm1, neg).add_(F.relu(x))

    @staticmethod
    def backward(ctx, grad):
        (neg,) = ctx.saved_tensors
        return grad * torch.exp(neg)


def elu(x: torch.Tensor) -> torch.Tensor:
    """F.elu(x) (alpha = 1)."""
    if x.dtype != torch.float32 or x.device.type != "cpu":
        return F.elu(x)
    return _ELU.apply(x)


class ELU(nn.Module):
    """nn.ELU() for nets.mlp(act=...): no parameters, so state_dicts are unchanged."""

    def forward(self, x):
        return elu(x)


CHUNK = 65536  # elements per piece of a large (n, D) batch: its float64 temporaries then stay in the cache


def _log_bernoulli(logits: torch.Tensor, x: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    # log p = x·l − softplus(l), softplus(l) = max(l, 0) + log1p(exp(−|l|))
    soft = _in_fast_precision(torch.log1p, torch.exp(-logits.abs())).add_(logits.clamp_min(0))
    return torch.sum(torch.addcmul(soft.neg_(), x, logits), -1, out=out)


class _LogBernoulli(torch.autograd.Function):
    @staticmethod
    def forward(ctx, logits, x):
        ctx.save_for_backward(logits, x)
        n, d = (logits.shape[0], logits.shape[-1]) if logits.dim() == 2 else (0, 1)
        if n * d <= 2 * CHUNK or x.stride(0) == 0:
            return _log_bernoulli(logits, x)
        # a held-out batch (MADE's 2048 x 784): the float64 round trip of the whole batch runs from memory,
        # at ~2x the time of the same work in cache-sized pieces; each row's sum is the same either way
        out = torch.empty(n, dtype=logits.dtype, device=logits.device)
        rows = max(1, CHUNK // d)
        for i in range(0, n, rows):
            _log_bernoulli(logits[i:i + rows], x[i:i + rows], out[i:i + rows])
        return out

    @staticmethod
    def backward(ctx, grad):
        logits, x = ctx.saved_tensors
        return grad.unsqueeze(-1) * (x - torch.sigmoid(logits)), None


def log_bernoulli_with_logits(x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """log Bernoulli(x; σ(logits)) summed over the last dimension: x (..., D) broadcast to logits -> (...)."""
    if logits.dtype != torch.float32 or logits.device.type != "cpu" or x.requires_grad:
        return -F.binary_cross_entropy_with_logits(logits, x.expand_as(logits), reduction="none").sum(-1)
    return _LogBernoulli.apply(logits, x.expand_as(logits))
