"""A flow's training step without autograd: the mean NLL and its parameter gradients, by hand (#17).

Profiled on one thread (bench/profile_flow_step.py), a RealNVP step (8 couplings, 64 hidden, batch 256)
took ~6 ms on ~55 MFLOP: the matmuls are ~0.6 ms of it, the rest is autograd's graph (≈70 nodes per
coupling, each with its bookkeeping, gradient accumulation and fresh (batch, hidden) tensors), the ops that
only exist for it (slice_backward's zeros + copy, mask multiplies of zero gradients) and narrow products
((hidden, batch) @ (batch, 2): MKL runs them 6x slower than their transpose). Here each layer runs its
density-direction map once into buffers kept between steps (`out=`), then its backward by the chain rule
written out: ~40 ops per coupling instead of ~110, no graph, no allocation of activations, narrow products
transposed or as matrix-vector products, and parameter gradients written straight into `p.grad`
(FlatAdam's flat buffer once it is bound). Same machine, loaded: RealNVP 256 ~2.0 ms a step (was ~6),
1024 ~4.5 ms (was ~14); MAF 256 ~0.8 ms (was ~2). At batch 1024 two thirds of what is left is the three
(batch, 64) x (64, 64) products per coupling that every library computes.

The forward numbers are the model's own ops in the model's order, so the loss is the plain path's bit for
bit for 2-D data; the gradients are the same formulas as autograd's, summed in another order (last-bit
differences; tests/core/test_flows_fused_step.py compares them with autograd at rtol 1e-10 in float64).

Covered: RealNVP (affine couplings on slice-shaped halves), MAF (MADE blocks in 'maf' mode, tanh or softplus
scale, ReLU, no context), permutations, ActNorm, a standard-normal or diagonal base. Anything else (IAF,
NICE, planar, a subclass with its own loss, frozen parameters, parameters with gradient hooks, inputs that
require grad) is not `covers`'d and the model's train_step takes the plain autograd path.
"""
from __future__ import annotations

import weakref
from types import SimpleNamespace

import torch
from torch import nn

from genviz.core import gemm
from genviz.core.flows.actnorm import ActNorm
from genviz.core.flows.base import DiagGaussian, FlowModel, StandardNormal
from genviz.core.flows.coupling import AffineCoupling
from genviz.core.flows.maf import SOFTPLUS_SHIFT, MaskedAffine
from genviz.core.flows.permute import Permutation
from genviz.core.model import GenerativeModel, has_grad_hooks

_threshold_backward = torch.ops.aten.threshold_backward.grad_input  # relu's backward, written in place


# -- affine coupling (RealNVP): x_out -> (x_out - t)·exp(-s), s = scale·tanh(raw/scale) --------------------
def _coupling_covers(layer) -> bool:
    return isinstance(layer._keep, slice) and isinstance(layer._out, slice) and isinstance(layer.net[-1], nn.Linear)


