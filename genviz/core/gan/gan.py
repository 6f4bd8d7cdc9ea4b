"""GAN (Goodfellow et al. 2014) as a two-player game: k discriminator steps per generator step.

D minimises  -E_data log D(x) - E_z log(1 - D(G(z)))   (= 2 ln 2 when D = 1/2 everywhere).
G minimises  E_z log(1 - D(G(z)))  ('minimax', saturates when D wins) or  -E_z log D(G(z))
('nonsaturating', same fixed point, strong gradients early). D and G have their own Adam optimisers;
D's learning rate is lr × d_lr_ratio. Options against mode collapse: PacGAN packing, an R1 gradient
penalty on real data and spectral normalisation. 2D data uses MLPs; images a small DCGAN or an MLP.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from genviz.core.config import ConfigError, TrainConfig, param
from genviz.core.data import to_device
from genviz.core.gan import metrics, nets
from genviz.core.model import GenerativeModel, grid


@dataclass
class GANConfig:
    loss: str = param("nonsaturating", choices=("minimax", "nonsaturating"),
                      help="generator loss: minimax E log(1-D(G(z))) or non-saturating -E log D(G(z))")
    arch: str = param("auto", choices=("auto", "mlp", "dcgan"),
                      help="network type: auto = MLP for 2D points, DCGAN for images")
    latent_dim: int = param(0, lo=0, hi=512, help="latent size; 0 = auto (2 for 2D data, 64 for images)")
    hidden: int = param(128, lo=4, hi=2048, unit="units", help="MLP width (channels for the DCGAN)")
    depth: int = param(3, lo=1, hi=8, unit="layers", help="hidden layers of the 2D MLPs")
    d_steps: int = param(1, lo=1, hi=20, help="k: discriminator steps per generator step")
    d_lr_ratio: float = param(1.0, lo=0.0, lo_open=True, hi=100.0, log=True,
                              help="discriminator learning rate = lr × this ratio")
    beta1: float = param(0.5, lo=0.0, hi=0.999, help="Adam β1 for both players")
    beta2: float = param(0.999, lo=0.0, hi=0.9999, help="Adam β2 for both players")
    pack: int = param(1, lo=1, hi=8, help="PacGAN: D judges this many samples jointly (fights mode collapse)")
    r1: float = param(0.0, lo=0.0, hi=1000.0, help="R1 penalty γ: D loss += γ/2 E_data |∇x D|²")
    spectral_norm: bool = param(False, help="spectral normalisation on every D layer")
    g_ema: float = param(0.0, lo=0.0, hi=0.9999,
                         help="samples come from an exponential moving average of G's weights (0 = off)")
    lr_decay: bool = param(False, help="decay both learning rates linearly to 0 over the session's steps")
    train_players: str = param("both", choices=("both", "D", "G"),
                               help="who learns in each step (single-step D only / G only to see the game)")


class GAN(GenerativeModel):
    """G: z (n, latent) -> x (n, *data_shape); D: x -> logit (n,). 2D: MLPs; images: DCGAN or MLP."""

    family = "gan"
    live_fields = ("train_players", "d_steps", "d_lr_ratio")

    def __init__(self, cfg: GANConfig, data_shape):
        super().__init__(cfg, data_shape)
        self.image = len(self.data_shape) == 3
        if cfg.arch == "dcgan" and not self.image:
            raise ConfigError("arch", "the DCGAN needs image data; use mlp (or auto) for 2D points")
        self.latent_dim = cfg.latent_dim or (64 if self.image else 2)
        self.G = self.build_generator()
        self.D = nets.shrink_last(self.build_discriminator())
        self.G_ema = copy.deepcopy(self.G).requires_grad_(False) if cfg.g_ema > 0 else None
        self.register_buffer("steps_done", torch.zeros((), dtype=torch.long))  # for lr_decay
        self.register_buffer("fixed_z", torch.randn(64, self.latent_dim, generator=torch.Generator().manual_seed(0)))
        self._viz_gen = torch.Generator().manual_seed(1)  # fresh-noise grids without touching the training RNG
        self._opt_d = None

    # -- networks ---------------------------------------------------------------------------------
    @property
    def img_arch(self) -> str:
        return "mlp" if self.cfg.arch == "mlp" else "dcgan"

    def build_generator(self) -> nn.Module:
        c = self.cfg
        if self.image:
            return nets.image_generator(self.img_arch, self.latent_dim, c.hidden // 2, self.data_shape)
        return nets.mlp(self.latent_dim, self.data_dim, c.hidden, c.depth, nn.ReLU)

    def build_discriminator(self) -> nn.Module:
        c = self.cfg
        if self.image:
            return nets.ImageCritic(self.img_arch, c.hidden // 2, self.data_shape[0] * c.pack, sn=c.spectral_norm)
        return nets.PointCritic(self.data_dim * c.pack, c.hidden, c.depth, c.spectral_norm)

    def critic(self, x: torch.Tensor) -> torch.Tensor:
        """D's raw scores for x (n, ...) -> (n // pack,), packing consecutive examples together."""
        p = self.cfg.pack
        if p > 1:
            x = x[: len(x) // p * p]
            x = x.reshape(len(x) // p, p * self.data_shape[0], *self.data_shape[1:])
        return self.D(x)

    def point_scores(self, x: torch.Tensor) -> torch.Tensor:
        """One score per example (n,): with packing, each example is judged packed with copies of itself."""
        return self.critic(x.repeat_interleave(self.cfg.pack, 0))

    def prob_from_score(self, s: torch.Tensor) -> torch.Tensor:
        """Map D's raw score to the probability 'x is real' (the heatmap; f-GANs map their ratio)."""
        return torch.sigmoid(s)

    @property
    def sampler(self) -> nn.Module:
        """The generator that samples for users and plots: G, or its weight average when g_ema > 0."""
        return self.G_ema if self.G_ema is not None else self.G

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        z = torch.randn(n, self.latent_dim, generator=generator, dtype=self.dtype).to(self.device)
        return self.sampler(z)

    def fake(self, n: int) -> torch.Tensor:
        """Training fakes from the live G (not the average)."""
        return self.G(torch.randn(n, self.latent_dim, device=self.device, dtype=self.dtype))

    # -- the game -----------------------------------------------------------------------------------
    def d_loss(self, real_s: torch.Tensor, fake_s: torch.Tensor) -> torch.Tensor:
        """-E log D(x) - E log(1 - D(G(z))) with D = sigmoid(score)."""
        return F.softplus(-real_s).mean() + F.softplus(fake_s).mean()

    def g_loss(self, fake_s: torch.Tensor) -> torch.Tensor:
        if self.cfg.loss == "minimax":
            return -F.softplus(fake_s).mean()  # E log(1 - D(G(z))), ≈ -ln 2 at D = 1/2
        return F.softplus(-fake_s).mean()  # -E log D(G(z)), ≈ ln 2 at D = 1/2

    def configure_optimizers(self, train: TrainConfig) -> list[torch.optim.Optimizer]:
        """[D's Adam, G's Adam]; `lr_scale` lets a live lr change keep D's ratio."""
        betas, r = (self.cfg.beta1, self.cfg.beta2), self.cfg.d_lr_ratio
        opt_d = torch.optim.Adam([{"params": self.D.parameters(), "lr": train.lr * r, "lr_scale": r}], betas=betas)
        opt_g = torch.optim.Adam([{"params": self.generator_params(), "lr": train.lr, "lr_scale": 1.0}], betas=betas)
        self._opt_d = opt_d
        return [opt_d, opt_g]

    def generator_params(self):
        return self.G.parameters()

    def fetch_batch(self, data, batch_size: int, generator: torch.Generator) -> torch.Tensor:
        """k * batch_size real examples (one fresh batch per D step); images are NOT binarised."""
        n = batch_size * self.cfg.d_steps
        if data.kind != "image":
            return data.batch(n, generator).to(self.dtype)
        idx = to_device(torch.randint(0, len(data.train), (n,), generator=generator), data.train.device)
        return data.train[idx].to(self.dtype)

    def train_step(self, batch, optimizers, train: TrainConfig) -> dict[str, torch.Tensor]:
        """k D steps on fresh real batches, then one G step; a frozen player's loss is still reported."""
        opt_d, opt_g = optimizers
        chunks = batch.chunk(self.cfg.d_steps)
        learn_d, learn_g = self.cfg.train_players != "G", self.cfg.train_players != "D"
        for x in chunks if learn_d else chunks[:1]:
            out = self._d_step(x, opt_d, train, learn_d)
        out.update(self._g_step(chunks[0], opt_g, train, learn_g))
        self._after_step(optimizers, train, learn_g)
        return out

    @torch.no_grad()
    def _after_step(self, optimizers, train: TrainConfig, g_moved: bool) -> None:
        self.steps_done += 1
        if self.G_ema is not None and g_moved:
            for pe, p in zip(self.G_ema.parameters(), self.G.parameters()):
                pe.lerp_(p, 1.0 - self.cfg.g_ema)
            for be, b in zip(self.G_ema.buffers(), self.G.buffers()):
                be.copy_(b)
        if self.cfg.lr_decay:
            frac = max(0.0, 1.0 - float(self.steps_done) / train.steps)
            for opt in optimizers:
                for g in opt.param_groups:
                    g["lr"] = train.lr * g.get("lr_scale", 1.0) * frac

    def _d_step(self, x, opt, train, learn: bool) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            real_in, fake_in = self.d_inputs(x)
        with torch.set_grad_enabled(learn):
            r1 = learn and self.cfg.r1 > 0
            if r1:
                real_in = real_in.detach().requires_grad_(True)
            real_s, fake_s = self.score(real_in), self.score(fake_in)
            loss = self.d_loss(real_s, fake_s)
            if learn:
                self._step(loss + self._r1(real_in, real_s) if r1 else loss, opt, self.D.parameters(), train)
        return {"loss_d": loss.detach(), "d_real": self.prob_from_score(real_s).mean().detach(),
                "d_fake": self.prob_from_score(fake_s).mean().detach()}

    def d_inputs(self, x):
        """What D compares: real x and a fresh fake batch (BiGAN: (x, E(x)) and (G(z), z) pairs)."""
        return x, self.fake(len(x))

    def score(self, inp) -> torch.Tensor:
        return self.critic(inp)

    def g_objective(self, x: torch.Tensor) -> torch.Tensor:
        """The generator's loss for a step whose real batch is x (GAN: only its size matters)."""
        return self.g_loss(self.critic(self.fake(len(x))))

    def _r1(self, x, real_s) -> torch.Tensor:
        (g,) = torch.autograd.grad(real_s.sum(), x, create_graph=True)
        return 0.5 * self.cfg.r1 * g.pow(2).flatten(1).sum(1).mean()

    def _g_step(self, x, opt, train, learn: bool) -> dict[str, torch.Tensor]:
        with torch.set_grad_enabled(learn):
            loss = self.g_objective(x)
            if learn:
                self._step(loss, opt, self.generator_params(), train)
        return {"loss_g": loss.detach()}

    @staticmethod
    def _step(loss, opt, params, train) -> None:
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if train.grad_clip > 0:
            nn.utils.clip_grad_norm_(list(params), train.grad_clip)
        opt.step()

    def set_live(self, name: str, value) -> None:
        super().set_live(name, value)
        if name == "d_lr_ratio" and self._opt_d is not None:
            for g in self._opt_d.param_groups:
                g["lr"] = g["lr"] / g["lr_scale"] * self.cfg.d_lr_ratio
                g["lr_scale"] = self.cfg.d_lr_ratio

    # -- metrics --------------------------------------------------------------------------------------
    def val_metrics(self, data) -> dict[str, float]:
        """D's view of held-out data vs fakes; 2D adds KDE JSD and mode coverage on ring8/grid25."""
        g = torch.Generator().manual_seed(123)  # the same noise at every snapshot: smooth curves
        real = data.val[:1000].to(self.dtype)
        # 2D: 2,500 fakes, 1,500 of them for the KDE below; images need the 1,000 that D scores (G on 2,500
        # MNIST fakes was ~60% of an image snapshot)
        z = torch.randn(1000 if self.image else 2500, self.latent_dim, generator=g, dtype=self.dtype).to(self.device)
        fake = self.sampler(z)
        out = self.score_metrics(*self.heldout_scores(real, fake[:1000], z[:1000]))
        if not self.image:
            # 500 points per KDE: the estimate runs at every snapshot
            out["jsd_kde"] = metrics.kde_jsd(data.train[:500].to(self.dtype), fake[:500], real[:500], fake[1000:1500])
            if data.name in metrics.BENCHMARKS:
                cov = metrics.mode_coverage(fake.cpu().numpy(), *metrics.BENCHMARKS[data.name])
                out.update(modes=float(cov["modes"]), n_modes=float(cov["n_modes"]), hq=cov["hq"])
        return out

    def heldout_scores(self, real, fake, z) -> tuple[torch.Tensor, torch.Tensor]:
        return self.point_scores(real), self.point_scores(fake)

    def score_metrics(self, real_s, fake_s) -> dict[str, float]:
        """Mean D on real / fake and the JSD lower bound implied by D: ln 2 + V(D, G) / 2."""
        v = -self.d_loss(real_s, fake_s)
        return {"d_real": float(torch.sigmoid(real_s).mean()), "d_fake": float(torch.sigmoid(fake_s).mean()),
                "jsd_d": float(math.log(2) + 0.5 * v)}

    # -- visualisation ----------------------------------------------------------------------------------
    def visualize(self, data, view: dict) -> dict[str, np.ndarray]:
        return self._viz_images(data, view) if self.image else self._viz_points(data, view)

    def _viz_points(self, data, view) -> dict[str, np.ndarray]:
        bbox, res = view["bbox"], view.get("res", 96)
        g = torch.Generator().manual_seed(view.get("sample_seed", 0))
        fake = self.sample(view.get("n_samples", 1000), generator=g)
        pts = grid(bbox, res, self.device, self.dtype)
        d_grid = self.prob_from_score(self.point_scores(pts)).reshape(res, res)
        kr = min(res, 64)  # D* from KDEs of 500 + 500 points on a grid of at most 64²: ~10x cheaper than full
        dstar = metrics.kde_dstar_grid(grid(bbox, kr, self.device, self.dtype), data.train[:500].to(self.dtype),
                                       fake[:500]).reshape(kr, kr)
        at, grad = self.generator_gradients(fake[:200])
        side = 15
        manifold = self.sampler(nets.latent_grid(side, self.latent_dim, dtype=self.dtype).to(self.device))
        manifold = manifold.reshape(side, side, -1)
        return {"samples": _np(fake), "d_grid": _np(d_grid), "dstar_grid": _np(dstar), "grad_at": _np(at),
                "grad": _np(grad), "manifold": _np(manifold)}

    def generator_gradients(self, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """-∂(G loss)/∂x at fake points (n, 2): where each fake point is pushed by the generator's loss."""
        with torch.enable_grad():
            x = fake.detach().clone().requires_grad_(True)
            per_point = self.g_loss(self.point_scores(x)) * len(x)  # a sum: each point's own gradient
            (g,) = torch.autograd.grad(per_point, x)
        return x.detach(), -g

    def _viz_images(self, data, view) -> dict[str, np.ndarray]:
        from torchvision.utils import make_grid

        fresh = torch.randn(64, self.latent_dim, generator=self._viz_gen, dtype=self.dtype).to(self.device)
        fixed, new = self.sampler(self.fixed_z), self.sampler(fresh)
        real = data.val[:256].to(self.dtype)
        return {"fixed_grid": _np(make_grid(fixed, nrow=8, pad_value=1.0)[0]),
                "fresh_grid": _np(make_grid(new, nrow=8, pad_value=1.0)[0]),
                "samples": _np(new[:, 0]),  # the fresh grid's images (n, 28, 28): what Export → Samples writes
                "d_real": _np(self.prob_from_score(self.point_scores(real))),
                "d_fake": _np(self.prob_from_score(self.point_scores(new)))}


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().float().cpu().numpy()


@dataclass
class DCGANConfig(GANConfig):
    """Defaults for MNIST / Fashion-MNIST: the DCGAN with a 64-d latent."""

    arch: str = param("dcgan", choices=("auto", "mlp", "dcgan"),
                      help="network type: auto = MLP for 2D points, DCGAN for images")
    hidden: int = param(64, lo=4, hi=2048, unit="units", help="MLP width (channels for the DCGAN)")


@dataclass
class GANPresetConfig(GANConfig):
    """The shipped 2D preset against mode collapse (bench/bench_gan_modes.py measures it): an R1 penalty
    on real data (Mescheder et al. 2018), Adam betas (0.5, 0.9) and learning rates decayed linearly to 0
    so G settles onto the modes. R1 keeps D smooth around the data, so its gradient still points fakes at
    modes G has not found yet; PacGAN packing (pack = 2) was tried here and covered grid25 far slower."""

    beta2: float = param(0.9, lo=0.0, hi=0.9999, help="Adam β2 for both players")
    r1: float = param(1.0, lo=0.0, hi=1000.0, help="R1 penalty γ: D loss += γ/2 E_data |∇x D|²")
    lr_decay: bool = param(True, help="decay both learning rates linearly to 0 over the session's steps")


class DCGAN(GAN):
    """The GAN with image defaults (its own class so checkpoints name it 'dcgan')."""


class GANPreset(GAN):
    """The GAN with the mode-covering preset's defaults (its own class so checkpoints name it)."""
