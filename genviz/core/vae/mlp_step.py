"""The plain VAE's training step with its backward written out (#17, target 4): no autograd graph.

For the MLP VAE with a Bernoulli decoder (the images default) the step is a handful of matrix products; on a
CPU, autograd's bookkeeping around them (graph nodes, a fresh tensor per gradient and the accumulation into
.grad, the saved activations) costs about as much as the elementwise work. Here the forward keeps what the
backward needs, and the backward writes each weight's gradient straight into its .grad with `out=`: the
gradients autograd computes for Rec + β·KL, in the same formulas (ELU's grad·exp(min(a, 0)), its exp read off
the ELU's output as min(h, 0) + 1; the Bernoulli likelihood's σ(l) − x, softplus' σ(h), the reparameterization's
ε / (2√v)), up to the summation order of the products (core/gemm.py's: oneDNN's, ~2x MKL's on AMD CPUs with
AVX-512 kernels). The noise ε is the one nets.sample_gaussian draws (torch.randn_like on the global stream).
The first layer reads only the input columns that are nonzero somewhere in the batch (binarized MNIST: ~490
of 784), as the dropped terms are exact zeros. Profiled on MNIST's 784-400-20 at batch 128 (one CPU thread):
the five 784x400-sized products were ~70% of this step with MKL, ~40% through oneDNN.
tests/core/test_vae_mlp_step.py compares loss and gradients with autograd's. On a GPU the same step (without the
column skipping) is what runs too: there a step's time is the CPU's launching of its kernels, and the written-out
backward launches fewer, with no autograd engine in between (bench_epoch.py --device cuda).
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from genviz.core import fast_ops, gemm


def linears(seq: nn.Sequential) -> list[nn.Linear] | None:
    """The Linear layers of an mlp() with fast_ops.ELU between them, or None for any other stack."""
    mods = list(seq)
    lins, acts = mods[0::2], mods[1::2]
    if (len(lins) != len(acts) + 1 or not all(type(m) is nn.Linear and m.bias is not None for m in lins)
            or not all(type(a) is fast_ops.ELU for a in acts)):
        return None
    return lins


def _elu(a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(ELU(a), its derivative), ELU as fast_ops.elu evaluates it. The derivative exp(min(a, 0)) is read off
    the output as min(h, 0) + 1 = expm1(min(a, 0)) + 1: one clamp instead of a second exponential (~35 µs
    of each (128, 400) layer); it differs from exp by less than 6e-8, float32's spacing just below 1."""
    if a.dtype == torch.float32 and a.device.type == "cpu":  # this CPU's fast expm1; a GPU's own ELU is one kernel
        h = fast_ops._in_fast_precision(torch.expm1, a.clamp(max=0)).add_(F.relu(a))
    else:
        h = F.elu(a)
    return h, h.clamp(max=0).add_(1)


COMPACT = 0.9  # the first layer skips the input columns that are 0 in the whole batch when at most this share is left


def _active_columns(x: torch.Tensor) -> torch.Tensor | None:
    """The columns of x with a nonzero entry, when few enough that dropping the others pays (binarized MNIST:
    ~490 of 784 at batch 128: the first layer's product and weight gradient over 63% of the columns; the
    dropped terms are exact zeros). Never on a GPU: `nonzero` waits for it (its size is data), and a step that
    waits cannot queue the next one's kernels while this one runs."""
    if x.device.type != "cpu":
        return None
    # the largest |x| per column: one contiguous reduction (~30 µs at 128 x 784, x.any(0) ~100); a NaN
    # column stays in (NaN != 0), so a bad input still reaches the loss
    idx = x.abs().amax(0).ne(0).nonzero().squeeze(1)
    return idx if len(idx) <= COMPACT * x.shape[1] else None


def _mlp_forward(lins, x, cols=None):
    """Activations [x, h1, ...] (inputs of every layer), ELU derivatives per hidden layer, and the output;
    with `cols`, the first layer reads only those input columns (x's others are zero)."""
    if cols is not None:
        x = x.index_select(1, cols)
    ins, ders, h = [x], [], x
    for i, lin in enumerate(lins):
        w = lin.weight if i or cols is None else lin.weight.index_select(1, cols)
        a = gemm.linear(h, w, lin.bias)
        if i == len(lins) - 1:
            return ins, ders, a
        h, d = _elu(a)
        ins.append(h)
        ders.append(d)


def _mlp_backward(lins, ins, ders, dout, need_input_grad: bool, cols=None):
    """Write every layer's weight and bias gradient into .grad; return d(input) when asked (not with `cols`:
    the first layer's weight gradient is then 0 outside those columns)."""
    g = dout
    for i in reversed(range(len(lins))):
        lin = lins[i]
        if i == 0 and cols is not None:
            grad_t = lin.weight.grad.t()  # the compact gradient's rows are the kept columns
            grad_t.zero_()
            grad_t.index_copy_(0, cols, gemm.mm(ins[0].t(), g))
        else:
            gemm.mm(g.t(), ins[i], out=lin.weight.grad)
        torch.sum(g, 0, out=lin.bias.grad)
        if i == 0 and not need_input_grad:
            return None
        g = gemm.mm(g, lin.weight)
        if i:
            g.mul_(ders[i - 1])
    return g


def train_step(model, x: torch.Tensor, beta: float) -> tuple[torch.Tensor, ...]:
    """Fill .grad of every parameter for loss = Rec + β·KL (β = 1: the NELBO) on x; (loss, nelbo, kl, rec)."""
    enc, dec = linears(model.enc), linears(model.dec)
    xf = x.flatten(1)
    n = len(xf)
    with torch.no_grad():
        cols = _active_columns(xf)
        e_ins, e_ders, e = _mlp_forward(enc, xf, cols)
        m, h = e.split(e.shape[1] // 2, 1)
        v = F.softplus(h) + 1e-8
        eps = torch.randn_like(m)  # nets.sample_gaussian's draw, same stream and shape
        sd = v.sqrt()
        z = m + sd * eps
        d_ins, d_ders, logits = _mlp_forward(dec, z)
        rec = -fast_ops.log_bernoulli_with_logits(xf, logits)
        # nets.kl_normal against N(0, I), term for term
        kl = 0.5 * (-v.log() + (v + m ** 2) - 1).sum(-1)
        nelbo, kl_mean, rec_mean = (kl + rec).mean(), kl.mean(), rec.mean()
        loss = nelbo if beta == 1.0 else rec_mean + beta * kl_mean
        # backward: d loss / d rec_i = 1/n, d loss / d kl_i = β/n
        w_rec, w_kl = 1.0 / n, beta / n
        dl = torch.sigmoid(logits).sub_(xf).mul_(w_rec)
        dz = _mlp_backward(dec, d_ins, d_ders, dl, True)
        dm = torch.add(dz, m, alpha=w_kl)
        # z = m + √v ε: dz ε / (2√v); KL: ½(1 − 1/v) per unit of β/n
        dv = (dz * eps).div_(sd).mul_(0.5).add_(torch.reciprocal(v).neg_().add_(1).mul_(0.5 * w_kl))
        dh = dv.mul_(torch.sigmoid(h))  # softplus' derivative
        _mlp_backward(enc, e_ins, e_ders, torch.cat([dm, dh], 1), False, cols)
    return loss, nelbo, kl_mean, rec_mean
