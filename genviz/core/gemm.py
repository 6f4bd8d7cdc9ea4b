"""Matrix products for the hand-written training steps, through oneDNN where torch has it (#17).

torch computes a float32 CPU product with MKL's sgemm. On an AMD CPU with AVX-512 kernels MKL keeps a slower
code path, and oneDNN (torch's other CPU library, which torch.compile's CPU backend calls for linear layers)
computes the VAE's 128x784x400 products and a flow's 4096x64x64 ones 2.1-2.3x faster; below ~2M
multiply-adds its per-call cost loses (MIN_MACS). Elsewhere MKL is as fast or faster (an AVX2-only AMD EPYC:
oneDNN at 0.82-1.02x), so oneDNN is on only where cpu_kernels.ONEDNN_GEMM says so. `bench/bench_gemm.py`
prints the table. The sums are the
same in another order, so results agree with torch.mm to float rounding (tests/core/test_gemm.py). oneDNN is
used for float32 CPU tensors outside autograd (its op has no derivative: the callers write their backward by
hand); anything else (a strided sub-block view among them: `_dense`), a torch built without it, or
`ENABLED = False` (this machine's choice, and the bench's baseline), gets torch's own.
"""
from __future__ import annotations

import functools

import torch

from genviz.core import cpu_kernels

ENABLED = cpu_kernels.ONEDNN_GEMM


@functools.cache
def _onednn():
    """torch's oneDNN linear (x @ wᵀ + b), or None where this torch lacks it or it disagrees on a probe."""
    try:
        if not torch.backends.mkldnn.is_available():
            return None
        op = torch.ops.mkldnn._linear_pointwise
        x = torch.arange(6.0).view(2, 3)
        w = torch.arange(12.0).view(4, 3)
        return op if torch.equal(op(x, w, torch.ones(4), "none", [], ""), x @ w.t() + 1) else None
    except (AttributeError, RuntimeError, TypeError):  # absent, or another signature in another torch
        return None


def _dense(t: torch.Tensor) -> bool:
    """Row- or column-major without gaps: oneDNN's fast kernels. A sub-block view (rows longer than its width)
    sends it to a reference kernel ~300x slower (100x400 @ 400x83: 66 ms against torch's 0.08)."""
    return t.is_contiguous() or t.t().is_contiguous()


# below this many multiply-adds oneDNN's per-call cost eats its gain: a flow's training step at batch 256
# (256x64x64 products) ran 0.65x as fast through it as through torch's, 4096x64x64 products 2.2x faster
MIN_MACS = 2**21


def _fast(x: torch.Tensor, w: torch.Tensor):
    if not (ENABLED and x.dtype == w.dtype == torch.float32 and x.device.type == w.device.type == "cpu"
            and x.shape[0] * x.shape[1] * w.shape[0] >= MIN_MACS and _dense(x) and _dense(w)):
        return None
    if torch.is_grad_enabled() and (x.requires_grad or w.requires_grad):
        return None
    return _onednn()


def linear(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None = None, out=None) -> torch.Tensor:
    """x @ wᵀ (+ b): x (n, k), w (m, k), b (m,); either may be a transposed view. Written into `out` when
    given (oneDNN has no out= form: its result is copied there, ~5% of a 4096x64x64 product)."""
    op = _fast(x, w)
    if op is None:
        if b is None:
            return torch.mm(x, w.t(), out=out)
        return torch.addmm(b, x, w.t(), out=out)
    y = op(x, w, b, "none", [], "")
    return y if out is None else out.copy_(y)


def mm(a: torch.Tensor, b: torch.Tensor, out=None) -> torch.Tensor:
    """a @ b."""
    return linear(a, b.t(), out=out)
