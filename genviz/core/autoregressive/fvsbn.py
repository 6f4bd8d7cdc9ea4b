"""FVSBN, the fully visible sigmoid belief net: p(x_i = 1 | x_<i) = σ(α₀ⁱ + Σ_{j<i} αⱼⁱ x_j).

One logistic regression per variable on the variables before it: a strictly lower-triangular weight matrix
(in generation order) plus a bias, n(n-1)/2 + n = n(n+1)/2 parameters for n variables. Only the free entries
are stored (`alpha`, packed), so `sum(p.numel())` is exactly n(n+1)/2.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from genviz.core.autoregressive.base import AutoregressiveModel
from genviz.core.autoregressive.nade import NADEConfig, parameter_counts
from genviz.core.autoregressive.orders import ORDERS, make_order
from genviz.core.config import param


@dataclass
class FVSBNConfig:
    order: str = param("raster", choices=ORDERS, help="the order in which pixels are generated")
    order_seed: int = param(0, lo=0, hi=2**31 - 1, help="seeds the random ordering")


class FVSBN(AutoregressiveModel):
    """x: (B, D) or (B, *data_shape) in {0, 1}; `weight()` is the (D, D) strictly lower-triangular matrix in
    generation order: logits[:, order] = x[:, order] @ weight().T + bias."""

    def __init__(self, cfg: FVSBNConfig, data_shape):
        super().__init__(cfg, data_shape)
        d = self.data_dim
        self.register_buffer("order", make_order(cfg.order, self.data_shape, cfg.order_seed))
        rows, cols = torch.tril_indices(d, d, offset=-1)
        self.register_buffer("_rows", rows, persistent=False)
        self.register_buffer("_cols", cols, persistent=False)
        self.alpha = nn.Parameter(torch.zeros(len(rows)))  # α_j^i for j < i (positions in the order)
        self.bias = nn.Parameter(torch.zeros(d))  # α_0^i, indexed by position

    def decayed_parameters(self):
        return [self.alpha]  # the weights, packed in one vector; not the biases

    def weight(self) -> torch.Tensor:
        """(D, D) weights between generation steps, zero on and above the diagonal."""
        w = self.alpha.new_zeros(self.data_dim, self.data_dim)
        return w.index_put((self._rows, self._cols), self.alpha)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)
        z = torch.addmm(self.bias, x[:, self.order], self.weight().T)  # position coordinates
        out = torch.empty_like(z)
        out[:, self.order] = z
        return out

    def sampling_state(self, x):
        w = self.weight()
        return w, torch.empty_like(self.order).scatter_(0, self.order, torch.arange(len(self.order),
                                                                                  device=self.order.device))

    def next_logit(self, x, d, state):
        """Only row pos(d) of the weight matters: O(D) per step instead of a full O(D²) pass."""
        w, pos = state
        t = int(pos[d])
        return x[:, self.order] @ w[t] + self.bias[t]

    def visualize(self, data, view: dict) -> dict[str, np.ndarray]:
        out = super().visualize(data, view)
        mask = torch.ones(self.data_dim, self.data_dim).tril(-1).numpy()  # generation order
        out["mask_0"] = out["connectivity"] = mask  # one layer: its mask is the connectivity
        out["n_parameters"] = float(sum(p.numel() for p in self.parameters()))
        out.update(parameter_counts(self.data_dim, NADEConfig.hidden))  # NADE, MADE at their default width
        return out
