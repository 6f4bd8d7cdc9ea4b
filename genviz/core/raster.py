"""Qt-free PNG output for run folders: heatmaps and scatters rasterised with numpy, written by torchvision."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

# viridis at 6 stops; linear interpolation between them is visually indistinguishable at this size
_VIRIDIS = np.array([[68, 1, 84], [65, 68, 135], [42, 120, 142], [34, 168, 132], [122, 209, 81],
                     [253, 231, 37]], np.float32)


def colormap(values: np.ndarray, lo: float | None = None, hi: float | None = None) -> np.ndarray:
    """(H, W) floats -> (H, W, 3) uint8 viridis."""
    v = np.nan_to_num(values.astype(np.float32), nan=0.0)
    lo = float(v.min()) if lo is None else lo
    hi = float(v.max()) if hi is None else hi
    t = np.clip((v - lo) / max(hi - lo, 1e-12), 0, 1) * (len(_VIRIDIS) - 1)
    i = np.minimum(t.astype(int), len(_VIRIDIS) - 2)
    f = (t - i)[..., None]
    return (_VIRIDIS[i] * (1 - f) + _VIRIDIS[i + 1] * f).astype(np.uint8)


def scatter(img: np.ndarray, pts: np.ndarray, bbox, color=(255, 255, 255), radius: int = 1) -> np.ndarray:
    """Draw points (n, 2) into an (H, W, 3) image whose rows run from ymax (top) to ymin."""
    h, w = img.shape[:2]
    cols = ((pts[:, 0] - bbox[0]) / (bbox[1] - bbox[0]) * (w - 1)).round().astype(int)
    rows = ((bbox[3] - pts[:, 1]) / (bbox[3] - bbox[2]) * (h - 1)).round().astype(int)
    for dr in range(-radius + 1, radius):
        for dc in range(-radius + 1, radius):
            r, c = rows + dr, cols + dc
            ok = (r >= 0) & (r < h) & (c >= 0) & (c < w)
            img[r[ok], c[ok]] = color
    return img


def density_image(log_density: np.ndarray, upscale: int = 4) -> np.ndarray:
    """A density heatmap (grid rows are y ascending) flipped so y points up, upscaled for viewing."""
    p = np.exp(log_density - log_density.max())
    img = colormap(p)[::-1]
    return np.repeat(np.repeat(img, upscale, 0), upscale, 1)


def write_png(img: np.ndarray, path) -> Path:
    from torchvision.io import write_png as _write

    path = Path(path)
    _write(torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1).contiguous(), str(path))
    return path


def image_grid_png(images: np.ndarray, path, nrow: int = 10) -> Path:
    """(n, C, H, W) in [0, 1] -> one PNG grid (torchvision.utils)."""
    from torchvision.utils import save_image

    save_image(torch.as_tensor(images).float(), str(path), nrow=nrow, padding=2, pad_value=0.5)
    return Path(path)
