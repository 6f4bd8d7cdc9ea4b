"""Orderings of the variables of an image (or a flat vector): order[t] = the variable generated t-th."""
from __future__ import annotations

import torch

ORDERS = ("raster", "random", "column", "snake")


def _hw(data_shape: tuple) -> tuple[int, int, int]:
    """(channels, height, width) of an image shape; a flat shape (D,) is one row of D pixels."""
    if len(data_shape) == 3:
        return tuple(int(s) for s in data_shape)
    if len(data_shape) == 2:
        return 1, int(data_shape[0]), int(data_shape[1])
    return 1, 1, int(torch.Size(data_shape).numel())


def make_order(kind: str, data_shape: tuple, seed: int = 0) -> torch.Tensor:
    """A permutation (D,) of the flat (C*H*W) indices: raster rows, random, column by column, or boustrophedon."""
    c, h, w = _hw(data_shape)
    idx = torch.arange(c * h * w).reshape(c, h, w)
    if kind == "raster":
        return idx.reshape(-1)
    if kind == "random":
        return torch.randperm(c * h * w, generator=torch.Generator().manual_seed(seed))
    if kind == "column":
        return idx.permute(0, 2, 1).reshape(-1)
    if kind == "snake":  # every other row right-to-left, so consecutive pixels are always neighbours
        rows = idx.clone()
        rows[:, 1::2] = rows[:, 1::2].flip(-1)
        return rows.reshape(-1)
    raise ValueError(f"unknown ordering {kind!r}; known: {', '.join(ORDERS)}")


def positions(order: torch.Tensor) -> torch.Tensor:
    """The inverse permutation: positions(order)[d] = the step at which variable d is generated."""
    pos = torch.empty_like(order)
    pos[order] = torch.arange(len(order), device=order.device)
    return pos


def image_hw(data_shape: tuple) -> tuple[int, int]:
    """Height and width to draw one example as an image (channels stacked vertically)."""
    c, h, w = _hw(data_shape)
    return c * h, w
