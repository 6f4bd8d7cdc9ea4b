"""RealNVP (Dinh et al. 2017): a stack of affine couplings with alternating masks."""
from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from genviz.core.config import param
from genviz.core.flows.base import FlowModel, make_base
from genviz.core.flows.coupling import AffineCoupling, alternating_masks


@dataclass
class RealNVPConfig:
    n_layers: int = param(8, lo=1, hi=64, help="number of affine coupling layers")
    hidden: int = param(64, lo=1, hi=4096, unit="units", help="width of each scale/shift network")
    depth: int = param(2, lo=1, hi=8, unit="layers", help="hidden layers per scale/shift network")
    base: str = param("normal", choices=("normal", "diag"), help="base distribution: N(0,I) or learnable diagonal")


class RealNVP(FlowModel):
    """Affine couplings; x: (batch, dim)."""

    def __init__(self, cfg: RealNVPConfig, data_shape):
        super().__init__(cfg, data_shape)
        masks = alternating_masks(self.data_dim, cfg.n_layers)
        self.layers = nn.ModuleList(AffineCoupling(m, cfg.hidden, cfg.depth) for m in masks)
        self.base = make_base(cfg.base, self.data_dim)
