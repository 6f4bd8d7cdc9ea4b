"""MADE's masked layers as a few block products over each mask's nonzero prefix (#17, target 4).

With the inputs in generation order and the hidden units sorted by degree, every MADE mask is a staircase:
the rows of a block of consecutive units (hidden or output) see only a prefix of the previous layer's units,
and the direct-connection mask is strictly lower triangular. So each layer is computed as K products
(rows r0:r1) × (columns :e), e the largest prefix any row of the block needs: about 1/2 + 1/(2K) of the dense
arithmetic, forward and backward (measured on MNIST's 784-500-784 at batch 100, one CPU thread: the six
block products of a layer take ~70-75% of the dense product's time; smaller products run less efficiently).
Entries inside a block that the mask zeroes are multiplied by their zero mask, as the dense path does, and
entries outside every block are zero in the mask: the same function and the same gradients (masked weights
get exactly zero), up to the summation order of the products.

Any mask works: a `Plan` reads each layer's row extents from the masks themselves, sorts the rows by them and
gathers the weights in that order when the stored order is not already sorted (an old checkpoint whose hidden
units are in draw order; an ordering other than raster). MADEModel stores new models' hidden units sorted by
degree, so the default needs no gather. tests/core/test_made_staircase.py compares with the dense path.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

BLOCKS = 6  # measured on MNIST's 784-500-784 at batch 100 (one CPU thread): 4-8 are within noise of each other
# On a GPU a step's time is the CPU launching its kernels (an H200 runs MNIST's MADE step's products in
# microseconds): K blocks launch K times the products, so there one block, the dense masked product, with the
# backward still written out (no autograd engine between the kernels)
GPU_BLOCKS = 1


@dataclass
class Layer:
    """One masked linear layer in sorted coordinates: weight_p = weight[rows][:, cols], mask_p likewise."""
    rows: torch.Tensor | None  # None: the identity (no gather)
    cols: torch.Tensor | None
    inv_cols: torch.Tensor | None
    mask_p: torch.Tensor  # (R, C), contiguous
    blocks: list[tuple[int, int, int]]  # (r0, r1, e): rows r0:r1 read columns :e
    # the masked weight, rewritten every training step: a fresh (R, C) tensor each time comes from fresh
    # pages (the allocator maps large blocks anew), and touching them cost more than the products it feeds
    wm: torch.Tensor | None = None


def extents(mask_p: torch.Tensor) -> torch.Tensor:
    """Per row, 1 + the index of its last nonzero column (0 for an all-zero row): (R,) long."""
    idx = torch.arange(1, mask_p.shape[1] + 1, device=mask_p.device)
    return ((mask_p != 0).long() * idx).amax(1) if mask_p.shape[1] else torch.zeros(len(mask_p), dtype=torch.long)


def _perm_or_none(p: torch.Tensor) -> torch.Tensor | None:
    return None if torch.equal(p, torch.arange(len(p), device=p.device)) else p


def sorting_perm(mask: torch.Tensor, cols: torch.Tensor | None) -> torch.Tensor:
    """The row order (stable) that sorts a mask's rows by their extent over the columns taken in `cols` order."""
    m = mask if cols is None else mask.index_select(1, cols)
    return torch.argsort(extents(m), stable=True)


def make_layer(mask: torch.Tensor, rows: torch.Tensor | None, cols: torch.Tensor | None,
               n_blocks: int = BLOCKS) -> Layer:
    m = mask if rows is None else mask.index_select(0, rows)
    m = (m if cols is None else m.index_select(1, cols)).contiguous()
    ext = extents(m).tolist()
    n = len(ext)
    bounds = sorted({round(i * n / n_blocks) for i in range(n_blocks + 1)})
    blocks = [(r0, r1, max(ext[r0:r1])) for r0, r1 in zip(bounds[:-1], bounds[1:]) if r1 > r0]
    inv = None if cols is None else torch.argsort(cols)
    return Layer(rows, cols, inv, m, blocks)


class Plan:
    """The sorted layers of a MADE (hidden layers, output layer, optional direct connections) for one mask set.

    `key` identifies the masks and order it was built from (storage and version counters): a mask changed in
    place (use_mask, load_state_dict) or a model moved or cast gives another key, and the caller builds anew.
    """

    def __init__(self, net, direct, n_blocks: int = BLOCKS):
        self.key = plan_key(net, direct)
        order = net.order
        self.in_perm = _perm_or_none(order)  # inputs, and outputs (n_out = 1), in generation order
        self.inv_out = None if self.in_perm is None else torch.argsort(order)
        self.hidden: list[Layer] = []
        cols = self.in_perm
        for layer in net.layers:
            rows = _perm_or_none(sorting_perm(layer.mask, cols))
            self.hidden.append(make_layer(layer.mask, rows, cols, n_blocks))
            cols = rows
        self.out = make_layer(net.out.mask, self.in_perm, cols, n_blocks)
        self.direct = None if direct is None else make_layer(direct.mask, self.in_perm, self.in_perm, n_blocks)


