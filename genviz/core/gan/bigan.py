"""BiGAN / ALI (Donahue et al. 2017; Dumoulin et al. 2017): learn an encoder E alongside the generator G.

D sees pairs: real (x, E(x)) against fake (G(z), z). At the optimum the two joint distributions match, so
E inverts G: z = E(x) is inference and G(E(x)) a reconstruction, although no reconstruction loss is trained.
G and E share one optimiser and play against D with the labels flipped (non-saturating) or the minimax value.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from genviz.core.config import ConfigError
from genviz.core.gan import nets
from genviz.core.gan.gan import GAN, GANConfig, _np


@dataclass
class BiGANConfig(GANConfig):
    """Same fields as the GAN (packing and R1 are not supported: D judges (x, z) pairs)."""


class BiGAN(GAN):
    """G: z (n, k) -> x; E: x -> z (n, k); D: (x, z) -> logit (n,)."""

    def __init__(self, cfg: BiGANConfig, data_shape):
        if cfg.pack != 1:
            raise ConfigError("pack", "BiGAN's discriminator judges (x, z) pairs; packing is not supported")
        if cfg.r1 != 0:
            raise ConfigError("r1", "the R1 penalty is not implemented for BiGAN; set it to 0")
        super().__init__(cfg, data_shape)
        self.E = self.build_encoder()

    def build_encoder(self) -> nn.Module:
        if self.image:
            body, feat = nets.image_features(self.img_arch, self.cfg.hidden // 2)
            return nn.Sequential(body, nn.Linear(feat, self.latent_dim))
        return nets.mlp(self.data_dim, self.latent_dim, self.cfg.hidden, self.cfg.depth, nn.ReLU)

    def build_discriminator(self) -> nn.Module:
        c = self.cfg
        if self.image:
            return nets.ImageCritic(self.img_arch, c.hidden // 2, self.data_shape[0], self.latent_dim, c.spectral_norm)
        return nets.PointCritic(self.data_dim + self.latent_dim, c.hidden, c.depth, c.spectral_norm)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.E(x)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.G(self.E(x))

    def generator_params(self):
        return [*self.G.parameters(), *self.E.parameters()]

    # -- the game on pairs ----------------------------------------------------------------------------
    def d_inputs(self, x):
        z = torch.randn(len(x), self.latent_dim, device=x.device, dtype=x.dtype)
        return (x, self.E(x)), (self.G(z), z)

    def score(self, inp) -> torch.Tensor:
        return self.D(*inp)

    def g_objective(self, x: torch.Tensor) -> torch.Tensor:
        """G and E minimise V (minimax) or the label-flipped BCE (non-saturating)."""
        (xr, zr), (xf, zf) = self.d_inputs(x)
        real_s, fake_s = self.D(xr, zr), self.D(xf, zf)
        if self.cfg.loss == "minimax":
            return -self.d_loss(real_s, fake_s)
        return F.softplus(real_s).mean() + F.softplus(-fake_s).mean()

    def point_scores(self, x: torch.Tensor) -> torch.Tensor:
        """D on (x, E(x)): how real x looks together with its inferred code (heatmap, arrows)."""
        return self.D(x, self.E(x))

    def heldout_scores(self, real, fake, z):
        return self.D(real, self.E(real)), self.D(fake, z)

    def val_metrics(self, data) -> dict[str, float]:
        out = super().val_metrics(data)
        x = data.val[:1000].to(self.dtype)
        out["recon_mse"] = float((self.reconstruct(x) - x).pow(2).flatten(1).sum(1).mean())
        return out

    # -- pictures ---------------------------------------------------------------------------------------
    def visualize(self, data, view):
        out = super().visualize(data, view)
        if not self.image:
            x = data.val[:300].to(self.dtype)
            return {**out, "recon_from": _np(x), "recon": _np(self.reconstruct(x)), "codes": _np(self.E(x))}
        from torchvision.utils import make_grid

        x = data.val[:16].to(self.dtype)
        rows = torch.cat([x[:8], self.reconstruct(x[:8]), x[8:], self.reconstruct(x[8:])])
        emb, labels = self.embedding(data.test[:1000].to(self.dtype)), data.labels.get("test")
        out["recon_grid"] = _np(make_grid(rows, nrow=8, pad_value=1.0)[0])
        out["embedding"] = emb
        if labels is not None:
            out["embedding_labels"] = labels[:1000].cpu().numpy().astype(np.float32)
        return out

    def embedding(self, x: torch.Tensor) -> np.ndarray:
        """E(x) in 2D: the codes themselves for a 2-d latent, else their first two principal components."""
        z = self.E(x)
        if z.shape[1] > 2:
            z = z - z.mean(0)
            _, _, v = torch.linalg.svd(z, full_matrices=False)
            z = z @ v[:2].T
        return _np(z[:, :2])
