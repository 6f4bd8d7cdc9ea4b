"""NADE, the neural autoregressive distribution estimator (Larochelle & Murray 2011).

One hidden layer whose input weights are shared by every conditional: with variables in generation order,

    a_1 = c,   a_{t+1} = a_t + W[:, t] x_t,   h_t = σ(a_t),   p(x_t = 1 | x_<t) = σ(V_t · h_t + b_t),

so all D conditionals cost O(D·H) (the recurrence, a running sum) instead of O(D²·H) (each h_t recomputed
from scratch, `logits_naive`). Parameters: W (H, D), c (H), V (D, H), b (D): 2·D·H + D + H. W, V and b are
stored by generation step (column t of W belongs to variable order[t]). Training takes the recurrence BLOCK
steps at a time (`hidden_blocks`); sampling takes it one step at a time. log p(x) and its gradient are written
by hand (`_LogLikelihood`): a training step at B = 100, H = 500 takes 0.10-0.11 s of one CPU thread against
autograd's 0.12-0.14 s through the same blocks (same process).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from genviz.core import gemm
from genviz.core.autoregressive.base import AutoregressiveModel
from genviz.core.autoregressive.orders import ORDERS, make_order, positions
from genviz.core.config import param

BLOCK = 16  # steps per block of the recurrence (hidden_states); 16 was fastest on a CPU for MNIST, H = 500


@dataclass
class NADEConfig:
    hidden: int = param(500, lo=1, hi=8192, unit="units", help="hidden units shared by all conditionals "
                                                               "(the NADE paper uses 500)")
    order: str = param("raster", choices=ORDERS, help="the order in which pixels are generated")
    order_seed: int = param(0, lo=0, hi=2**31 - 1, help="seeds the random ordering")


def parameter_counts(n: int, hidden: int) -> dict[str, float]:
    """Trainable parameters of the binary autoregressive models for n variables, side by side (closed forms;
    MADE with one hidden layer of `hidden` units, one mask, with and without its direct connections)."""
    made = 2 * n * hidden + hidden + n  # input→hidden weights and biases, hidden→output weights and biases
    return {"count_hidden": float(hidden), "n_parameters_fvsbn": float(n * (n + 1) // 2),
            "n_parameters_nade": float(2 * n * hidden + n + hidden), "n_parameters_made": float(made),
            "n_parameters_made_direct": float(made + n * n)}


def _block_hidden(xb, wT, start, before):
    """h for one block, (B, k, H): σ(a_t0 + Σ_{t0≤s<t} W[:, s] x_s), the masked sum as one product."""
    n, k = xb.shape
    m = (xb.unsqueeze(1) * before[:k, :k]).reshape(n * k, k)
    return m, gemm.mm(m, wT).view(n, k, -1).add_(start.unsqueeze(1)).sigmoid_()


class _LogLikelihood(torch.autograd.Function):
    """log p(x), (B,), from x in generation order (B, D) and NADE's W (H, D), c, V (D, H), b.

    Why by hand: autograd keeps every block's (B, k, H) intermediates alive and adds passes over them; here the
    forward keeps only each block's start a_t0 (B, H) and the backward recomputes the block's h from it while
    the block is in cache. Per block, with dz = ∂log p/∂logit: dV_t = Σ_b dz h_t, dA = dz V_t ⊙ h(1 − h), and
    a_t0 carries Σ of the later blocks' dA back to W and c. The block products go through `gemm` (oneDNN on a
    CPU, 2x MKL at these shapes). x gets no gradient (data)."""

    @staticmethod
    def forward(ctx, xo, W, c, V, b):
        n, d = xo.shape
        before = torch.ones(BLOCK, BLOCK, dtype=xo.dtype, device=xo.device).tril(-1)
        wT = W.T.contiguous()  # (D, H): a block's weights are contiguous rows (a strided view is slow in oneDNN)
        z = torch.empty(n, d, dtype=xo.dtype, device=xo.device)
        starts = torch.empty((d + BLOCK - 1) // BLOCK, n, W.shape[0], dtype=xo.dtype, device=xo.device)
        a0 = c.expand(n, -1).clone()
        for i, t0 in enumerate(range(0, d, BLOCK)):
            xb, wbT = xo[:, t0:t0 + BLOCK], wT[t0:t0 + BLOCK]
            starts[i] = a0
            _, h = _block_hidden(xb, wbT, a0, before)
            torch.sum(h.mul_(V[t0:t0 + BLOCK]), -1, out=z[:, t0:t0 + BLOCK])
            a0.addmm_(xb, wbT)
        z += b
        ctx.save_for_backward(xo, wT, V, z, starts)
        return xo.mul(z).sub_(F.softplus(z)).sum(1)  # Σ_t x_t log σ(z_t) + (1 − x_t) log σ(−z_t)

    @staticmethod
    def backward(ctx, g):
        xo, wT, V, z, starts = ctx.saved_tensors
        n, d = xo.shape
        before = torch.ones(BLOCK, BLOCK, dtype=xo.dtype, device=xo.device).tril(-1)
        dz = (xo - torch.sigmoid(z)).mul_(g.unsqueeze(1))
        dwT, dV = torch.empty_like(wT), torch.empty_like(V)
        later = torch.zeros_like(starts[0])  # ∂/∂a_t0 from the blocks after this one
        for i in reversed(range(len(starts))):
            t0 = i * BLOCK
            xb, dzb = xo[:, t0:t0 + BLOCK], dz[:, t0:t0 + BLOCK]
            m, h = _block_hidden(xb, wT[t0:t0 + BLOCK], starts[i], before)
            torch.bmm(dzb.T.unsqueeze(1), h.transpose(0, 1), out=dV[t0:t0 + BLOCK].unsqueeze(1))
            da = torch.ops.aten.sigmoid_backward(dzb.unsqueeze(2) * V[t0:t0 + BLOCK], h)
            dwT[t0:t0 + BLOCK] = gemm.mm(m.T, da.view(-1, da.shape[2])).addmm_(xb.T, later)
            later += da.sum(1)
        return None, dwT.T, later.sum(0), dV, dz.sum(0)


class NADE(AutoregressiveModel):
    """x: (B, D) or (B, *data_shape) in {0, 1}; `hidden_states(x)` is (B, D, H), row t = h_t in generation order."""

    def __init__(self, cfg: NADEConfig, data_shape):
        super().__init__(cfg, data_shape)
        d, h = self.data_dim, cfg.hidden
        self.register_buffer("order", make_order(cfg.order, self.data_shape, cfg.order_seed))
        # the NADE authors' init: small uniform weights, zero biases
        bound_w, bound_v = 1 / np.sqrt(d), 1 / np.sqrt(h)
        self.W = nn.Parameter(torch.empty(h, d).uniform_(-bound_w, bound_w))  # column t: variable order[t]
        self.c = nn.Parameter(torch.zeros(h))
        self.V = nn.Parameter(torch.empty(d, h).uniform_(-bound_v, bound_v))  # row t: conditional of step t
        self.b = nn.Parameter(torch.zeros(d))

    def hidden_blocks(self, x: torch.Tensor):
        """Yields (t0, h) with h = (h_t0 … h_t0+k−1), (B, k, H): the recurrence taken BLOCK steps at a time.
        A block's start a_t0 follows from the previous one by a_t0+k = a_t0 + Σ_block W[:, s] x_s (O(H) per
        variable); inside it, a_t = a_t0 + Σ_{t0≤s<t} W[:, s] x_s is one small masked product (O(BLOCK·H) per
        variable). Linear in D like the one-step recurrence, and 4× faster on a CPU than a cumsum over all of
        (B, D, H): small blocks stay in cache."""
        xo = x.flatten(1)[:, self.order]  # (B, D) in generation order
        before = torch.ones(BLOCK, BLOCK, dtype=xo.dtype, device=xo.device).tril(-1)  # before[t, s] = s < t
        a0 = self.c.expand(len(xo), -1)
        for t0 in range(0, self.data_dim, BLOCK):
            xb, wb = xo[:, t0:t0 + BLOCK], self.W[:, t0:t0 + BLOCK]
            k = xb.shape[1]
            yield t0, torch.sigmoid(a0.unsqueeze(1) + (xb.unsqueeze(1) * before[:k, :k]) @ wb.T)
            a0 = a0 + xb @ wb.T

    def hidden_states(self, x: torch.Tensor) -> torch.Tensor:
        """h_t for every step t, (B, D, H)."""
        return torch.cat([h for _, h in self.hidden_blocks(x)], 1)

    def _to_variables(self, z: torch.Tensor) -> torch.Tensor:
        out = torch.empty_like(z)
        out[:, self.order] = z
        return out

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log p(x), (B,): the hand-written pass (`_LogLikelihood`); through `logits` when x itself needs
        a gradient."""
        x = x.flatten(1)
        if x.requires_grad:
            return super().log_prob(x)
        return _LogLikelihood.apply(x[:, self.order].to(self.W.dtype), self.W, self.c, self.V, self.b)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        # logit t = h_t · V[t]: a product and a sum over H; einsum ran it as a batch of matrix-vector products
        # (41% of a training step at B = 100, H = 500 with its backward; this is ~1.6x faster forward + backward)
        z = [(h * self.V[t0:t0 + h.shape[1]]).sum(-1) for t0, h in self.hidden_blocks(x)]
        return self._to_variables(torch.cat(z, 1) + self.b)

    def logits_naive(self, x: torch.Tensor) -> torch.Tensor:
        """The same logits with each a_t recomputed from all of x_<t: O(D²·H), for checking the recurrence."""
        xo = x.flatten(1)[:, self.order]
        d = self.data_dim
        before = torch.ones(d, d, dtype=xo.dtype, device=xo.device).tril(-1)  # before[t, s] = 1 if s < t
        z = torch.stack([torch.sigmoid((xo * before[t]) @ self.W.T + self.c) @ self.V[t] + self.b[t]
                         for t in range(d)], 1)
        return self._to_variables(z)

    def jacobian(self, x: torch.Tensor) -> torch.Tensor:
        """∂logit_i/∂x_j at one input x (D,), (D, D) in variable coordinates, in closed form: in steps,
        ∂logit_t/∂x_s = Σ_k V[t, k] h_t,k (1 − h_t,k) W[k, s] for s < t, else 0. One (D·H)·(H·D) product;
        autograd's vectorized Jacobian builds a (D, D, H) tensor (1.2 GB for MNIST at H = 500). The tests
        check it equals autograd's."""
        h = self.hidden_states(x[None])[0]  # (D, H)
        steps = ((self.V * h * (1 - h)) @ self.W).tril(-1)  # (D steps, D steps)
        return self._to_variables(self._to_variables(steps).T).T

    @torch.no_grad()
    def evaluate(self, x: torch.Tensor, batch: int = 256) -> dict[str, float]:
        """Held-out NLL in chunks of 256: h is (B, D, H), and 4096 examples at once run 4× slower per example
        (each block's tensors fall out of the cache)."""
        return super().evaluate(x, batch)

    # -- sampling: the recurrence itself, one O(H) update per drawn variable ---------------------------------
    def sampling_state(self, x):
        return {"a": self.c.expand(len(x), -1).clone(), "pos": positions(self.order)}

    def next_logit(self, x, d, state):
        t = int(state["pos"][d])
        return torch.sigmoid(state["a"]) @ self.V[t] + self.b[t]

    def after_draw(self, x, d, state):
        t = int(state["pos"][d])
        state["a"] += x[:, d:d + 1] * self.W[:, t]
        return state

    def visualize(self, data, view: dict) -> dict[str, np.ndarray]:
        """Base arrays plus NADE's 'mask' in generation order: step t's hidden state reads x_<t (through the
        weights W shared by all steps; logit t reads only h_t), so H paths from each earlier input."""
        out = super().visualize(data, view)
        d, h = self.data_dim, self.cfg.hidden
        below = np.tril(np.ones((d, d), np.float32), -1)
        out["mask_0"] = below  # (steps, inputs): which inputs feed h_t
        out["connectivity"] = below * h
        out["n_parameters"] = float(sum(p.numel() for p in self.parameters()))
        out["shared_weights"] = 1.0  # the panel titles the two masks as NADE's structures
        out.update(parameter_counts(d, h))
        return out
