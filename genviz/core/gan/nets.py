"""Generator / discriminator networks: MLPs for 2D points, a small DCGAN and an MLP for 28x28 images.

Discriminators return one raw score per example (a logit for the GAN, V(x) for the f-GAN); the
output activation lives in the loss. Image generators end in a sigmoid so images are in [0, 1].
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as _sn


def _maybe_sn(layer: nn.Module, sn: bool) -> nn.Module:
    return _sn(layer) if sn else layer


def mlp(d_in: int, d_out: int, hidden: int, depth: int, act=nn.ReLU, sn: bool = False) -> nn.Sequential:
    """d_in -> [hidden]*depth -> d_out with `act` between layers; spectral norm on every linear if `sn`."""
    layers, d = [], d_in
    for _ in range(depth):
        layers += [_maybe_sn(nn.Linear(d, hidden), sn), act()]
        d = hidden
    layers.append(_maybe_sn(nn.Linear(d, d_out), sn))
    return nn.Sequential(*layers)


def shrink_last(net: nn.Module, factor: float = 0.1) -> nn.Module:
    """Scale the last linear/conv layer's weights so D(x) starts near 0.5 (balanced game at step 0)."""
    last = [m for m in net.modules() if isinstance(m, (nn.Linear, nn.Conv2d))][-1]
    with torch.no_grad():
        w = last.parametrizations.weight.original if hasattr(last, "parametrizations") else last.weight
        w.mul_(factor)
        if last.bias is not None:
            last.bias.zero_()
    return net


class Reshape(nn.Module):
    def __init__(self, *shape):
        super().__init__()
        self.shape = shape

    def forward(self, x):
        return x.reshape(len(x), *self.shape)


class Flatten(nn.Module):
    def forward(self, x):
        return x.flatten(1)


def image_generator(arch: str, latent: int, hidden: int, shape=(1, 28, 28)) -> nn.Module:
    """z (n, latent) -> images (n, *shape) in [0, 1]; 'dcgan' (transposed convs) or 'mlp'."""
    c, h, w = shape
    if arch == "mlp":
        return nn.Sequential(mlp(latent, c * h * w, hidden * 4, 2, nn.ReLU), nn.Sigmoid(), Reshape(c, h, w))
    ch = hidden
    return nn.Sequential(  # 7x7 -> 14x14 -> 28x28
        nn.Linear(latent, 2 * ch * 7 * 7), nn.BatchNorm1d(2 * ch * 7 * 7), nn.ReLU(), Reshape(2 * ch, 7, 7),
        nn.ConvTranspose2d(2 * ch, ch, 4, 2, 1), nn.BatchNorm2d(ch), nn.ReLU(),
        nn.ConvTranspose2d(ch, c, 4, 2, 1), nn.Sigmoid())


def image_features(arch: str, hidden: int, in_ch: int = 1, sn: bool = False) -> tuple[nn.Module, int]:
    """Image -> feature vector (the discriminator body), and the feature size."""
    if arch == "mlp":
        return nn.Sequential(Flatten(), mlp(in_ch * 784, hidden * 2, hidden * 4, 1, _leaky, sn), _leaky()), hidden * 2
    ch = hidden
    body = nn.Sequential(  # 28 -> 14 -> 7
        _maybe_sn(nn.Conv2d(in_ch, ch, 4, 2, 1), sn), _leaky(),
        _maybe_sn(nn.Conv2d(ch, 2 * ch, 4, 2, 1), sn), _leaky(), Flatten())
    return body, 2 * ch * 7 * 7


def _leaky():
    return nn.LeakyReLU(0.2)


class ImageCritic(nn.Module):
    """Images (n, C, 28, 28) [+ latent codes (n, k) for BiGAN] -> scores (n,)."""

    def __init__(self, arch: str, hidden: int, in_ch: int = 1, z_dim: int = 0, sn: bool = False):
        super().__init__()
        self.body, feat = image_features(arch, hidden, in_ch, sn)
        self.z_dim = z_dim
        self.head = mlp(feat + z_dim, 1, 4 * hidden, 1, _leaky, sn) if z_dim else _maybe_sn(nn.Linear(feat, 1), sn)

    def forward(self, x, z=None):
        h = self.body(x)
        if self.z_dim:
            h = torch.cat([h, z], 1)
        return self.head(h).squeeze(1)


class PointCritic(nn.Module):
    """Points (n, d) [+ codes (n, k)] -> scores (n,); an MLP with leaky ReLUs."""

    def __init__(self, d_in: int, hidden: int, depth: int, sn: bool = False):
        super().__init__()
        self.net = mlp(d_in, 1, hidden, depth, _leaky, sn)

    def forward(self, x, z=None):
        return self.net(x if z is None else torch.cat([x, z], 1)).squeeze(1)


def latent_grid(n: int, latent_dim: int, extent: float = 2.5, dtype: torch.dtype | None = None) -> torch.Tensor:
    """(n*n, latent_dim) codes on a grid over the first two latent dims (others 0): the generator manifold."""
    t = torch.linspace(-extent, extent, n, dtype=dtype)
    yy, xx = torch.meshgrid(t, t, indexing="ij")
    z = torch.zeros(n * n, latent_dim, dtype=dtype)
    z[:, 0] = xx.reshape(-1)
    if latent_dim > 1:
        z[:, 1] = yy.reshape(-1)
    return z

