"""What the registry-wide contract tests share: small datasets of each kind and the plain-data check."""
from __future__ import annotations

import numpy as np
import torch

from genviz.core import data
from genviz.core.data import Dataset


def labelled_images(n: int = 320) -> Dataset:
    """n blurry 28x28 'digits' with 10 balanced labels (no download; the SSVAE needs labels), 75/12.5/12.5,
    binarized per batch like MNIST."""
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(n) % 10
    base = torch.rand(10, 1, 7, 7, generator=g)
    x = torch.nn.functional.interpolate(base[labels], size=28, mode="bilinear", align_corners=False)
    x = (x + 0.2 * torch.rand(n, 1, 28, 28, generator=g)).clamp(0, 1)
    a, b = n * 3 // 4, n * 7 // 8
    lab = {"train": labels[:a], "val": labels[a:b], "test": labels[b:]}
    return Dataset("tiny-digits", "image", x[:a], x[a:b], x[b:], lab, binarize=True, spec={"name": "tiny-digits"})


def datasets() -> dict[str, Dataset]:
    """One small dataset per kind a model may train on."""
    return {"2d": data.load("moons", n=600, seed=0), "image": labelled_images()}


def is_plain(v) -> bool:
    """Only what a snapshot may carry across threads: str-keyed dicts, numpy arrays, numbers, strings."""
    if isinstance(v, dict):
        return all(isinstance(k, str) and is_plain(x) for k, x in v.items())
    if isinstance(v, np.ndarray):
        return v.dtype != object
    return isinstance(v, (int, float, str, bool, np.integer, np.floating)) or v is None
