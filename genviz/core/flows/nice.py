"""NICE (Dinh et al. 2014): additive couplings (volume preserving) and a final diagonal scaling.

In the density direction x -> z the couplings run first and the scaling last, as in the paper, so in the
generative direction z -> x (the order of `layers`) the scaling comes first.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from genviz.core.config import param
from genviz.core.flows.base import FlowModel, make_base
from genviz.core.flows.coupling import AdditiveCoupling, alternating_masks, random_masks
from genviz.core.flows.scaling import Scaling


@dataclass
class NICEConfig:
    n_layers: int = param(6, lo=1, hi=64, help="number of additive coupling layers")
    hidden: int = param(64, lo=1, hi=4096, unit="units", help="width of each shift network")
    depth: int = param(3, lo=1, hi=8, unit="layers", help="hidden layers per shift network")
    partition: str = param("alternating", choices=("alternating", "random"),
                           help="which half of the coordinates each coupling keeps fixed")
    base: str = param("normal", choices=("normal", "diag"), help="base distribution: N(0,I) or learnable diagonal")


class NICE(FlowModel):
    """Scaling then additive couplings (generative order); x: (batch, dim)."""

    def __init__(self, cfg: NICEConfig, data_shape):
        super().__init__(cfg, data_shape)
        if cfg.partition == "random":
            g = torch.Generator().manual_seed(torch.initial_seed() % 2**62)  # the session seeds torch
            masks = random_masks(self.data_dim, cfg.n_layers, g)
        else:
            masks = alternating_masks(self.data_dim, cfg.n_layers)
        couplings = [AdditiveCoupling(m, cfg.hidden, cfg.depth) for m in masks]
        self.layers = nn.ModuleList([Scaling(self.data_dim), *couplings])
        self.base = make_base(cfg.base, self.data_dim)
