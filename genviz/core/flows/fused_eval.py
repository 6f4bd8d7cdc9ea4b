"""log_prob and sample under torch.no_grad(), through fused_step's layer functions (#17).

Without a graph to build, a flow's density and sampling passes still allocated every activation afresh
(a 4096-point batch: two (4096, 64) tensors per coupling, fresh pages each time: ~half of a RealNVP
log_prob) and ran the masked formulas' extra ops. Here one set of buffers serves every layer of a call (a
layer's output alternates between two slots, the next layer reads it from the other) and is kept for the
next call of that shape. The conditioners compute only what the formulas read, in the shapes MKL runs
fastest (_rows; MAF sampling fixes one coordinate per step, _made): the elementwise formulas are the
model's own, op for op, and the products' sums run in another order, so the numbers agree with the plain
path to rounding (float64: 1e-10; tests/core/test_flows_fused_step.py). Where fused_step does not cover
the model (or a coupling whose log-det the model sums over the masked row: more than 2 coordinates
transformed), these return None and FlowModel takes its plain path.
"""
from __future__ import annotations

import math
import threading
import weakref
from contextlib import contextmanager

import torch

from genviz.core import gemm
from genviz.core.flows import fused_step
from genviz.core.flows.actnorm import ActNorm
from genviz.core.flows.base import _log_det_tensor
from genviz.core.flows.coupling import AffineCoupling
from genviz.core.flows.maf import MaskedAffine
from genviz.core.flows.permute import Permutation


_PLAIN = threading.local()


@contextmanager
def plain():
    """In this block (this thread), log_prob and sample take the model's plain formulas: the MAF vs IAF speed
    lesson times both directions' algorithms (D passes against one) with the same implementation, where
    this module's MAF sampling (~one pass in 2D) would hide the difference."""
    was = getattr(_PLAIN, "on", False)
    _PLAIN.on = True
    try:
        yield
    finally:
        _PLAIN.on = was


def _covered(model, like) -> bool:
    """No graph wanted, and every layer one fused_step computes as the model does; `like`: the dtype/device."""
    if torch.is_grad_enabled() or getattr(_PLAIN, "on", False) or not fused_step._structure_covered(model, like):
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
        density = DENSITY.get(type(layer))
        if density is not None:
            h, total = density(layer, h, get(j), total)
        else:
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


def _rows(lins, weights, x, col, h, get):
    """An MLP's output transposed, (n_out, B), for these conditioners' narrow outputs (n_out = 2D ≤ ~8):
    MKL computes the last product as (n_out × H)·(H × B) in ~0.6x the time of (B × H)·(H × n_out), and the
    affine maps read its rows. Where one input column is all the first layer reads (`col`: a 2D coupling's
    kept coordinate, a 2D MADE's first one), that layer is a rank-1 update, b + x_col·w_col (addcmul),
    not a K-wide product. Both sum in another order than the plain path: equal to rounding."""
    a = x
    for j, lin in enumerate(lins[:-1]):
        if j == 0 and col is not None:
            # the weight column made contiguous: strided, addcmul's loop over H is scalar (~5x slower)
            a = torch.addcmul(lin.bias, x[:, col:col + 1], weights[0][:, col].contiguous()[None], out=h[1])
        else:
            a = gemm.linear(a, weights[j], lin.bias, out=h[j + 1])
        a.relu_()
    last = lins[-1]
    return torch.addmm(last.bias[:, None], weights[-1], a.t(), out=get("o_t", last.out_features, len(x)))


def _coupling_s_t(layer, x, get):
    """The coupling's workspace and its (s, t) at the transformed coordinates, as rows (k, B)."""
    b, d = x.shape
    w = fused_step._coupling_alloc(layer, b, d, get)
    keep = range(d)[layer._keep]
    col = keep[0] if len(keep) == 1 else None  # m⊙x is x in that column and 0 elsewhere
    inp = x if col is not None else torch.mul(x, layer.mask, out=w.h[0])
    o_t = _rows(w.lins, [lin.weight for lin in w.lins], inp, col, w.h, get)
    out = layer._out
    scale = layer.scale[out][:, None]
    s = get("s_t", len(range(d)[out]), b)
    torch.div(o_t[:d][out], scale, out=s)
    torch.tanh(s, out=s)
    return w, torch.mul(scale, s, out=s), o_t[d:][out]