def _coupling_alloc(layer, b, d, get):
    lins = [m for m in layer.net if isinstance(m, nn.Linear)]
    k = len(range(d)[layer._out])
    hidden = [lin.out_features for lin in lins[:-1]]
    w = SimpleNamespace(
        lins=lins, h=[get("h0", b, d)] + [get(f"h{i + 1}", b, n) for i, n in enumerate(hidden)],
        o=get("o", b, 2 * d), q=get("q", b, k), u=get("u", b, k), s=get("s", b, k), ex=get("ex", b, k),
        y=get("y", b, k), ld=get("ld", b), xn=get("out", b, d),
        go=get("go", b, 2 * d),  # zeros: the kept coordinates' columns are never written
        gs=get("gs", b, k), du=get("du", b, k), tmp=get("tmp", b, k),
        gh=[get(f"gh{i}", b, n) for i, n in enumerate(hidden)], gx=get("gx", b, d), one=get("one"),
        inv_b=get("inv_b"))
    # views of the buffers, made once (slicing costs ~1 µs a view in Python, ~15 views a coupling and step)
    out, keep = layer._out, layer._keep
    w.o_s, w.o_t, w.go_r, w.go_t = w.o[:, :d][:, out], w.o[:, d:][:, out], w.go[:, :d][:, out], w.go[:, d:][:, out]
    w.gx_out, w.gx_keep = w.gx[:, out], w.gx[:, keep]
    w.xn_pairs = w.xn.view(b, d // 2, 2) if layer._interleave else None
    return w


def _coupling_net(layer, w, x):
    """The conditioner on m⊙x: w.o = (raw s, t) at every coordinate, w.s = s at the transformed ones."""
    torch.mul(x, layer.mask, out=w.h[0])
    for i, lin in enumerate(w.lins):
        a = w.h[i + 1] if i + 1 < len(w.lins) else w.o
        gemm.linear(w.h[i], lin.weight, lin.bias, out=a)
        if a is not w.o:
            a.relu_()
    scale = layer.scale[layer._out]
    torch.div(w.o_s, scale, out=w.q)
    torch.tanh(w.q, out=w.u)
    torch.mul(scale, w.u, out=w.s)


def _coupling_merge(layer, w, x):
    """x with its transformed coordinates replaced by w.y, in w.xn."""
    if layer._interleave:
        pair = (x[:, layer._keep], w.y) if layer._keep_first else (w.y, x[:, layer._keep])
        torch.stack(pair, 2, out=w.xn_pairs)
    else:
        w.xn.copy_(x)
        w.xn[:, layer._out] = w.y
    return w.xn


def _coupling_forward(layer, w, x, total):
    _coupling_net(layer, w, x)
    torch.neg(w.s, out=w.ex).exp_()
    torch.sub(x[:, layer._out], w.o_t, out=w.y).mul_(w.ex)
    torch.sum(w.s, 1, out=w.ld)
    total = torch.neg(w.ld, out=total) if total is None else total.sub_(w.ld)
    return _coupling_merge(layer, w, x), total


def _coupling_backward(layer, w, gy, need_gx):
    out, keep = layer._out, layer._keep
    gy_out = gy[:, out]
    if need_gx:
        torch.neg(torch.mul(gy_out, w.ex, out=w.gx_out), out=w.go_t)  # ∂y/∂x_out = exp(-s) = -∂y/∂t
    else:
        torch.mul(gy_out, w.ex, out=w.go_t).neg_()
    torch.addcmul(w.inv_b, gy_out, w.y, value=-1, out=w.gs)  # ∂y/∂s = -y; log|det| = -Σs: ∂loss/∂s += 1/B
    torch.addcmul(w.one, w.u, w.u, value=-1, out=w.du)  # ∂s/∂raw = 1 - tanh²
    gr = torch.mul(w.gs, w.du, out=w.go_r)
    torch.mul(w.gs, w.u, out=w.tmp).addcmul_(gr, w.q, value=-1)  # ∂s/∂scale = tanh(q) - q·(1 - tanh²(q))
    torch.sum(w.tmp, 0, out=layer.scale.grad[out])
    layer.scale.grad[keep].zero_()  # the kept coordinates' bound is never used
    g = _mlp_backward(w.lins, w.h, w.go, w.gh)
    if not need_gx:  # the layer that reads the data: nobody needs ∂loss/∂x
        return None
    # the net reads m⊙x: only the kept columns get its gradient
    _add_narrow(w.gx_keep, gy[:, keep], g, w.lins[0].weight[:, keep])
    return w.gx


def _add_narrow(out, c, g, weight):
    """out = c + g @ weight, g (batch, hidden), weight (hidden, k); out may be c. For k ≤ 4, k matrix-vector
    products: MKL's gemm runs such a narrow product 2.5-6x slower (k = 1, 2 at batch 1024)."""
    if weight.shape[1] > 4:
        return torch.addmm(c, g, weight, out=out)
    for i in range(weight.shape[1]):
        torch.addmv(c[:, i], g, weight[:, i], out=out[:, i])
    return out


def _mlp_backward(lins, h, g, gh, masked=None):
    """Backward through Linear/ReLU layers: h[i] is layer i's input (a ReLU output for i > 0), g the gradient
    at the last layer's output; writes the weight and bias grads and returns the gradient at the first
    layer's pre-activation (the caller takes it back to the input it needs). MADE passes masked = the masked
    weights its forward multiplied by (each weight's gradient is then masked too)."""
    for i in range(len(lins) - 1, -1, -1):
        lin = lins[i]
        if i == 0:  # (hidden, batch) @ (batch, d) with d = 2 is 6x slower in MKL than its transpose
            lin.weight.grad.t().copy_(torch.mm(h[0].t(), g))
        else:
            gemm.mm(g.t(), h[i], out=lin.weight.grad)
        if masked is not None:
            lin.weight.grad.mul_(lin.mask)
        torch.sum(g, 0, out=lin.bias.grad)
        if i > 0:
            weight = lin.weight if masked is None else masked[i]
            gemm.mm(g, weight, out=gh[i - 1])
            g = _threshold_backward(gh[i - 1], h[i], 0, grad_input=gh[i - 1])
    return g


# -- MADE affine block, 'maf' mode (density in one pass) --------------------------------------------------
def _made_covers(layer) -> bool:
    made = layer.made
    return (layer.mode == "maf" and made.n_out == 2 and made.cond_dim == 0 and type(made.act) is nn.ReLU)


def _made_alloc(layer, b, d, get):
    made = layer.made
    lins = [*made.layers, made.out]
    return SimpleNamespace(
        lins=lins, wm=[get(f"wm{i}", *lin.weight.shape) for i, lin in enumerate(lins)],
        h=[None] + [get(f"h{i + 1}", b, n) for i, n in enumerate(made.hidden)], o=get("o", b, 2 * d),
        q=get("q", b, d), u=get("u", b, d), a=get("a", b, d), ex=get("ex", b, d), sp=None, z=get("out", b, d),
        ld=get("ld", b), go=get("go", b, 2 * d), gs=get("gs", b, d), du=get("du", b, d),
        gh=[get(f"gh{i}", b, n) for i, n in enumerate(made.hidden)], gx=get("gx", b, d), one=get("one"),
        inv_b=get("inv_b"))


def _made_forward(layer, w, x, total):
    d = x.shape[1]
    w.h[0] = x
    for i, lin in enumerate(w.lins):
        torch.mul(lin.weight, lin.mask, out=w.wm[i])
        a = w.h[i + 1] if i + 1 < len(w.lins) else w.o
        gemm.linear(w.h[i], w.wm[i], lin.bias, out=a)
        if a is not w.o:
            a.relu_()
    first, raw = w.o[:, :d], w.o[:, d:]  # (μ, r) with tanh, (t, r) with softplus
    if layer.scale == "tanh":
        torch.div(raw, layer.bound, out=w.q)
        torch.tanh(w.q, out=w.u)
        torch.mul(w.u, layer.bound, out=w.a)
        torch.neg(w.a, out=w.ex).exp_()
        torch.sub(x, first, out=w.z).mul_(w.ex)
        torch.sum(w.a, 1, out=w.ld)  # log|det| = Σ(-α) = -Σα bit for bit
        total = torch.neg(w.ld, out=total) if total is None else total.sub_(w.ld)
    else:
        torch.add(raw, SOFTPLUS_SHIFT, out=w.q)
        w.sp = nn.functional.softplus(w.q).add_(1e-3)
        torch.mul(w.sp, x, out=w.z).add_(first)
        torch.sum(torch.log(w.sp), 1, out=w.ld)
        total = total.add_(w.ld) if total is not None else w.ld.clone()
    return w.z, total


def _made_backward(layer, w, gz, need_gx):
    d, x = gz.shape[1], w.h[0]
    g_first, g_raw = w.go[:, :d], w.go[:, d:]
    if layer.scale == "tanh":  # z = (x - μ)·exp(-α), α = b·tanh(r/b), log|det| = -Σα
        torch.mul(gz, w.ex, out=w.gx)
        torch.neg(w.gx, out=g_first)
        torch.addcmul(w.inv_b, gz, w.z, value=-1, out=w.gs)
        torch.addcmul(w.one, w.u, w.u, value=-1, out=w.du)
        torch.mul(w.gs, w.du, out=g_raw)
    else:  # z = s·x + t, s = softplus(r + c) + 1e-3, log|det| = Σ log s
        torch.mul(gz, w.sp, out=w.gx)
        g_first.copy_(gz)
        torch.mul(gz, x, out=w.gs).sub_(torch.reciprocal(w.sp).mul_(w.inv_b))
        torch.ops.aten.softplus_backward.grad_input(w.gs, w.q, 1, 20, grad_input=g_raw)
    g = _mlp_backward(w.lins, w.h, w.go, w.gh, masked=w.wm)
    return _add_narrow(w.gx, w.gx, g, w.wm[0]) if need_gx else None


# -- permutation and ActNorm ----------------------------------------------------------------------------
def _perm_alloc(layer, b, d, get):
    return SimpleNamespace(y=get("out", b, d), gx=get("gx", b, d))


def _perm_forward(layer, w, x, total):
    return torch.index_select(x, 1, layer.inv_perm, out=w.y), total


def _perm_backward(layer, w, gy, need_gx):
    return torch.index_select(gy, 1, layer.perm, out=w.gx) if need_gx else None


def _actnorm_alloc(layer, b, d, get):
    return SimpleNamespace(y=get("out", b, d), gx=get("gx", b, d), ex=None)


def _actnorm_forward(layer, w, x, total):
    if layer.training and not bool(layer.initialized) and len(x) > 1:
        layer._init_from(x)
    w.ex = torch.exp(-layer.log_scale)
    torch.sub(x, layer.loc, out=w.y).mul_(w.ex)
    ld = layer.log_scale.sum()
    total = total.sub_(ld) if total is not None else (-ld).expand(len(x)).contiguous()
    return w.y, total


def _actnorm_backward(layer, w, gy, need_gx):
    torch.mul(gy, w.ex, out=w.gx)
    torch.sum(w.gx, 0, out=layer.loc.grad).neg_()
    torch.sum(gy * w.y, 0, out=layer.log_scale.grad).neg_().add_(1)  # log|det| = -Σ log_scale
    return w.gx


# type -> (covers, alloc, forward, backward); exact types: a subclass may compute something else
LAYERS = {
    AffineCoupling: (_coupling_covers, _coupling_alloc, _coupling_forward, _coupling_backward),
    MaskedAffine: (_made_covers, _made_alloc, _made_forward, _made_backward),
    Permutation: (lambda layer: True, _perm_alloc, _perm_forward, _perm_backward),
    ActNorm: (lambda layer: True, _actnorm_alloc, _actnorm_forward, _actnorm_backward),
}
BASES = (StandardNormal, DiagGaussian)


def covers(model, x) -> bool:
    """Whether nll_and_grads computes this model's step on x (else the plain autograd path must)."""
    return plan(model, x) is not None


def _structure_covered(model, x) -> bool:
    """What only changes with the model's class, layers or dtype (checked when the buffers are built)."""
    cls = type(model)
    if (cls.loss is not GenerativeModel.loss or cls.log_prob is not FlowModel.log_prob
            or cls.inverse_with_trace is not FlowModel.inverse_with_trace or model.layer_inverse != "inverse"
            or type(model.base) not in BASES or any(type(layer) not in LAYERS for layer in model.layers)):
        return False
    params = list(model.parameters())
    return bool(params) and all(p.dtype == x.dtype and p.device == x.device for p in params)


# model -> its workspace (buffers kept between steps, keyed by the batch's shape, dtype and device): outside
# the model, so copies, pickles and state_dicts of it never carry them; a new key replaces the old buffers
_WORKSPACES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def plan(model, x):
    """The workspace for a training step of `model` on the batch x, or None where this module does not cover
    them. The parameter list is the one the workspace was built with: nn.Module.parameters() costs ~80 µs
    (a tenth of a small flow's step); load_state_dict, .to() and FlatAdam keep the Parameter objects, and a
    Parameter attribute replaced later would not be in the optimizer either."""
    if x.dim() != 2 or x.requires_grad or not torch.is_grad_enabled():
        return None
    key = (tuple(x.shape), x.dtype, x.device, len(model.layers))
    ws = _WORKSPACES.get(model)
    if ws is None or ws.key != key:
        if not _structure_covered(model, x):
            return None
        ws = _WORKSPACES[model] = _build(model, x, key)
    for layer, _, _, _, layer_covers in ws.layers:  # e.g. a MADE block switched to IAF
        if not layer_covers(layer):
            return None
    if not all(p.requires_grad for p in ws.params) or has_grad_hooks(ws.params):
        return None
    return ws


def _train_slot(name, j):
    """Backward scratch is shared by all layers (one set in cache instead of one per layer); "gx", ∂loss/∂input,
    by every other layer: layer j writes it into slot j % 2, never the slot its ∂loss/∂output came in."""
    if name == "gx":
        return j % 2
    return None if name.startswith("gh") or name in ("one", "inv_b") else j


def _build(model, x, key):
    layers, get = [], _pool(x, _train_slot, torch.Tensor.new_zeros)
    for j, layer in enumerate(reversed(model.layers)):
        layer_covers, alloc, forward, backward = LAYERS[type(layer)]
        layers.append((layer, forward, backward, alloc(layer, *x.shape, lambda *k: get(j, *k)), layer_covers))
    return SimpleNamespace(key=key, layers=layers, params=tuple(model.parameters()),
                           base=SimpleNamespace(gz=torch.empty_like(x), u=torch.empty_like(x)))


def _pool(x, slot, new):
    """get(j, name, *shape): layer j's buffer `name`, shared by every layer with the same slot(name, j);
    new(x, shape) makes one (zeros where a buffer is only partly written: the coupling's "go")."""
    pool = {}

    def get(j, name, *shape):
        key = (name, slot(name, j), shape)
        if key not in pool:
            pool[key] = (x.new_ones(()) if name == "one" else x.new_full((), 1 / len(x)) if name == "inv_b"
                         else new(x, shape))
        return pool[key]
    return get


def _base_backward(base, z, w, inv_b):
    """∂loss/∂z for loss = -mean(log p_Z(z) + log|det|); writes the base's own parameter grads."""
    if type(base) is StandardNormal:
        return torch.mul(z, inv_b, out=w.gz)
    e = torch.exp(-base.log_sigma)
    torch.sub(z, base.mu, out=w.u).mul_(e)  # u = (z - μ)/σ
    torch.mul(w.u, e, out=w.gz).mul_(inv_b)
    torch.sum(w.gz, 0, out=base.mu.grad).neg_()
    torch.sum(w.u * w.u, 0, out=base.log_sigma.grad).mul_(-inv_b).add_(1)
    return w.gz


def nll_and_grads(model, x, ws=None):
    """The mean NLL of x (a fresh scalar) with every parameter's gradient written into p.grad: every entry
    set, not accumulated (what zero_grad + backward leave); ws = plan(model, x), which must not be None."""
    ws = ws if ws is not None else plan(model, x)
    if ws is None:
        raise ValueError(f"fused_step does not cover this {type(model).__name__} and batch: use autograd")
    with torch.no_grad():
        return _run(model, x, ws)


def _run(model, x, ws):
    for p in ws.params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    h, total = x, None
    for layer, forward, _, w, _ in ws.layers:
        h, total = forward(layer, w, h, total)
    if total is None:
        total = x.new_zeros(len(x))
    loss = -(model.base.log_prob(h) + total).mean()
    g = _base_backward(model.base, h, ws.base, 1.0 / len(x))
    for j in range(len(ws.layers) - 1, -1, -1):  # the first layer reads the data: no gradient wanted there
        layer, _, backward, w, _ = ws.layers[j]
        g = backward(layer, w, g, j > 0)
    return loss
