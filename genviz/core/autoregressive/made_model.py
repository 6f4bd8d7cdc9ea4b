"""MADE as a density model of binary images (Germain et al. 2015): Bernoulli outputs, masks from degrees.

Connectivity-agnostic training: with `num_masks` = K > 1, every training step uses one of K mask sets (hidden
degrees, and with `order_agnostic` the ordering too) drawn at random; at test time log p is the ensemble
log (1/K) Σ_k p_k(x), itself a normalized density (a uniform mixture of K autoregressive models).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from genviz.core import fast_ops, fused_adam
from genviz.core.autoregressive import staircase
from genviz.core.autoregressive.base import AutoregressiveModel
from genviz.core.autoregressive.nade import parameter_counts
from genviz.core.autoregressive.orders import ORDERS, make_order
from genviz.core.config import param
from genviz.core.masked import MADE, MaskedLinear
from genviz.core.model import has_grad_hooks


@dataclass
class MADEConfig:
    hidden: int = param(500, lo=1, hi=8192, unit="units", help="width of each hidden layer")
    depth: int = param(1, lo=1, hi=8, unit="layers", help="number of hidden layers")
    order: str = param("raster", choices=ORDERS, help="the order in which pixels are generated (mask 0)")
    order_seed: int = param(0, lo=0, hi=2**31 - 1, help="seeds the random orderings and the hidden degrees")
    num_masks: int = param(1, lo=1, hi=64, help="connectivity-agnostic training: a random one of this many "
                                                "mask sets each step, their ensemble at test time")
    order_agnostic: bool = param(False, help="masks after the first also draw their own random ordering")
    ensemble: bool = param(True, help="test-time log p averages the probabilities of all masks (else mask 0)")
    direct: bool = param(True, help="add masked direct input→output connections (an FVSBN inside MADE); "
                                     "on by default: it reaches ≤ 90 nats on MNIST within 16k steps, plain MADE "
                                     "needs far longer")


class MADEModel(AutoregressiveModel):
    """x: (B, D) or (B, *data_shape) in {0, 1}; `net` is the shared masked MLP (genviz.core.masked.MADE)."""

    def __init__(self, cfg: MADEConfig, data_shape):
        super().__init__(cfg, data_shape)
        d = self.data_dim
        self.register_buffer("base_order", make_order(cfg.order, self.data_shape, cfg.order_seed))
        self.net = MADE(d, (cfg.hidden,) * cfg.depth, n_out=1, order=self.base_order)
        self.direct = MaskedLinear(d, d) if cfg.direct else None
        if self.direct is not None:
            self.direct.bias.data.zero_()
            self.direct.bias.requires_grad_(False)  # the output layer already has a bias
        self.register_buffer("mask_index", torch.tensor(-1))
        self.use_mask(0)
        self._plan: staircase.Plan | None = None
        if cfg.num_masks == 1:  # the masks never change: store the hidden units by degree (staircase.py)
            self._sort_hidden_units()

    @torch.no_grad()
    def _sort_hidden_units(self) -> None:
        """Relabel each hidden layer's units in order of degree, moving their weights with them: the same
        function (and the same initial numbers), with every mask a contiguous staircase."""
        cols = staircase._perm_or_none(self.base_order)
        layers = [*self.net.layers, self.net.out]
        for layer, nxt in zip(layers[:-1], layers[1:]):
            perm = staircase.sorting_perm(layer.mask, cols)
            for t in (layer.weight, layer.bias, layer.mask):
                t.copy_(t.index_select(0, perm))
            for t in (nxt.weight, nxt.mask):
                t.copy_(t.index_select(1, perm))
            cols = None

    @property
    def order(self) -> torch.Tensor:
        return self.net.order

    # -- masks ------------------------------------------------------------------------------------------
    def use_mask(self, k: int) -> None:
        """Install mask set k of num_masks (deterministic in order_seed and k)."""
        if int(self.mask_index) == k:
            return
        cfg = self.cfg
        if cfg.order_agnostic and k > 0:
            g = torch.Generator().manual_seed(cfg.order_seed * 7919 + k)
            self.net.order.copy_(torch.randperm(self.data_dim, generator=g))
        else:
            self.net.order.copy_(self.base_order)
        self.net.resample_masks(seed=cfg.order_seed * 1000 + k, new_order=False)
        if self.direct is not None:
            deg = self.net.input_degrees
            self.direct.set_mask((deg[:, None] > deg[None, :]).float())
        self.mask_index.fill_(k)

    def masks(self) -> list[torch.Tensor]:
        """The current mask matrices, (out, in) each, input→hidden…→output."""
        return self.net.masks()

    def connectivity(self) -> torch.Tensor:
        """(D, D) number of paths from input j to output i (plus 1 for a direct connection)."""
        c = self.net.connectivity()
        return c + self.direct.mask if self.direct is not None else c

    # -- density ----------------------------------------------------------------------------------------
    def logits(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)
        plan = None if torch.is_grad_enabled() else self._fast_plan(x)
        if plan is not None:  # held-out log p (no gradient): the staircase's block products
            y = self._staircase_forward(plan, x)[-1]
            return y if plan.inv_out is None else y.index_select(1, plan.inv_out)
        out = self.net(x)
        return out + self.direct(x) if self.direct is not None else out

    # -- the staircase fast path (staircase.py): same function, about 58% of the dense arithmetic ----------
    def _fast_plan(self, x: torch.Tensor) -> staircase.Plan | None:
        """The block plan for the current masks, or None where the dense path must run: several mask sets
        (they change every step), a device other than a CPU or a CUDA GPU, a layer or parameter setup this path does
        not cover."""
        net, direct = self.net, self.direct
        w = net.out.weight
        if (self.cfg.num_masks != 1 or w.device.type not in ("cpu", "cuda") or x.device != w.device
                or x.dtype != w.dtype or x.requires_grad or type(net.act) is not nn.ReLU or net.n_out != 1
                or net.cond_dim
                or not all(p.requires_grad and p.dtype == w.dtype for p in net.parameters())
                or (direct is not None and (not direct.weight.requires_grad or direct.bias.requires_grad
                                            or direct.weight.dtype != w.dtype))):
            return None
        if self._plan is None or self._plan.key != staircase.plan_key(net, direct):
            blocks = staircase.BLOCKS if w.device.type == "cpu" else staircase.GPU_BLOCKS
            self._plan = staircase.Plan(net, direct, blocks)
        return self._plan

    def _staircase_forward(self, plan: staircase.Plan, x: torch.Tensor, training: bool = False):
        """(x_p, masked weights, activations [x_p, h1, ...], logits_p), in the plan's sorted coordinates."""
        st = staircase
        xp = x if plan.in_perm is None else x.index_select(1, plan.in_perm)
        wms, hs = [], [xp]
        for layer, pl in zip(self.net.layers, plan.hidden):
            wms.append(st.masked_weight(layer.weight, pl, training))
            hs.append(st.linear(hs[-1], wms[-1], layer.bias, pl).relu_())
        wms.append(st.masked_weight(self.net.out.weight, plan.out, training))
        y = st.linear(hs[-1], wms[-1], self.net.out.bias, plan.out)
        if self.direct is not None:
            wms.append(st.masked_weight(self.direct.weight, plan.direct, training))
            st.linear(xp, wms[-1], self.direct.bias, plan.direct, out=y)
        return xp, wms, hs, y

    def train_step(self, x, optimizers, train):
        """One step of the NLL; with one mask set (on a CPU or a GPU), forward and backward by hand over the
        staircase's blocks (the gradients autograd would give, written into .grad), else the dense autograd step."""
        x = x.flatten(1)
        fast = torch.is_grad_enabled() and len(optimizers) == 1 and not has_grad_hooks(self.parameters())
        plan = self._fast_plan(x) if fast else None
        if plan is None:
            return super().train_step(x, optimizers, train)
        st, net = staircase, self.net
        (opt,) = optimizers
        for p in self.parameters():  # every gradient is overwritten below: no zeroing pass
            if p.requires_grad and p.grad is None:
                p.grad = torch.zeros_like(p)
        with torch.no_grad():
            xp, wms, hs, y = self._staircase_forward(plan, x, training=True)
            nll = -fast_ops.log_bernoulli_with_logits(xp, y).mean()
            # d nll / d logits = -(x - σ(y)) / B, as autograd's mean and Bernoulli backward compute it
            dy = (xp - torch.sigmoid(y)).mul_(-1.0 / len(x))
            if self.direct is not None:
                st.weight_grad(dy, xp, plan.direct, self.direct.weight.grad)
            st.weight_grad(dy, hs[-1], plan.out, net.out.weight.grad)
            st.bias_grad(dy, plan.out, net.out.bias.grad)
            dh = st.input_grad(dy, wms[len(net.layers)], plan.out)
            for i in reversed(range(len(net.layers))):
                dh.masked_fill_(hs[i + 1] <= 0, 0)  # ReLU's backward: the gradient where the output > 0
                layer, pl = net.layers[i], plan.hidden[i]
                st.weight_grad(dh, hs[i], pl, layer.weight.grad)
                st.bias_grad(dh, pl, layer.bias.grad)
                if i:
                    dh = st.input_grad(dh, wms[i], pl)
        if train.grad_clip > 0:
            nn.utils.clip_grad_norm_(self.parameters(), train.grad_clip)
        opt.step()
        return {"loss": nll, "nll": nll}

    def log_prob_mask(self, x: torch.Tensor, k: int) -> torch.Tensor:
        self.use_mask(k)
        return super().log_prob(x)

    def configure_optimizers(self, train):
        # one fused pass per weight matrix: ~1 ms a step where the for-loop's ten passes take ~3 (fused_adam.py)
        return [fused_adam.adam(self.parameters(), lr=train.lr)]

    def ensemble_size(self) -> int:
        return self.cfg.num_masks if self.cfg.ensemble else 1

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log p(x), (B,): the ensemble log mean_k p_k(x) over the mask sets."""
        keep, k_n = int(self.mask_index), self.ensemble_size()
        lp = torch.stack([self.log_prob_mask(x, k) for k in range(k_n)])
        self.use_mask(keep)
        return lp[0] if k_n == 1 else torch.logsumexp(lp, 0) - math.log(k_n)

    def loss(self, x):
        """NLL under one mask set, drawn anew each step when num_masks > 1 (connectivity-agnostic training)."""
        k = int(torch.randint(self.cfg.num_masks, ())) if self.cfg.num_masks > 1 else 0
        nll = -self.log_prob_mask(x, k).mean()
        return nll, {"nll": nll.detach()}

    # -- sampling: incremental first layer, so a step costs O(H) there instead of O(D·H) ------------------
    def sampling_state(self, x):
        first = self.net.layers[0]
        w1 = first.weight * first.mask
        out_w = self.net.out.weight * self.net.out.mask
        dw = self.direct.weight * self.direct.mask if self.direct is not None else None
        return {"a1": F.linear(x, w1, first.bias), "w1": w1, "out_w": out_w, "dw": dw}

    def next_logit(self, x, d, state):
        h = self.net.act(state["a1"])
        for layer in self.net.layers[1:]:
            h = self.net.act(layer(h))
        logit = h @ state["out_w"][d] + self.net.out.bias[d]
        if state["dw"] is None:
            return logit
        return logit + x @ state["dw"][d] + self.direct.bias[d]

    def after_draw(self, x, d, state):
        state["a1"] += x[:, d:d + 1] * state["w1"][:, d]
        return state

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n examples from the model whose log_prob is reported: with an ensemble, the mixture over masks
        (each sample's mask drawn uniformly), every one drawn in its own mask's order."""
        k_n, keep = self.ensemble_size(), int(self.mask_index)
        which = torch.randint(k_n, (n,), generator=generator)
        x = torch.zeros(n, self.data_dim, device=self.device, dtype=next(self.parameters()).dtype)
        for k in range(k_n):
            idx = (which == k).nonzero()[:, 0]
            if len(idx):
                self.use_mask(k)
                x[idx.to(x.device)] = self.sample_in_order(len(idx), generator)[0]
        self.use_mask(keep)
        return x.reshape(n, *self.data_shape)

    # -- plots ------------------------------------------------------------------------------------------
    def visualize(self, data, view: dict) -> dict[str, np.ndarray]:
        """Base arrays (ordering, Jacobian, samples, animation) with mask set `view['mask']`, plus its masks
        sorted by degree and the connectivity in generation order."""
        keep = int(self.mask_index)
        self.use_mask(int(view.get("mask", 0)) % self.cfg.num_masks)
        out = super().visualize(data, view)
        out.update(mask_arrays(self.net))
        out["connectivity"] = self.in_order(self.connectivity()).float().cpu().numpy()
        out["n_parameters"] = float(sum(p.numel() for p in self.parameters() if p.requires_grad))
        out.update(parameter_counts(self.data_dim, self.cfg.hidden))
        out["mask"] = float(self.mask_index)
        self.use_mask(keep)
        return out


def mask_arrays(net: MADE) -> dict[str, np.ndarray]:
    """'mask_0'..'mask_L' (out, in), rows and columns sorted by unit degree so the staircase shows."""
    degs = [net.input_degrees]
    for m in net.masks()[:-1]:
        degs.append(_unit_degree(m, degs[-1]))
    out = {}
    masks = net.masks()
    for i, m in enumerate(masks):
        cols = torch.argsort(degs[i].to(m.device), stable=True)
        rows = (torch.argsort(degs[i + 1].to(m.device), stable=True) if i + 1 < len(degs)
                else torch.argsort(net.input_degrees.repeat(net.n_out).to(m.device), stable=True))
        out[f"mask_{i}"] = m[rows][:, cols].float().cpu().numpy()
    return out


def _unit_degree(mask: torch.Tensor, prev_deg: torch.Tensor) -> torch.Tensor:
    """A unit's degree recovered from its mask row: the largest degree among the units it is connected to."""
    d = prev_deg.to(mask.device, mask.dtype)
    return (mask * d[None, :]).amax(1).long()
