"""Single-layer labs: N(0, I) pushed through ONE layer whose parameters the user sets directly.

The flows panel calls these on the GUI thread while the user drags, so they must stay fast (bench:
bench/bench_planar_drag.py, budget 33 ms for a 200 x 200 grid). Both return p_X on a row-major grid
(rows = y) via the change of variables p_X(x) = N(f⁻¹(x)) |det ∂f⁻¹/∂x|, and the layer's image of a grid of
lines from base space so the warp is visible.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from genviz.core.flows.planar import PlanarLayer, jacobian_factor
from genviz.core.flows.viz import base_grid_lines
from genviz.core.model import grid, standard_normal_log_prob


def planar_layer(w, u, b: float) -> PlanarLayer:
    layer = PlanarLayer(2, torch.Generator().manual_seed(0))  # its random init is overwritten below
    with torch.no_grad():
        layer.w.copy_(torch.as_tensor(w, dtype=torch.float32))
        layer.u.copy_(torch.as_tensor(u, dtype=torch.float32))
        layer.b.fill_(float(b))
    return layer.requires_grad_(False)


def _interp(x: torch.Tensor, xp: torch.Tensor, fp: torch.Tensor) -> torch.Tensor:
    """np.interp for increasing xp (values outside clamp to the ends)."""
    k = torch.searchsorted(xp, x).clamp(1, len(xp) - 1)
    f = ((x - xp[k - 1]) / (xp[k] - xp[k - 1]).clamp_min(1e-30)).clamp(0, 1)
    return fp[k - 1] + f * (fp[k] - fp[k - 1])


def planar_alpha(y: torch.Tensor, c: float, b: float, n: int = 2048, slack: torch.Tensor | None = None) -> torch.Tensor:
    """Solve α + c·tanh(α + b) = y (c > −1, increasing in α) for many y at once, for display.

    The map is tabulated on n values of α and inverted onto n evenly spaced y; each y then needs only a
    lerp between two table entries (index arithmetic, no search over the points) and two Newton steps, each
    kept only where it lowers the residual: with c → −1 the slope s + (1 − s)h² (s = 1 + c, `slack` when
    given exactly) is ~0 at α + b = 0 and a raw step there would divide rounding error by it.
    """
    y0, y1 = float(y.min()), float(y.max()) + 1e-6
    a_tab = torch.linspace(y0 - abs(c) - 1e-3, y1 + abs(c) + 1e-3, n)
    y_even = torch.linspace(y0, y1, n)
    a_even = _interp(y_even, a_tab + c * torch.tanh(a_tab + b), a_tab)
    t = (y - y0) * ((n - 1) / (y1 - y0))
    i = t.long().clamp(0, n - 2)
    f = t - i
    a = a_even[i] + f * (a_even[i + 1] - a_even[i])
    slack = torch.as_tensor(1 + c) if slack is None else slack
    for _ in range(2):  # Newton steps: the lerp is least accurate where the map is nearly flat
        h = torch.tanh(a + b)
        res = a + c * h - y
        step = a - res / jacobian_factor(slack, h).clamp_min(torch.finfo(a.dtype).tiny)
        a = torch.where((step + c * torch.tanh(step + b) - y).abs() < res.abs(), step, a)
    return a


@torch.no_grad()
def planar_density(w, u, b: float, bbox, res: int = 200) -> dict:
    """log p_X (res, res), the warped base lines (2·13, 48, 2) and û (2,) for x = z + û·tanh(wᵀz + b).

    The inverse is numerical (planar flows have none in closed form) and only depends on x through wᵀx:
    `planar_alpha` solves that 1-D equation by table interpolation in float32 (error ~1e-5), plenty for a
    picture, and keeps a drag far under budget.
    """
    layer = planar_layer(w, u, b)
    uh, wv, slack = layer.u_hat(), layer.w, layer.slack()
    c = float(slack) - 1  # wᵀû from softplus directly (uh @ w carries rounding and can dip below −1)
    x = grid(bbox, res)
    h = torch.tanh(planar_alpha(x @ wv, c, float(b), slack=slack) + float(b))
    z = x - h[:, None] * uh
    log_det = -torch.log(jacobian_factor(slack, h))
    logp = -0.5 * (z * z).sum(1) - math.log(2 * math.pi) + log_det
    lines = base_grid_lines()
    warped, _ = layer(lines.reshape(-1, 2))
    return {"log_density": logp.reshape(res, res).numpy(), "lines": warped.reshape(lines.shape).numpy(),
            "u_hat": uh.numpy()}


def coupling_st(x1: torch.Tensor, s0: float, s1: float, t0: float, t1: float):
    """The lab coupling's log-scale s(x₁) = s0 + s1·x₁ and shift t(x₁) = t0 + t1·x₁² (x₁ passes unchanged)."""
    return s0 + s1 * x1, t0 + t1 * x1 ** 2


@torch.no_grad()
def coupling_density(s0: float, s1: float, t0: float, t1: float, bbox, res: int = 200) -> dict:
    """log p_X (res, res) and warped lines for the affine coupling x₂ = z₂·exp(s(z₁)) + t(z₁), x₁ = z₁."""
    x = grid(bbox, res)
    s, t = coupling_st(x[:, 0], s0, s1, t0, t1)
    z = torch.stack([x[:, 0], (x[:, 1] - t) * torch.exp(-s)], 1)
    logp = standard_normal_log_prob(z) - s  # log|det ∂f⁻¹/∂x| = −s(x₁)
    lines = base_grid_lines()
    zl = lines.reshape(-1, 2)
    sl, tl = coupling_st(zl[:, 0], s0, s1, t0, t1)
    warped = torch.stack([zl[:, 0], zl[:, 1] * torch.exp(sl) + tl], 1)
    return {"log_density": logp.reshape(res, res).numpy(), "lines": warped.reshape(lines.shape).numpy()}


def lines_to_path(lines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n_lines, n_pts, 2) -> x, y with a NaN after each line, for one curve drawn with connect='finite'."""
    pad = np.full((lines.shape[0], 1, 2), np.nan, lines.dtype)
    flat = np.concatenate([lines, pad], 1).reshape(-1, 2)
    return flat[:, 0], flat[:, 1]
