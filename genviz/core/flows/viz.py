"""What the flows panel draws, computed inside a flow model's `visualize` (numpy out, nothing else).

Every trace uses one index convention: entry k is the state after k layers in the generative direction,
so [0] is base space and [-1] data space; the panel's layer slider picks k. The pull-back of data runs the
inverses, reversed into the same convention, so at k = 0 it shows the data mapped to base space.
"""
from __future__ import annotations

import numpy as np
import torch

from genviz.core.model import grid

N_LINES = 13  # grid lines per direction in base space
LINE_PTS = 48  # points per line (a modest grid: traces are recomputed at every snapshot)
BASE_HALF = 3.0  # base-space lines span [-3, 3]^2, ~99.7% of N(0, 1) per axis
N_WARP_SAMPLES = 500
N_PULLBACK = 500


def base_grid_lines(device="cpu", n_lines: int = N_LINES, n_pts: int = LINE_PTS,
                    half: float = BASE_HALF, dtype: torch.dtype | None = None) -> torch.Tensor:
    """(2 * n_lines, n_pts, 2): n_lines horizontal then n_lines vertical lines over [-half, half]^2."""
    t = torch.linspace(-half, half, n_pts, device=device, dtype=dtype)
    c = torch.linspace(-half, half, n_lines, device=device, dtype=dtype)
    horiz = torch.stack([t.expand(n_lines, n_pts), c[:, None].expand(n_lines, n_pts)], -1)
    return torch.cat([horiz, horiz.flip(-1)], 0)


def _stack(trace) -> np.ndarray:
    return torch.stack(trace).float().cpu().numpy()


def density_and_logdet(model, bbox, res: int, chunk: int = 16384):
    """log p(x) and log|det ∂f⁻¹/∂x| on a res x res row-major grid (y rows), both float32 numpy."""
    pts = grid(bbox, res, model.device, model.dtype)
    logp, logdet = [], []
    for i in range(0, len(pts), chunk):
        trace, ld = model.inverse_with_trace(pts[i:i + chunk])
        logp.append(model.base.log_prob(trace[-1]) + ld)
        logdet.append(ld)
    shape = (res, res)
    clean = lambda t: np.nan_to_num(torch.cat(t).reshape(shape).float().cpu().numpy(),  # noqa: E731
                                    nan=-1e9, neginf=-1e9, posinf=1e9)
    return clean(logp), clean(logdet)


@torch.no_grad()
def flow_arrays(model, data, view: dict, pullback: bool = True) -> dict:
    """Density, log-det, samples and per-layer traces (grid lines, samples, pulled-back data)."""
    bbox, res, dev = view["bbox"], view.get("res", 96), model.device
    logp, logdet = density_and_logdet(model, bbox, res)
    g = torch.Generator(device=dev).manual_seed(view.get("sample_seed", 0))
    z = model.base.sample(view.get("n_samples", 1000), generator=g)
    sample_trace, _ = model.forward_with_trace(z)
    lines = base_grid_lines(dev, dtype=model.dtype)
    line_trace, _ = model.forward_with_trace(lines.reshape(-1, 2))
    out = {
        "log_density": logp, "log_det": logdet, "bbox": np.asarray(bbox, np.float64),
        "samples": sample_trace[-1].float().cpu().numpy(),
        "warp_samples": _stack([t[:N_WARP_SAMPLES] for t in sample_trace]),
        "warp_lines": _stack(line_trace).reshape(len(line_trace), *lines.shape),
        "layer_names": np.array(["base"] + [type(layer).__name__ for layer in model.layers]),
    }
    if pullback and data is not None and getattr(data, "kind", "") == "2d":
        x = data.val[:N_PULLBACK].to(dev, model.dtype)
        back, _ = model.inverse_with_trace(x)
        out["pullback"] = _stack(back[::-1])
    return out
