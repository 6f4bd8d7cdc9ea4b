"""log_prob and sample under torch.no_grad(), through fused_step's layer functions (#17).

Without a graph to build, a flow's density and sampling passes still allocated every activation afresh
(a 4096-point batch: two (4096, 64) tensors per coupling, fresh pages each time: ~half of a RealNVP
log_prob) and ran the masked formulas' extra ops. Here one set of buffers serves every layer of a call (a
layer's output alternates between two slots, the next layer reads it from the other) and is kept for the
next call of that shape. The ops are the model's own, in its order, so the numbers are the same bit for bit
(tests/core/test_flows_fused_step.py). Where fused_step does not cover the model (or a coupling whose
log-det the model sums over the masked row: more than 2 coordinates transformed), these return None and
FlowModel takes its plain path.
"""
from __future__ import annotations

import threading
import weakref

import torch

from genviz.core import gemm
from genviz.core.flows import fused_step
from genviz.core.flows.actnorm import ActNorm
from genviz.core.flows.base import _log_det_tensor
from genviz.core.flows.coupling import AffineCoupling
from genviz.core.flows.maf import MaskedAffine
from genviz.core.flows.permute import Permutation


def _covered(model, like) -> bool:
    """No graph wanted, and every layer one fused_step computes as the model does; `like`: the dtype/device."""
    if torch.is_grad_enabled() or not fused_step._structure_covered(model, like):
        return False
    return all(fused_step.LAYERS[type(layer)][0](layer) and getattr(layer, "_sum_out", True)
               for layer in model.layers)


# model -> {(batch shape, dtype, device, thread, inference mode): pool}: kept between calls (fresh buffers
# cost their pages' first touch: ~1.4 ms of a 4096-point RealNVP log_prob), per thread (a call never shares
# buffers with a call running elsewhere), the last few shapes only (a GUI alternates grids, samples and
# held-out batches). Buffers made under torch.inference_mode() are inference tensors, which refuse in-place
# writes outside it: they get their own pool. The lock: two threads evicting at once would pop the same key.
_POOLS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_KEEP = 4
_LOCK = threading.Lock()


def _get(model, x):
    """Buffers shared by every layer of a call; a layer's output ("out") in slot j % 2."""
    key = (tuple(x.shape), x.dtype, x.device, threading.get_ident(), torch.is_inference_mode_enabled())
    with _LOCK:
        pools = _POOLS.setdefault(model, {})
        get = pools.pop(key, None)
        if get is None:
            get = fused_step._pool(x, lambda name, j: j % 2 if name == "out" else None, torch.Tensor.new_empty)
            while len(pools) >= _KEEP:
                pools.pop(next(iter(pools)))
        pools[key] = get  # most recently used last
    return lambda j: (lambda *k: get(j, *k))


def log_prob(model, x):
    """model.log_prob(x) (a fresh tensor), or None where not covered."""
    if x.dim() != 2 or len(x) == 0 or not _covered(model, x):
        return None
    get, h, total = _get(model, x), x, None
    for j, layer in enumerate(reversed(model.layers)):
        _, alloc, forward, _ = fused_step.LAYERS[type(layer)]
        h, total = forward(layer, alloc(layer, *x.shape, get(j)), h, total)
    return model.base.log_prob(h) + _log_det_tensor(total, h)


def sample(model, n: int, generator=None):
    """model.sample(n, generator) (the same draws from `generator`), or None where not covered."""
    p = next(model.parameters(), None)
    if n <= 0 or p is None or not _covered(model, p):
        return None
    z = model.base.sample(n, generator)
    get = _get(model, z)
    for j, layer in enumerate(model.layers):
        z = GENERATE[type(layer)](layer, z, get(j))
    return z.clone()  # the last layer's output is a kept buffer


def _coupling(layer, z, get):
    """x = merge(z_keep, z_out·exp(s) + t)."""
    w = fused_step._coupling_alloc(layer, *z.shape, get)
    fused_step._coupling_net(layer, w, z)
    out = layer._out
    torch.exp(w.s, out=w.ex)
    torch.mul(z[:, out], w.ex, out=w.y).add_(w.o_t)
    return fused_step._coupling_merge(layer, w, z)


def _made(layer, y, get):
    """MAF sampling: D passes, after pass k the first k coordinates in the ordering are final. The first pass
    reads u = 0, and the only coordinate it fixes, the first in the ordering, reads no hidden unit through
    the masks (for D ≥ 2): its (μ, r) is the output bias, exactly. So that pass is not run: its outputs are
    the bias, and the coordinates it does not fix are overwritten later. In 2D that is one network pass
    instead of two, with the same numbers bit for bit (restricting later passes to the units they read would
    not be: a product of another shape rounds differently)."""
    w = fused_step._made_alloc(layer, *y.shape, get)
    d = y.shape[1]
    for i, lin in enumerate(w.lins):
        torch.mul(lin.weight, lin.mask, out=w.wm[i])
    u = torch.zeros_like(y)  # the first pass's input (masked out, but 0·NaN from empty memory would not be)
    o = layer.made.order[0]
    bias_only = not w.lins[-1].mask[o::d].any()  # always in 2+ dimensions; in 1 the output reads constant units
    for k in range(d):
        if k == 0 and bias_only:
            w.o.copy_(w.lins[-1].bias.expand_as(w.o))
        else:
            h = u
            for i, lin in enumerate(w.lins):
                a = w.h[i + 1] if i + 1 < len(w.lins) else w.o
                gemm.linear(h, w.wm[i], lin.bias, out=a)
                if a is not w.o:
                    a.relu_()
                h = a
        first, raw = w.o[:, :d], w.o[:, d:]
        if layer.scale == "tanh":  # u = y·exp(α) + μ
            torch.mul(torch.tanh(torch.div(raw, layer.bound, out=w.q), out=w.u), layer.bound, out=w.a)
            torch.mul(y, torch.exp(w.a, out=w.ex), out=u).add_(first)
        else:  # u = (y - t)/s
            s = torch.nn.functional.softplus(torch.add(raw, fused_step.SOFTPLUS_SHIFT, out=w.q)).add_(1e-3)
            torch.sub(y, first, out=u).div_(s)
    return u


def _perm(layer, z, get):
    return torch.index_select(z, 1, layer.perm, out=get("out", *z.shape))


def _actnorm(layer, z, get):
    return torch.mul(z, torch.exp(layer.log_scale), out=get("out", *z.shape)).add_(layer.loc)


GENERATE = {AffineCoupling: _coupling, MaskedAffine: _made, Permutation: _perm, ActNorm: _actnorm}
