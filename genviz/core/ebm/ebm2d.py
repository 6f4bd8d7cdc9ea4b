"""2D energy-based model: an MLP f_θ with p(x) = exp(f(x)) / Z, Z computed on a grid (exact up to grid error).

Training objective (config `objective`): contrastive divergence with Langevin negatives, optionally
persistent through a replay buffer, or denoising score matching — same network, same data, comparable NLL.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from genviz.core.config import ConfigError, param
from genviz.core.data import TOY2D, toy2d
from genviz.core.ebm.anomaly import anomaly_arrays, energies, other_dataset
from genviz.core.ebm.buffer import ChainState, ReplayBuffer
from genviz.core.ebm.energy import MLPEnergy, cd_loss, dsm_loss
from genviz.core.ebm.gridnorm import GridNormalizer
from genviz.core.ebm.langevin import langevin
from genviz.core.model import GenerativeModel, grid


@dataclass
class EBMConfig:
    objective: str = param("cd", choices=("cd", "dsm"),
                           help="cd: contrastive divergence with Langevin negatives; dsm: denoising score matching")
    hidden: int = param(128, lo=4, hi=2048, unit="units", help="width of the energy MLP")
    depth: int = param(3, lo=1, hi=8, unit="layers", help="hidden layers of the energy MLP")
    langevin_steps: int = param(20, lo=1, hi=2000, unit="steps", help="Langevin steps per negative batch")
    step_size: float = param(0.005, lo=0.0, lo_open=True, hi=10.0, log=True,
                             help="Langevin step η: x ← x + η∇f + s·√(2η)·ε")
    noise_scale: float = param(1.0, lo=0.0, hi=10.0,
                               help="s, multiplier of the exact Langevin noise √(2η); 1 samples exp(f)")
    buffer: bool = param(True, help="persistent chains: start negatives from a replay buffer")
    buffer_size: int = param(8192, lo=1, hi=1_000_000, help="replay buffer size (fixed)")
    reinit_prob: float = param(0.01, lo=0.0, hi=1.0,
                               help="chance a buffer chain restarts from uniform noise (low: long chains mix along "
                                    "thin structures, e.g. the moons arcs)")
    alpha: float = param(0.01, lo=0.0, hi=100.0, help="energy magnitude penalty α·(f(x⁺)² + f(x⁻)²)")
    dsm_sigma: float = param(0.05, lo=0.0, lo_open=True, hi=10.0, log=True,
                             help="score matching noise σ (the model learns the data smoothed by σ)")
    dsm_tail: float = param(0.0, lo=0.0, hi=1.0,
                            help="fraction of DSM examples noised with the wide dsm_tail_sigma: trains f far from "
                                 "the data too, at the price of blurring it near the data")
    dsm_tail_sigma: float = param(1.0, lo=0.0, lo_open=True, hi=100.0, log=True,
                                  help="noise σ of the tail examples, in data units")
    grid_res: int = param(256, lo=16, hi=2048, help="normalization grid resolution (per axis)")
    box_pad: float = param(0.5, lo=0.0, hi=10.0,
                           help="the normalization grid extends the data box by this fraction on each side")


def data_box(x: torch.Tensor, pad: float) -> tuple[float, float, float, float]:
    """Bounding box of x: (n, 2) (0.1–99.9 percentiles), widened by `pad` times its size on each side."""
    x = x.detach().cpu()
    x = x if x.dtype == torch.float64 else x.float()
    lo, hi = torch.quantile(x[:20000], 0.001, 0), torch.quantile(x[:20000], 0.999, 0)
    d = (hi - lo) * pad
    lo, hi = lo - d, hi + d
    return float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])


class EBM2D(ChainState, GenerativeModel):
    """x: (n, 2). `forward(x)` = f(x): (n,); `log_prob(x)` = f(x) − log Z with the grid log Z."""

    family = "ebm"

    def __init__(self, cfg: EBMConfig, data_shape):
        super().__init__(cfg, data_shape)
        if self.data_shape != (2,):
            raise ConfigError("dataset", f"the 2D EBM needs 2D points, got examples of shape {self.data_shape}")
        self.energy = MLPEnergy(2, cfg.hidden, cfg.depth)
        self.register_buffer("norm_box", torch.tensor([-4.0, 4.0, -4.0, 4.0]))
        self.register_buffer("box_set", torch.tensor(False))
        self.normalizer = GridNormalizer(self.energy)
        self.gen = torch.Generator().manual_seed(0)  # Langevin / DSM noise (CPU, so runs are reproducible)
        self.replay = None
        self.last_negatives = None

    def forward(self, x):
        return self.energy(x)

    # -- normalization ----------------------------------------------------------------------------
    def fit_box(self, x: torch.Tensor) -> None:
        """Set the normalization box from training points x: (n, 2) (done once, on the first batch)."""
        self.norm_box.copy_(torch.tensor(data_box(x, self.cfg.box_pad), dtype=self.norm_box.dtype))
        self.box_set.fill_(True)
        self.replay = None

    @property
    def box(self) -> tuple:
        return tuple(float(v) for v in self.norm_box)

    def log_z(self) -> float:
        return self.normalizer.get(self.energy, self.box, self.cfg.grid_res)

    def log_prob(self, x):
        return self.energy(x) - self.log_z()

    # -- training -----------------------------------------------------------------------------------
    def ensure_box(self, data) -> None:
        if not bool(self.box_set):
            self.fit_box(data.train.to(self.dtype))

    def fetch_batch(self, data, batch_size, generator):
        self.ensure_box(data)
        return super().fetch_batch(data, batch_size, generator)

    def uniform(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """n points uniform over the normalization box, (n, 2), on CPU."""
        b = self.box
        u = torch.rand(n, 2, generator=generator, dtype=self.dtype)
        return torch.stack([b[0] + u[:, 0] * (b[1] - b[0]), b[2] + u[:, 1] * (b[3] - b[2])], 1)

    def _new_replay(self, size: int) -> ReplayBuffer:
        return ReplayBuffer(size, self.uniform, self.cfg.reinit_prob, self.gen)

    def negatives(self, n: int) -> torch.Tensor:
        """Langevin samples from the buffer (or fresh uniform starts): (n, 2)."""
        cfg = self.cfg
        if cfg.buffer:
            if self.replay is None or len(self.replay) != cfg.buffer_size:
                self.replay = self._new_replay(cfg.buffer_size)
            x0, idx = self.replay.sample(n)
        else:
            x0 = self.uniform(n, self.gen)
        x, _ = langevin(self.energy, x0.to(self.device, self.dtype), cfg.langevin_steps, cfg.step_size, cfg.noise_scale,
                        generator=self.gen)
        if cfg.buffer:
            self.replay.push(x, idx)
        self.last_negatives = x
        return x

    def loss(self, x):
        c = self.cfg
        if c.objective == "dsm":
            wide = torch.rand(len(x), generator=self.gen, dtype=x.dtype) < c.dsm_tail
            sigma = torch.full((len(x),), c.dsm_sigma, dtype=x.dtype).masked_fill_(wide, c.dsm_tail_sigma).to(x.device)
            return dsm_loss(self.energy, x, sigma, self.gen)
        x_neg = self.negatives(len(x))
        return cd_loss(self.energy(x), self.energy(x_neg), self.cfg.alpha)

    def sample(self, n: int, steps: int = 500, generator=None) -> torch.Tensor:
        """Long-run Langevin from uniform starts: (n, 2) (approximate samples of exp(f)/Z)."""
        g = generator or torch.Generator().manual_seed(0)
        x, _ = langevin(self.energy, self.uniform(n, g).to(self.device, self.dtype), steps, self.cfg.step_size,
                        self.cfg.noise_scale, generator=g)
        return x

    # -- metrics and views --------------------------------------------------------------------------
    def val_metrics(self, data):
        self.ensure_box(data)
        m = self.evaluate(data.val[:2048].to(self.dtype))
        return {**m, "log_z": self.normalizer.log_z, "edge_mass": self.normalizer.edge_mass}

    def visualize(self, data, view):
        self.ensure_box(data)
        bbox, res = view["bbox"], view.get("res", 96)
        pts = grid(bbox, res, self.device, self.dtype)
        f = torch.cat([self.energy(pts[i:i + 16384]) for i in range(0, len(pts), 16384)]).reshape(res, res)
        out = {"energy": (-f).float().cpu().numpy(),
               "log_density": (f - self.log_z()).float().cpu().numpy()}
        out.update(self._trails(bbox, view))
        neg = self.last_negatives if self.last_negatives is not None else torch.zeros(0, 2)  # none under DSM
        out["negatives"] = neg[:1000].float().cpu().numpy()
        out.update(self._anomaly(data, view))
        return out

    def _trails(self, bbox, view) -> dict:
        """Langevin chains from a few fixed starts and from clicked points: trails (chains, steps+1, 2)."""
        g = torch.Generator().manual_seed(view.get("chain_seed", 0))
        n_auto = int(view.get("n_chains", 6))
        u = torch.rand(n_auto, 2, generator=g, dtype=self.dtype)
        auto = torch.stack([bbox[0] + u[:, 0] * (bbox[1] - bbox[0]), bbox[2] + u[:, 1] * (bbox[3] - bbox[2])], 1)
        clicked = torch.as_tensor(np.asarray(view.get("chain_starts", []), np.float64).reshape(-1, 2), dtype=self.dtype)
        starts = torch.cat([auto, clicked]).to(self.device)
        _, trail = langevin(self.energy, starts, int(view.get("trail_steps", 100)), self.cfg.step_size,
                            self.cfg.noise_scale, generator=g, trail=True)
        return {"trails": trail.transpose(0, 1).float().cpu().numpy(), "n_clicked": float(len(clicked))}

    def _anomaly(self, data, view) -> dict:
        """f on held-out test points vs points of another toy dataset (view['anomaly_dataset'])."""
        other = view.get("anomaly_dataset") or other_dataset(data.name)
        if other not in TOY2D:
            return {}
        x_other = torch.from_numpy(toy2d(other, 2000, seed=123)).to(self.device, self.dtype)
        return anomaly_arrays(energies(self.energy, data.test[:2000].to(self.dtype)), energies(self.energy, x_other))
