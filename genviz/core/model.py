"""The contract every registry model meets, so one session can train any of them.

A model gets its validated config and the shape of one example. Training goes through `train_step`, whose
default is one Adam step on `loss`; two-player models (GANs) override `configure_optimizers` and
`train_step`. `visualize` returns the plain numpy arrays its family panel draws.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch
from torch import nn

from genviz.core import config as config_mod
from genviz.core.config import TrainConfig


class GenerativeModel(nn.Module):
    """Base class. `data_shape` is one example's shape: (2,) for toy data, (1, 28, 28) for images."""

    family = ""

    def __init__(self, cfg, data_shape: tuple):
        super().__init__()
        self.cfg = cfg
        self.data_shape = tuple(data_shape)
        self.data_dim = int(np.prod(self.data_shape))

    # -- training ---------------------------------------------------------------------------------
    def decayed_parameters(self) -> list[nn.Parameter]:
        """The weights TrainConfig.weight_decay pulls towards 0 (weight_decay.py): tensors of two or more
        dimensions, not biases or normalisation scales; a model whose weights have another shape overrides."""
        return [p for p in self.parameters() if p.dim() >= 2]

    def fetch_batch(self, data, batch_size: int, generator: torch.Generator):
        """What one train_step consumes, in the model's dtype (the data are float32); override for labels
        (SSVAE) or a second domain (CycleGAN)."""
        return data.batch(batch_size, generator).to(self.dtype)

    def loss(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Scalar loss to minimise and named detached terms for the loss plot. Default: mean NLL."""
        nll = -self.log_prob(x).mean()
        return nll, {"nll": nll.detach()}

    def configure_optimizers(self, train: TrainConfig) -> list[torch.optim.Optimizer]:
        return [torch.optim.Adam(self.parameters(), lr=train.lr)]

    def train_step(self, x: torch.Tensor, optimizers, train: TrainConfig) -> dict[str, torch.Tensor]:
        """One optimisation step; returns detached scalar tensors (kept as tensors: no GPU sync per step)."""
        (opt,) = optimizers
        opt.zero_grad(set_to_none=True)
        loss, terms = self.loss(x)
        loss.backward()
        if train.grad_clip > 0:
            nn.utils.clip_grad_norm_(self.parameters(), train.grad_clip)
        opt.step()
        return {"loss": loss.detach(), **terms}

    @torch.no_grad()
    def evaluate(self, x: torch.Tensor, batch: int = 4096) -> dict[str, float]:
        """Held-out metrics; default: mean negative log-likelihood in nats."""
        if not hasattr(self, "log_prob"):
            return {}
        total = sum(float(-self.log_prob(x[i:i + batch]).sum()) for i in range(0, len(x), batch))
        return {"nll": total / max(len(x), 1)}

    def val_metrics(self, data) -> dict[str, float]:
        """Held-out metrics at each snapshot; keep it cheap (it runs while the user watches)."""
        return self.evaluate(held_out_batch(data, 2048, self.dtype))

    def training_extras(self) -> dict:
        """Training state that is neither a weight nor a buffer (e.g. a replay buffer and its generator).

        Checkpoints store it so that a resumed run continues exactly; plain tensors and numbers only.
        """
        return {}

    def load_training_extras(self, extras: dict) -> None:
        """Take back what `training_extras` gave; ValueError when it does not fit."""

    # held-out metrics that are NaN on purpose at the moment (not defined yet: distillation's student KL while its
    # teacher trains); a Session reads any other NaN metric as a divergence
    pending_metrics: tuple = ()

    # config fields a session may change while training, via its ("model_set", name, value) command
    live_fields: tuple = ()

    def set_live(self, name: str, value) -> None:
        """Change one config field mid-training (e.g. a GAN's train_players); others raise ConfigError."""
        if name not in self.live_fields:
            raise config_mod.ConfigError(name, "cannot change while training; reset to apply it")
        new = dataclasses.replace(self.cfg, **{name: config_mod.coerce(type(self.cfg), name, value)})
        config_mod.validate(new)
        self.cfg = new

    # -- visualisation ----------------------------------------------------------------------------
    def visualize(self, data, view: dict) -> dict[str, np.ndarray]:
        """Plain arrays for the panel; `view` carries e.g. the grid box and resolution. Runs under no_grad."""
        return {}

    @property
    def device(self) -> torch.device:
        p = next(self.parameters(), None)
        return p.device if p is not None else torch.device("cpu")

    @property
    def dtype(self) -> torch.dtype:
        """The parameters' dtype (float32 unless the model was cast, e.g. by `.double()`): noise, grids and
        constants are made in it, and data (float32) are cast to it."""
        p = next((p for p in self.parameters() if p.is_floating_point()), None)
        return p.dtype if p is not None else torch.get_default_dtype()


def held_out_batch(data, n: int, dtype: torch.dtype | None = None) -> torch.Tensor:
    """The first n validation examples, binarized with a fixed seed when the data is binarized (so successive
    snapshots compare), in `dtype`. Drawn once and kept on the data set until its validation tensor changes:
    a 2048 x 784 Bernoulli draw was a sixth of MADE's snapshot. Shared by every caller: never modify it."""
    val = data.val
    key = (n, dtype, val.data_ptr(), val._version, data.binarize)
    kept = data.__dict__.setdefault("_held_out", {})  # a cache, not a field: copies and replace() start empty
    x = kept.get(key)
    if x is None:
        x = val[:n]
        if data.binarize:
            x = torch.bernoulli(x, generator=torch.Generator(device=x.device).manual_seed(0))
        x = x if dtype is None else x.to(dtype)
        if len(kept) >= 8:  # stale versions of an edited held-out set
            kept.clear()
        kept[key] = x
    return x


def has_grad_hooks(params) -> bool:
    """Whether any parameter has gradient hooks (distributed.py averages gradients across torchrun ranks in
    one). They run only under autograd, so a backward written by hand must not be used for such a model."""
    return any(p._backward_hooks or getattr(p, "_post_accumulate_grad_hooks", None) for p in params)


def grid(bbox, res: int, device="cpu", dtype: torch.dtype | None = None) -> torch.Tensor:
    """(res*res, 2) points of a row-major grid over bbox = (xmin, xmax, ymin, ymax): row i is y, column j is x."""
    xs = torch.linspace(bbox[0], bbox[1], res, device=device, dtype=dtype)
    ys = torch.linspace(bbox[2], bbox[3], res, device=device, dtype=dtype)
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([xx.reshape(-1), yy.reshape(-1)], 1)


@torch.no_grad()
def density_on_grid(log_prob, bbox, res: int, device="cpu", chunk: int = 16384,
                    dtype: torch.dtype | None = None) -> np.ndarray:
    """log p on a res x res grid (row-major, y rows, points in `dtype`), as float32 numpy."""
    pts = grid(bbox, res, device, dtype)
    out = torch.cat([log_prob(pts[i:i + chunk]) for i in range(0, len(pts), chunk)])
    return out.reshape(res, res).float().cpu().numpy()


def grid_cell_area(bbox, res: int) -> float:
    return (bbox[1] - bbox[0]) / (res - 1) * (bbox[3] - bbox[2]) / (res - 1)


def integrate_density(logp_grid: np.ndarray, bbox) -> float:
    """Riemann sum of exp(log p) over the grid: ≈ 1 for a normalized density whose mass is inside bbox."""
    res = logp_grid.shape[0]
    m = logp_grid.max()
    return float(np.exp(m) * np.exp(logp_grid - m).sum() * grid_cell_area(bbox, res))


def standard_normal_log_prob(z: torch.Tensor) -> torch.Tensor:
    return -0.5 * (z ** 2).flatten(1).sum(1) - 0.5 * z[0].numel() * math.log(2 * math.pi)