def _coupling(layer, z, get):
    """x = merge(z_keep, z_out·exp(s) + t)."""
    w, s, t = _coupling_s_t(layer, z, get)
    torch.mul(z[:, layer._out].t(), s.exp_(), out=w.y.t()).add_(t)
    return fused_step._coupling_merge(layer, w, z)


def _coupling_density(layer, x, get, total):
    """z = merge(x_keep, (x_out - t)·exp(-s)), log|det| = -Σs."""
    w, s, t = _coupling_s_t(layer, x, get)
    torch.sum(s, 0, out=w.ld)
    torch.sub(x[:, layer._out].t(), t, out=w.y.t()).mul_(s.neg_().exp_())
    total = torch.neg(w.ld, out=total) if total is None else total.sub_(w.ld)
    return fused_step._coupling_merge(layer, w, x), total


def _made_density(layer, x, get, total):
    """MAF's density pass, x -> z, the plain formulas on the output's rows (_rows)."""
    b, d = x.shape
    w = fused_step._made_alloc(layer, b, d, get)
    for i, lin in enumerate(w.lins):
        torch.mul(lin.weight, lin.mask, out=w.wm[i])
    o_t = _rows(w.lins, w.wm, x, _structure(layer)[2], w.h, get)
    first, raw, xt, zt, e = o_t[:d], o_t[d:], x.t(), w.z.t(), get("e_t", d, b)
    if layer.scale == "tanh":  # z = (x - μ)·exp(-α), log|det| = Σ(-α) = -Σα bit for bit
        torch.div(raw, layer.bound, out=e)
        torch.tanh(e, out=e)
        torch.sum(e.mul_(layer.bound), 0, out=w.ld)
        torch.sub(xt, first, out=zt).mul_(e.neg_().exp_())
        return w.z, torch.neg(w.ld, out=total) if total is None else total.sub_(w.ld)
    sp = torch.nn.functional.softplus(torch.add(raw, fused_step.SOFTPLUS_SHIFT, out=e)).add_(1e-3)
    torch.mul(sp, xt, out=zt).add_(first)  # z = s·x + t, log|det| = Σ log s
    torch.sum(torch.log(sp), 0, out=w.ld)
    return w.z, total.add_(w.ld) if total is not None else w.ld.clone()


