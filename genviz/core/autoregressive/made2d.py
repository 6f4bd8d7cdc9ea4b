"""MADE on 2D points discretized to a grid of bins: p(x) = p(b₁) p(b₂ | b₁) / (bin area), exact and normalized.

The square [-extent, extent]² is cut into bins × bins cells; each coordinate's bin index is a categorical
variable, the first one's conditional is a free softmax (the MADE output that sees no input), the second one's
is a softmax of an MLP of the first. The density is constant on each cell, so it integrates to 1 over the plane
and can be drawn exactly as a heatmap. Points outside the square have density 0 (log p = -inf); training clamps
them onto the border cells so one stray point cannot make the loss infinite.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from genviz.core.autoregressive.made_model import mask_arrays
from genviz.core.config import param
from genviz.core.masked import MADE
from genviz.core.model import GenerativeModel, density_on_grid


@dataclass
class MADE2DConfig:
    bins: int = param(64, lo=2, hi=512, unit="bins", help="bins per axis; the density is constant on each cell")
    extent: float = param(4.0, lo=0.0, lo_open=True, hi=1e4, help="the model lives on [-extent, extent]²")
    hidden: int = param(128, lo=1, hi=4096, unit="units", help="width of each hidden layer")
    depth: int = param(2, lo=1, hi=8, unit="layers", help="number of hidden layers")
    order: str = param("xy", choices=("xy", "yx"), help="which coordinate is generated first")


class MADE2D(GenerativeModel):
    """x: (B, 2) real points; internally two bin indices in [0, bins)."""

    family = "autoregressive"

    def __init__(self, cfg: MADE2DConfig, data_shape):
        super().__init__(cfg, data_shape)
        if self.data_dim != 2:
            raise ValueError(f"made-2d models 2D points, got data of shape {tuple(data_shape)}")
        order = [0, 1] if cfg.order == "xy" else [1, 0]
        self.net = MADE(2, (cfg.hidden,) * cfg.depth, n_out=cfg.bins, order=order)
        self.width = 2 * cfg.extent / cfg.bins

    @property
    def order(self) -> torch.Tensor:
        return self.net.order

    def bin_index(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 2) long bin indices; may fall outside [0, bins) for points outside the square."""
        return torch.floor((x + self.cfg.extent) / self.width).long()

    def _logits(self, idx: torch.Tensor) -> torch.Tensor:
        """(B, bins, 2) logits of both conditionals from (B, 2) in-range bin indices."""
        u = (idx.to(self.net.out.weight.dtype) + 0.5) / self.cfg.bins * 2 - 1  # bin centre scaled to (-1, 1)
        return self.net(u).view(len(idx), self.cfg.bins, 2)

    def log_prob_bins(self, idx: torch.Tensor) -> torch.Tensor:
        """log P(bin pair), (B,), for in-range indices."""
        logp = F.log_softmax(self._logits(idx), dim=1)
        return logp.gather(1, idx[:, None, :]).squeeze(1).sum(1)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log density over the plane, (B,): log P(bins) - log(bin area); -inf outside the square."""
        idx = self.bin_index(x)
        inside = ((idx >= 0) & (idx < self.cfg.bins)).all(1)
        lp = self.log_prob_bins(idx.clamp(0, self.cfg.bins - 1)) - 2 * math.log(self.width)
        return torch.where(inside, lp, torch.full_like(lp, -math.inf))

    def loss(self, x):
        idx = self.bin_index(x).clamp(0, self.cfg.bins - 1)
        nll = -(self.log_prob_bins(idx) - 2 * math.log(self.width)).mean()
        return nll, {"nll": nll.detach()}

    @torch.no_grad()
    def evaluate(self, x: torch.Tensor, batch: int = 4096) -> dict[str, float]:
        """NLL (nats) over the held-out points inside the square, and the fraction outside it (density 0)."""
        lp = torch.cat([self.log_prob(x[i:i + batch]) for i in range(0, len(x), batch)])
        ok = torch.isfinite(lp)
        return {"nll": float(-lp[ok].mean()) if ok.any() else math.inf, "outside": float(1 - ok.float().mean())}

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """(n, 2) points: bins drawn coordinate by coordinate in the order, then uniform inside the cell."""
        idx = torch.zeros(n, 2, dtype=torch.long, device=self.device)
        for d in self.order.tolist():
            probs = F.softmax(self._logits(idx)[:, :, d], dim=1)
            u = torch.rand(n, 1, generator=generator, dtype=probs.dtype).to(probs.device)
            idx[:, d] = (torch.cumsum(probs, 1) < u).sum(1).clamp(max=self.cfg.bins - 1)
        jitter = torch.rand(n, 2, generator=generator, dtype=self.net.out.weight.dtype).to(self.device)
        return -self.cfg.extent + (idx + jitter) * self.width

    def bin_probabilities(self) -> torch.Tensor:
        """(bins, bins) P(cell), row = y bin, column = x bin; sums to 1."""
        b = self.cfg.bins
        yy, xx = torch.meshgrid(torch.arange(b), torch.arange(b), indexing="ij")
        idx = torch.stack([xx.reshape(-1), yy.reshape(-1)], 1).to(self.device)
        return self.log_prob_bins(idx).exp().reshape(b, b)

    def jacobian(self) -> torch.Tensor:
        """(2, 2) Σ over bins of |∂logit/∂input| between the two variables, measured by autograd at the
        centre of the square and in generation order (row = output variable): zero on and above the diagonal."""
        u = torch.zeros(2, device=self.device, dtype=self.net.out.weight.dtype)
        with torch.enable_grad():
            jac = torch.autograd.functional.jacobian(lambda v: self.net(v[None])[0], u)  # (bins * 2, 2)
        per_var = jac.abs().view(self.cfg.bins, 2, 2).sum(0)  # [output variable, input variable]
        o = self.order
        return per_var[o][:, o]

    def visualize(self, data, view: dict) -> dict[str, np.ndarray]:
        """Exact log density on view['bbox'], samples, the cell probabilities, masks and connectivity."""
        logp = density_on_grid(self.log_prob, view["bbox"], view.get("res", 96), self.device, dtype=self.dtype)
        g = torch.Generator().manual_seed(int(view.get("sample_seed", 0)))
        e = self.cfg.extent
        out = {"log_density": np.nan_to_num(logp, nan=-1e9, neginf=-1e9),
               "samples": self.sample(view.get("n_samples", 1000), g).float().cpu().numpy(),
               "bin_probs": self.bin_probabilities().float().cpu().numpy(),
               "box": np.array([-e, e, -e, e], np.float32),
               "connectivity": self.net.connectivity().float().cpu().numpy(),
               "jacobian": self.jacobian().float().cpu().numpy()}
        out.update(mask_arrays(self.net))
        return out