def plan_key(net, direct) -> tuple:
    ts = [net.order, *net.masks()] + ([direct.mask] if direct is not None else [])
    return tuple((t.data_ptr(), t._version, t.dtype, t.device) for t in ts)


def _gather(w: torch.Tensor, layer: Layer) -> torch.Tensor:
    if layer.rows is not None:
        w = w.index_select(0, layer.rows)
    if layer.cols is not None:
        w = w.index_select(1, layer.cols)
    return w


def masked_weight(w: torch.Tensor, layer: Layer, reuse: bool = False) -> torch.Tensor:
    """weight_p * mask_p on the blocks only (the rest is never read): (R, C); with `reuse`, written into the
    layer's buffer (training steps: one thread, one step at a time), else into a fresh tensor."""
    src = _gather(w, layer)
    if reuse and layer.wm is None:
        layer.wm = torch.empty_like(layer.mask_p)
    out = layer.wm if reuse else torch.empty_like(layer.mask_p)
    for r0, r1, e in layer.blocks:
        if e:
            torch.mul(src[r0:r1, :e], layer.mask_p[r0:r1, :e], out=out[r0:r1, :e])
    return out


def _rows(v: torch.Tensor | None, layer: Layer) -> torch.Tensor | None:
    return v if v is None or layer.rows is None else v.index_select(0, layer.rows)


def linear(h: torch.Tensor, wm: torch.Tensor, bias: torch.Tensor | None, layer: Layer,
           out: torch.Tensor | None = None) -> torch.Tensor:
    """h (B, C) @ wm.T + bias over the blocks: (B, R); `out` (B, R) is added to instead when given."""
    b = _rows(bias, layer)
    y = torch.empty(h.shape[0], wm.shape[0], dtype=h.dtype, device=h.device) if out is None else out
    for r0, r1, e in layer.blocks:
        ys = y[:, r0:r1]
        if out is None:
            if e:
                if b is None:
                    torch.mm(h[:, :e], wm[r0:r1, :e].t(), out=ys)
                else:
                    torch.addmm(b[r0:r1], h[:, :e], wm[r0:r1, :e].t(), out=ys)
            else:
                ys.copy_(b[r0:r1].expand_as(ys)) if b is not None else ys.zero_()
        else:
            if e:
                ys.addmm_(h[:, :e], wm[r0:r1, :e].t())
            if b is not None:
                ys.add_(b[r0:r1])
    return y


def weight_grad(dy: torch.Tensor, h: torch.Tensor, layer: Layer, grad: torch.Tensor) -> None:
    """grad (the parameter's, stored order) = (dy.T @ h) * mask on the blocks and 0 elsewhere."""
    direct_write = layer.rows is None and layer.cols is None
    g = grad if direct_write else torch.empty_like(layer.mask_p)
    for r0, r1, e in layer.blocks:
        if e:
            gs = g[r0:r1, :e]
            torch.mm(dy[:, r0:r1].t(), h[:, :e], out=gs)
            gs.mul_(layer.mask_p[r0:r1, :e])
            g[r0:r1, e:].zero_()
        else:
            g[r0:r1].zero_()
    if direct_write:
        return
    if layer.cols is not None:
        g = g.index_select(1, layer.inv_cols)
    if layer.rows is None:
        grad.copy_(g)
    else:
        grad.index_copy_(0, layer.rows, g)


def bias_grad(dy: torch.Tensor, layer: Layer, grad: torch.Tensor) -> None:
    s = dy.sum(0)
    if layer.rows is None:
        grad.copy_(s)
    else:
        grad.index_copy_(0, layer.rows, s)


def input_grad(dy: torch.Tensor, wm: torch.Tensor, layer: Layer) -> torch.Tensor:
    """dy (B, R) @ wm over the blocks: (B, C), in the layer's column order."""
    dh = torch.zeros(dy.shape[0], wm.shape[1], dtype=dy.dtype, device=dy.device)
    for r0, r1, e in layer.blocks:
        if e:
            dh[:, :e].addmm_(dy[:, r0:r1], wm[r0:r1, :e])
    return dh
