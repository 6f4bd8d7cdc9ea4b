"""Anomaly view: score points by f(x). The ratio p(x)/p(x') = exp(f(x) − f(x')) needs no partition function."""
from __future__ import annotations

import numpy as np
import torch


def other_dataset(name: str) -> str:
    """The 2D dataset whose points the anomaly view scores against `name`'s held-out points."""
    return "moons" if name == "8gaussians" else "8gaussians"


def other_dataset_label(name: str, kind: str) -> str:
    if kind == "image":
        return "Fashion-MNIST (inverted MNIST when not on disk)"
    return other_dataset(name)


@torch.no_grad()
def energies(f, x: torch.Tensor, chunk: int = 1024) -> np.ndarray:
    """f over a batch, chunked: (n, ...) -> float32 numpy (n,)."""
    return torch.cat([f(x[i:i + chunk]) for i in range(0, len(x), chunk)]).float().cpu().numpy()


def auroc(inlier: np.ndarray, outlier: np.ndarray) -> float:
    """P(f(inlier) > f(outlier)) over all pairs, ties counting half: 1 = perfect separation, 0.5 = chance."""
    out = np.sort(outlier)
    below = np.searchsorted(out, inlier, "left")
    tied = np.searchsorted(out, inlier, "right") - below
    return float((below + 0.5 * tied).sum() / max(len(inlier) * len(outlier), 1))


def anomaly_arrays(f_heldout: np.ndarray, f_other: np.ndarray, bins: int = 40) -> dict:
    """Histograms of f on held-out vs other-dataset points over shared bin edges, plus their AUROC."""
    both = np.concatenate([f_heldout, f_other])
    both = both[np.isfinite(both)]
    lo, hi = (float(both.min()), float(both.max())) if len(both) else (0.0, 1.0)
    edges = np.linspace(lo, hi if hi > lo else lo + 1.0, bins + 1)
    h_in, _ = np.histogram(f_heldout, edges)
    h_out, _ = np.histogram(f_other, edges)
    return {"anomaly_edges": edges.astype(np.float32), "anomaly_heldout": h_in.astype(np.float32),
            "anomaly_other": h_out.astype(np.float32), "anomaly_auroc": auroc(f_heldout, f_other)}