def _made(layer, y, get):
    """MAF sampling, z -> x: coordinate order[k] is fixed at step k from the ones fixed before it. The plain
    path (MaskedAffine._solve) runs the whole network D times; here each step computes only what it reads:
    - the first layer's pre-activation a₁ grows by one rank-1 update per fixed coordinate (its masked
      weights see nothing else), an elementwise a₁ += x_i·w_i (addcmul: at 4096 × 100 ~0.7x the time of
      a K = 1 addmm), instead of a (B × D)·(D × H) product per step;
    - the output layer computes the 2 rows (μ or t, r) of the coordinate being fixed, as (2 × H)·(H × B):
      that product's shape runs ~2x faster in MKL than (B × H)·(H × 2D) (its sums run in another order:
      the samples agree with the plain path's to rounding, tests/core/test_flows_fused_step.py);
    - a coordinate whose (μ, r) read no hidden unit through the masks (the first in the ordering, for
      D ≥ 2) takes them from the output bias, with no network pass at all (its affine map's two numbers
      computed in Python: _bias_scale).
    The other elementwise formulas are the plain path's, op for op. In 2D a block costs one rank-1 update, one
    ReLU, one 2-row product and the affine map: ~half of a full pass (bench/bench_peers.py)."""
    b, d = y.shape
    w = fused_step._made_alloc(layer, b, d, get)
    for i, lin in enumerate(w.lins):
        torch.mul(lin.weight, lin.mask, out=w.wm[i])
    first, wo = w.lins[0], w.wm[-1].view(2, d, -1)  # wo[:, i]: the rows (μ_i or t_i, r_i)
    bo = w.lins[-1].bias.view(2, d)
    a1 = w.h[1]
    w1t = get("w1t", d, a1.shape[1]).copy_(w.wm[0].t())  # row i: what fixing coordinate i adds to a₁
    col, e, o_t = get("col", b), get("e", b), get("o_t", 2, b)
    order, reads, _ = _structure(layer)
    started = False
    for k, i in enumerate(order):
        if not reads[i]:  # (μ, r) is the bias: two numbers, not a batch's worth of ops
            mu, raw = bo[:, i].tolist()
            ex = _bias_scale(layer, raw)
        else:
            if not started:  # nothing fixed yet, and still a hidden pass (not in 2+ dims: see `reads`)
                a1.copy_(first.bias.expand_as(a1))
                started = True
            h = a1.relu_() if k == d - 1 else torch.clamp_min(a1, 0, out=get("h_relu", *a1.shape))
            for j, lin in enumerate(w.lins[1:-1], start=1):
                h = gemm.linear(h, w.wm[j], lin.bias, out=w.h[j + 1]).relu_()
            torch.addmm(bo[:, i:i + 1], wo[:, i], h.t(), out=o_t)
            mu, ex = o_t[0], _scale(layer, o_t[1], e)
        if layer.scale == "tanh":  # x = z·exp(α) + μ
            torch.mul(y[:, i], ex, out=col).add_(mu)
        else:  # x = (z - t)/s
            torch.sub(y[:, i], mu, out=col).div_(ex)
        w.z[:, i] = col
        if k < d - 1:
            if started:
                a1.addcmul_(col[:, None], w1t[i:i + 1])
            else:
                torch.addcmul(first.bias, col[:, None], w1t[i:i + 1], out=a1)
                started = True
    return w.z


def _scale(layer, raw, buf):
    """The sampling map's factor from the raw output row: exp α with tanh, s with softplus (in `buf`)."""
    if layer.scale == "tanh":
        torch.div(raw, layer.bound, out=buf)
        torch.tanh(buf, out=buf)
        return buf.mul_(layer.bound).exp_()
    return torch.nn.functional.softplus(torch.add(raw, fused_step.SOFTPLUS_SHIFT, out=buf)).add_(1e-3)


def _bias_scale(layer, raw: float) -> float:
    """_scale for an output that is the bias alone, in Python floats (double precision; the tensor op
    that uses them rounds them to the batch's dtype): ~2 µs where the same chain as tensor ops took ~25."""
    if layer.scale == "tanh":
        return math.exp(layer.bound * math.tanh(raw / layer.bound))
    v = raw + fused_step.SOFTPLUS_SHIFT
    return (v if v > 20 else math.log1p(math.exp(v))) + 1e-3  # torch's softplus: linear above 20


def _structure(layer):
    """A MADE block's ordering; per coordinate, whether its outputs read any hidden unit; and the one input
    column the first layer reads, if only one (else None). Cached until the order or a mask changes (a
    load_state_dict writes them in place: their versions move)."""
    made = layer.made
    first, out = made.layers[0].mask, made.out.mask
    key = tuple((t._version, t.data_ptr()) for t in (made.order, first, out))
    hit = _STRUCTURES.get(layer)
    if hit is None or hit[0] != key:
        cols = first.ne(0).any(0).nonzero()[:, 0].tolist()
        hit = _STRUCTURES[layer] = (key, (made.order.tolist(), out.view(2, made.dim, -1).ne(0).any(2).any(0).tolist(),
                                     cols[0] if len(cols) == 1 else None))
    return hit[1]


_STRUCTURES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _perm(layer, z, get):
    return torch.index_select(z, 1, layer.perm, out=get("out", *z.shape))


def _actnorm(layer, z, get):
    return torch.mul(z, torch.exp(layer.log_scale), out=get("out", *z.shape)).add_(layer.loc)


GENERATE = {AffineCoupling: _coupling, MaskedAffine: _made, Permutation: _perm, ActNorm: _actnorm}
DENSITY = {AffineCoupling: _coupling_density, MaskedAffine: _made_density}  # the rest: fused_step's forward
