"""CycleGAN (Zhu et al. 2017): unpaired translation between domains A and B.

G: A -> B and F: B -> A are trained so that D_B cannot tell G(a) from b and D_A cannot tell F(b) from a,
plus the L1 cycle loss  λ (|F(G(a)) - a|₁ + |G(F(b)) - b|₁)  that keeps the translations invertible.
Domain A is the session's dataset. Domain B: for 2D data another toy density (`domain_b`), generated
inside fetch_batch; for images a transform of the same images (colour-inverted or rotated by 90°),
drawn with independent indices so the pairs are never seen.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from genviz.core.config import TrainConfig, param
from genviz.core.data import TOY2D, to_device, toy2d
from genviz.core.gan import metrics, nets
from genviz.core.gan.gan import GAN, _np
from genviz.core.model import GenerativeModel


@dataclass
class CycleGANConfig:
    domain_b: str = param("8gaussians", choices=tuple(TOY2D), help="2D: the target domain B (A is the dataset)")
    image_pair: str = param("invert", choices=("invert", "rotate"),
                            help="images: domain B is the colour-inverted or the 90°-rotated dataset")
    cycle_weight: float = param(1.0, lo=0.0, hi=1000.0, help="λ, weight of the L1 cycle-consistency loss")
    hidden: int = param(128, lo=4, hi=2048, unit="units", help="MLP width (conv channels for images)")
    depth: int = param(3, lo=1, hi=8, unit="layers", help="hidden layers of the 2D MLPs")
    d_lr_ratio: float = param(1.0, lo=0.0, lo_open=True, hi=100.0, log=True, help="D lr = lr × this ratio")
    beta1: float = param(0.5, lo=0.0, hi=0.999, help="Adam β1")
    beta2: float = param(0.999, lo=0.0, hi=0.9999, help="Adam β2")
    train_players: str = param("both", choices=("both", "D", "G"), help="who learns in each step")


def transform_b(x: torch.Tensor, pair: str) -> torch.Tensor:
    """Images of domain A (n, 1, 28, 28) -> domain B."""
    return 1.0 - x if pair == "invert" else torch.rot90(x, 1, (2, 3))


class CycleGAN(GenerativeModel):
    """G: A -> B, F: B -> A, discriminators D_A and D_B; x: (n, 2) or (n, 1, 28, 28)."""

    family = "gan"
    live_fields = ("train_players", "cycle_weight")

    def __init__(self, cfg: CycleGANConfig, data_shape):
        super().__init__(cfg, data_shape)
        self.image = len(self.data_shape) == 3
        self.G, self.F = self.translator(), self.translator()
        self.D_A, self.D_B = self.critic_net(), self.critic_net()
        self._pool_a = self._pool_b = None  # domain samples seen in fetch_batch (not saved)

    def translator(self) -> nn.Module:
        c = self.cfg
        if not self.image:
            return nets.mlp(2, 2, c.hidden, c.depth, nn.ReLU)
        if c.image_pair == "rotate":  # rotation moves pixels across the image: a fully connected net
            return nn.Sequential(nets.Flatten(), nets.mlp(784, 784, 4 * c.hidden, 1, nn.ReLU), nn.Sigmoid(),
                                 nets.Reshape(1, 28, 28))
        ch = c.hidden // 4  # inversion is per pixel: a small fully convolutional net
        return nn.Sequential(nn.Conv2d(1, ch, 3, 1, 1), nn.ReLU(), nn.Conv2d(ch, ch, 3, 1, 1), nn.ReLU(),
                             nn.Conv2d(ch, 1, 3, 1, 1), nn.Sigmoid())

    def critic_net(self) -> nn.Module:
        if self.image:
            return nets.shrink_last(nets.ImageCritic("dcgan", self.cfg.hidden // 4))
        return nets.shrink_last(nets.PointCritic(2, self.cfg.hidden, self.cfg.depth))

    # -- data -----------------------------------------------------------------------------------------
    def fetch_batch(self, data, batch_size: int, generator: torch.Generator):
        """(a, b): unpaired batches of domain A (the dataset) and domain B (generated / transformed)."""
        n = len(data.train)
        ia = to_device(torch.randint(0, n, (batch_size,), generator=generator), data.train.device)
        ib = to_device(torch.randint(0, n, (batch_size,), generator=generator), data.train.device)
        if self.image:
            a, b = data.train[ia], transform_b(data.train[ib], self.cfg.image_pair)
            return a.to(self.dtype), b.to(self.dtype)
        if self._pool_b is None or len(self._pool_b) != n:
            self._pool_a = data.train
            self._pool_b = torch.from_numpy(toy2d(self.cfg.domain_b, n, seed=1)).to(data.train.device)
        return data.train[ia].to(self.dtype), self._pool_b[ib].to(self.dtype)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """G applied to n points of domain A (the training set once seen; moons before any data)."""
        pool = self._pool_a
        if pool is None:
            if self.image:
                raise RuntimeError("CycleGAN translates images: call translate(x) or train it first")
            pool = torch.from_numpy(toy2d("moons", 4096, seed=0)).to(self.device)
        idx = to_device(torch.randint(0, len(pool), (n,), generator=generator), pool.device)
        return self.G(pool[idx].to(self.dtype))

    # -- training -------------------------------------------------------------------------------------
    def configure_optimizers(self, train: TrainConfig):
        betas, r = (self.cfg.beta1, self.cfg.beta2), self.cfg.d_lr_ratio
        d_params = [*self.D_A.parameters(), *self.D_B.parameters()]
        opt_d = torch.optim.Adam([{"params": d_params, "lr": train.lr * r, "lr_scale": r}], betas=betas)
        opt_g = torch.optim.Adam([{"params": [*self.G.parameters(), *self.F.parameters()], "lr": train.lr,
                                   "lr_scale": 1.0}], betas=betas)
        return [opt_d, opt_g]

    def d_objective(self, a, b) -> torch.Tensor:
        with torch.no_grad():
            fb, fa = self.G(a), self.F(b)
        return _bce(self.D_B(b), self.D_B(fb)) + _bce(self.D_A(a), self.D_A(fa))

    def g_objective(self, a, b) -> tuple[torch.Tensor, torch.Tensor]:
        """(non-saturating adversarial loss, L1 cycle loss) for both directions."""
        fb, fa = self.G(a), self.F(b)
        adv = F.softplus(-self.D_B(fb)).mean() + F.softplus(-self.D_A(fa)).mean()
        cyc = (self.F(fb) - a).abs().mean() + (self.G(fa) - b).abs().mean()
        return adv, cyc

    def train_step(self, batch, optimizers, train: TrainConfig) -> dict[str, torch.Tensor]:
        (a, b), (opt_d, opt_g) = batch, optimizers
        learn_d, learn_g = self.cfg.train_players != "G", self.cfg.train_players != "D"
        with torch.set_grad_enabled(learn_d):
            loss_d = self.d_objective(a, b)
            if learn_d:
                GAN._step(loss_d, opt_d, [*self.D_A.parameters(), *self.D_B.parameters()], train)
        with torch.set_grad_enabled(learn_g):
            adv, cyc = self.g_objective(a, b)
            loss_g = adv + self.cfg.cycle_weight * cyc
            if learn_g:
                GAN._step(loss_g, opt_g, [*self.G.parameters(), *self.F.parameters()], train)
        return {"loss_d": loss_d.detach(), "loss_g": loss_g.detach(), "cycle": cyc.detach()}

    # -- metrics and pictures -------------------------------------------------------------------------
    def _val_pair(self, data, n: int = 1000):
        if self.image:  # unpaired: A and B from disjoint halves of the held-out images, however few there are
            n = min(n, len(data.val) // 2)
            a = data.val[:n].to(self.dtype)
            return a, transform_b(data.val[n:2 * n], self.cfg.image_pair).to(self.dtype)
        a = data.val[:n].to(self.dtype)
        self.fetch_batch(data, 1, torch.Generator().manual_seed(0))  # makes sure the B pool exists
        return a, self._pool_b[:n].to(self.dtype)

    def val_metrics(self, data) -> dict[str, float]:
        a, b = self._val_pair(data)
        out = {"cycle_a": float((self.F(self.G(a)) - a).abs().mean()),
               "cycle_b": float((self.G(self.F(b)) - b).abs().mean())}
        if not self.image:  # how well G(A) matches B
            h = len(a) // 2
            out["jsd_kde"] = metrics.kde_jsd(self._pool_b[-1000:].to(self.dtype), self.G(a[:h]), b[:h],
                                             self.G(a[h:2 * h]))
        return out

    def visualize(self, data, view) -> dict[str, np.ndarray]:
        a, b = self._val_pair(data, 300 if not self.image else 8)
        ab, ba = self.G(a), self.F(b)
        aba, bab = self.F(ab), self.G(ba)
        if not self.image:
            return {"a": _np(a), "ab": _np(ab), "aba": _np(aba), "b": _np(b), "ba": _np(ba), "bab": _np(bab)}
        from torchvision.utils import make_grid

        return {"rows_a": _np(make_grid(torch.cat([a, ab, aba]), nrow=8, pad_value=1.0)[0]),
                "rows_b": _np(make_grid(torch.cat([b, ba, bab]), nrow=8, pad_value=1.0)[0])}


def _bce(real_s, fake_s) -> torch.Tensor:
    return F.softplus(-real_s).mean() + F.softplus(fake_s).mean()
