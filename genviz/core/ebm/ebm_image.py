"""Image EBM on MNIST: a small conv energy trained by contrastive divergence, negatives from Langevin chains
kept in a replay buffer (Du & Mordatch 2019). Trains on grey-level [0, 1] images, not the binarized ones.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torchvision.utils import make_grid

from genviz.core.config import param
from genviz.core.data import to_device
from genviz.core.ebm.anomaly import anomaly_arrays, energies
from genviz.core.ebm.buffer import ChainState, ReplayBuffer
from genviz.core.ebm.energy import ConvEnergy, cd_loss
from genviz.core.ebm.langevin import langevin
from genviz.core.model import GenerativeModel


@dataclass
class ImageEBMConfig:
    channels: int = param(16, lo=1, hi=256, help="channels of the first conv layer (doubled twice)")
    langevin_steps: int = param(20, lo=1, hi=1000, unit="steps", help="Langevin steps per negative batch")
    step_size: float = param(10.0, lo=0.0, lo_open=True, hi=1000.0, log=True,
                             help="Langevin step η: x ← x + η·clamp(∇f) + s·√(2η)·ε")
    noise_scale: float = param(0.0011, lo=0.0, hi=10.0, log=True,
                               help="s, multiplier of the exact Langevin noise √(2η); images use cold chains "
                                    "(0.0011 gives a per-step std of 0.005)")
    grad_clamp: float = param(0.03, lo=0.0, hi=100.0, help="clip each gradient component (0 = off)")
    buffer: bool = param(True, help="persistent chains: start negatives from a replay buffer")
    buffer_size: int = param(8192, lo=1, hi=1_000_000, help="replay buffer size (fixed)")
    reinit_prob: float = param(0.05, lo=0.0, hi=1.0, help="chance a buffer chain restarts from uniform noise")
    alpha: float = param(0.1, lo=0.0, hi=100.0, help="energy magnitude penalty α·(f(x⁺)² + f(x⁻)²)")


class ImageEBM(ChainState, GenerativeModel):
    """x: (n, 1, 28, 28) in [0, 1]. `forward(x)` = f(x): (n,). No log_prob: Z is intractable in 784 dims."""

    family = "ebm"

    def __init__(self, cfg: ImageEBMConfig, data_shape):
        super().__init__(cfg, data_shape)
        self.energy = ConvEnergy(cfg.channels)
        self.gen = torch.Generator().manual_seed(0)
        self.replay = None
        self.last_negatives = None
        self._other = None  # out-of-distribution images for the anomaly view, loaded once

    def forward(self, x):
        return self.energy(x)

    def configure_optimizers(self, train):
        # β1 = 0: the energy landscape moves every step, momentum from stale negatives destabilises CD
        return [torch.optim.Adam(self.parameters(), lr=train.lr, betas=(0.0, 0.999))]

    def fetch_batch(self, data, batch_size, generator):
        """Grey-level images (no dynamic binarization: Langevin needs a continuous space)."""
        idx = to_device(torch.randint(0, len(data.train), (batch_size,), generator=generator), data.train.device)
        return data.train[idx].to(self.dtype)

    def noise(self, n: int, generator: torch.Generator) -> torch.Tensor:
        return torch.rand((n, *self.data_shape), generator=generator, dtype=self.dtype)

    def langevin(self, x0, steps: int, generator, trail: bool = False):
        c = self.cfg
        return langevin(self.energy, x0.to(self.device, self.dtype), steps, c.step_size, c.noise_scale, c.grad_clamp,
                        (0.0, 1.0), generator, trail)

    def _new_replay(self, size: int) -> ReplayBuffer:
        return ReplayBuffer(size, self.noise, self.cfg.reinit_prob, self.gen)

    def negatives(self, n: int) -> torch.Tensor:
        c = self.cfg
        if c.buffer:
            if self.replay is None or len(self.replay) != c.buffer_size:
                self.replay = self._new_replay(c.buffer_size)
            x0, idx = self.replay.sample(n)
        else:
            x0 = self.noise(n, self.gen)
        x, _ = self.langevin(x0, c.langevin_steps, self.gen)
        if c.buffer:
            self.replay.push(x, idx)
        self.last_negatives = x
        return x

    def loss(self, x):
        x_neg = self.negatives(len(x))
        return cd_loss(self.energy(x), self.energy(x_neg), self.cfg.alpha)

    def sample(self, n: int, steps: int = 200, generator=None) -> torch.Tensor:
        """Langevin from uniform noise: (n, 1, 28, 28)."""
        g = generator or torch.Generator().manual_seed(0)
        return self.langevin(self.noise(n, g), steps, g)[0]

    # -- metrics and views --------------------------------------------------------------------------
    def val_metrics(self, data):
        g = torch.Generator().manual_seed(0)
        e_val = energies(self.energy, data.val[:256].to(self.dtype)).mean()
        e_noise = energies(self.energy, self.noise(256, g).to(self.device)).mean()
        return {"e_val": float(e_val), "e_noise": float(e_noise)}

    def visualize(self, data, view):
        """Grids (H, W) in [0, 1]: current negatives, and chains from noise after 0/¼/½/1 of their steps."""
        out = {}
        if self.last_negatives is not None:
            out["negatives_grid"] = _grid(self.last_negatives[:64], 8)
            out["samples"] = self.last_negatives[:64, 0].detach().float().cpu().numpy()  # an EBM's samples, for export
        g = torch.Generator().manual_seed(view.get("chain_seed", 0))
        n, steps = int(view.get("n_noise_chains", 8)), int(view.get("noise_steps", 2 * self.cfg.langevin_steps))
        _, trail = self.langevin(self.noise(n, g), steps, g, trail=True)
        picks = trail[[0, steps // 4, steps // 2, steps]]  # (4, n, 1, 28, 28): rows = time
        out["noise_chains_grid"] = _grid(picks.reshape(-1, *self.data_shape), n)
        out.update(self._anomaly(data))
        return out

    def _anomaly(self, data) -> dict:
        if self._other is None:
            self._other = other_images(data)[:1000].to(self.device, self.dtype)
        # held-out = validation images: the test split is binarized for likelihood evaluation, these are grey
        return anomaly_arrays(energies(self.energy, data.val[:1000].to(self.dtype)), energies(self.energy, self._other))


def _grid(x: torch.Tensor, nrow: int) -> np.ndarray:
    """(n, 1, 28, 28) -> (H, W) float32 numpy in [0, 1], row-major, first image top-left."""
    return make_grid(x.detach().float().cpu(), nrow=nrow, padding=2, pad_value=0.5)[0].numpy()


def other_images(data) -> torch.Tensor:
    """Out-of-distribution images: Fashion-MNIST when its raw files are on disk (never downloads here),
    otherwise MNIST with inverted intensities (same strokes, different statistics)."""
    from genviz.core import images

    root, _ = images.data_root()
    raw = root / "FashionMNIST" / "raw"
    if data.name != "fashion-mnist" and all((raw / f).is_file() for f in images.RAW_FILES):
        try:
            return images.load_images("fashion-mnist", root=root, offline=True, binarize=False).test
        except Exception:  # an unreadable file must not break the view; fall back below
            pass
    return 1.0 - data.val
