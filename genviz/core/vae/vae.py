"""Variational autoencoder (Kingma & Welling 2014), set up as in the course homework.

Gaussian encoder q(z|x) = N(m(x), diag v(x)); prior N(0, I); decoder Bernoulli (binarized images) or
Gaussian (2D data). NELBO = Rec + KL with Rec = -E_q log p(x|z) (one sample) and KL in closed form.
Training minimises Rec + β·KL (β = 1 is the ELBO; β is live: the session may change it mid-run); the reported
NELBO is always Rec + KL. `decoder="autoregressive"` lets each x_i also see x_<i (ar_decoder.py): a decoder
powerful enough to ignore z, which shows posterior collapse.
`log_prob(x, k)` is the importance-weighted estimate log (1/k) Σ p(x, z_i) / q(z_i|x), z_i ~ q(z|x).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from genviz.core import fast_ops, fused_adam
from genviz.core.config import ConfigError, param
from genviz.core.model import GenerativeModel, has_grad_hooks
from genviz.core.vae import ar_decoder, mlp_step, nets, viz


@dataclass
class VAEConfig:
    z_dim: int = param(0, lo=0, hi=512, help="latent size (0 = auto: 10 for images, 2 for 2D data)")
    hidden: int = param(0, lo=0, hi=4096, unit="units",
                        help="width of the encoder/decoder MLPs (0 = auto: 300 for images, 64 for 2D)")
    depth: int = param(2, lo=1, hi=6, unit="layers", help="hidden layers in the encoder and in the decoder")
    likelihood: str = param("auto", choices=("auto", "bernoulli", "gaussian"),
                            help="decoder p(x|z): Bernoulli for binarized images, Gaussian for 2D data")
    iw_eval: int = param(100, lo=1, hi=100_000, unit="samples",
                         help="importance samples for log_prob / NLL evaluation")
    beta: float = param(1.0, lo=0.0, hi=100.0,
                        help="weight β of KL in the training loss Rec + β·KL (1 = the ELBO); live while training")
    decoder: str = param("mlp", choices=("mlp", "autoregressive"),
                         help="p(x|z): an MLP of z, or autoregressive (x_i also sees x_<i: a powerful decoder "
                              "that can ignore z — posterior collapse)")

AR_LR_SCALE = 20.0  # the autoregressive context's learning rate, in units of the model's (configure_optimizers)
ACTIVE_THRESHOLD = 0.01  # Burda et al. 2016: a latent unit is active when Cov_x(E_q[z_u|x]) > 0.01


def active_units(means: torch.Tensor, threshold: float = ACTIVE_THRESHOLD) -> tuple[int, torch.Tensor]:
    """(count, per-unit variance): Cov_x(E_q[z|x]) per unit from encoder means (n, d), population variance."""
    var = means.var(0, correction=0)
    return int((var > threshold).sum()), var


class VAE(GenerativeModel):
    """x: (batch, *data_shape); latents z: (batch, z_dim)."""

    family = "vae"
    live_fields = ("beta",)

    def __init__(self, cfg: VAEConfig, data_shape):
        super().__init__(cfg, data_shape)
        image = len(self.data_shape) > 1
        self.z_dim = cfg.z_dim or (10 if image else 2)
        hidden = cfg.hidden or (300 if image else 64)
        self.likelihood = cfg.likelihood if cfg.likelihood != "auto" else ("bernoulli" if image else "gaussian")
        if self.likelihood == "gaussian" and image:
            raise ConfigError("likelihood", "a Gaussian decoder is for 2D data; use bernoulli for images")
        out = self.data_dim * (2 if self.likelihood == "gaussian" else 1)
        # ELU and the Bernoulli likelihood from fast_ops: the stock float32 ones cost a fifth of a step on a CPU
        self.enc = nets.mlp([self.enc_in()] + [hidden] * cfg.depth + [2 * self.z_dim], act=fast_ops.ELU)
        self.dec = nets.mlp([self.dec_in()] + [hidden] * cfg.depth + [out], act=fast_ops.ELU)
        self._check_beta(cfg.beta)
        self.ar = None
        if cfg.decoder == "autoregressive":
            if self.dec_in() != self.z_dim:
                raise ConfigError("decoder", "the autoregressive decoder takes z only; this model's decoder "
                                             "takes more inputs")
            self.ar = ar_decoder.ARContext(self.data_dim, out // self.data_dim, hidden)
        self._viz_calls = 0
        self._iwae_cache: dict = {}

    def configure_optimizers(self, train):
        """Adam; the autoregressive context at AR_LR_SCALE × the rate. Each of its weights sees one pixel pair's
        gradient, so at the MLP's rate it learns far slower than the z path; collapse is a race between
        explaining x through z and explaining it from x_<i, and this lets the decoder run it at full power."""
        if self.ar is None:  # one fused pass per tensor instead of the for-loop's ten (fused_adam.py)
            return [fused_adam.adam(self.parameters(), lr=train.lr)]
        rest = [p for n, p in self.named_parameters() if not n.startswith("ar.")]
        return [torch.optim.Adam([{"params": rest},
                                  {"params": list(self.ar.parameters()), "lr": train.lr * AR_LR_SCALE,
                                   "lr_scale": AR_LR_SCALE}], lr=train.lr)]

    def trains_on_beta(self) -> bool:
        """Whether the training loss is Rec + β·KL (subclasses with their own objective ignore β)."""
        return type(self).loss is VAE.loss

    def _check_beta(self, beta: float) -> None:
        if beta != 1.0 and not self.trains_on_beta():
            raise ConfigError("beta", f"{type(self).__name__} trains on its own objective, not Rec + β·KL")

    def set_live(self, name: str, value) -> None:
        if name == "beta":
            self._check_beta(float(value))
        super().set_live(name, value)

    def enc_in(self) -> int:
        return self.data_dim

    def dec_in(self) -> int:
        return self.z_dim

    # -- the model's pieces -----------------------------------------------------------------------
    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, variance) of q(z|x), each (batch, z_dim)."""
        return nets.gaussian_parameters(self.enc(x.flatten(1)))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Decoder output for z (..., z_dim): Bernoulli logits (..., D) or Gaussian mean|raw-var (..., 2D)."""
        return self.dec(z)

    def log_px_given_z(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """log p(x|z): x (batch, ...), z (..., batch, z_dim) -> (..., batch)."""
        out, xf = self.decode(z), x.flatten(1)
        if self.ar is not None:  # each x_i also sees x_<i (teacher forcing: x is given)
            out = out + self.ar(xf)
        if self.likelihood == "bernoulli":
            return fast_ops.log_bernoulli_with_logits(xf, out)
        m, h = out.chunk(2, -1)
        return nets.log_normal(xf, m, torch.nn.functional.softplus(h) + 1e-4)  # floor: no collapse onto a point

    def log_prior(self, z: torch.Tensor) -> torch.Tensor:
        return nets.log_normal(z, torch.zeros_like(z), torch.ones_like(z))

    def kl(self, qm, qv, z) -> torch.Tensor:
        """KL(q(z|x) || p(z)) per example: closed form for the standard normal prior."""
        return nets.kl_normal(qm, qv, torch.zeros_like(qm), torch.ones_like(qv))

    def sample_prior(self, n: int, generator=None) -> torch.Tensor:
        return torch.randn(n, self.z_dim, device=self.device, dtype=self.dtype, generator=generator)

    # -- objectives -----------------------------------------------------------------------------
    def negative_elbo_bound(self, x: torch.Tensor, generator: torch.Generator | None = None
                            ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(NELBO, KL, Rec), each averaged over the batch (nats); the one sample of z uses `generator`."""
        return self._nelbo_terms(x, generator)[:3]

    def _nelbo_terms(self, x, generator=None):
        """negative_elbo_bound's three terms and the encoder means they used (val_metrics' active units)."""
        qm, qv = self.encode(x)
        z = nets.sample_gaussian(qm, qv, generator)
        kl = self.kl(qm, qv, z)
        rec = -self.log_px_given_z(x, z)
        return (kl + rec).mean(), kl.mean(), rec.mean(), qm

    def loss(self, x):
        nelbo, kl, rec = self.negative_elbo_bound(x)
        loss = nelbo if self.cfg.beta == 1.0 else rec + self.cfg.beta * kl
        return loss, {"nelbo": nelbo.detach(), "rec": rec.detach(), "kl": kl.detach()}

    # the methods mlp_step writes out: a subclass that overrides one of them trains through autograd
    _STEP_METHODS = ("loss", "negative_elbo_bound", "encode", "decode", "kl", "log_px_given_z", "enc_in", "dec_in")

    def _fused_step_applies(self, x: torch.Tensor, optimizers) -> bool:
        if not all(getattr(type(self), n) is getattr(VAE, n) for n in self._STEP_METHODS):
            return False
        p = self.enc[0].weight
        return (isinstance(x, torch.Tensor) and len(optimizers) == 1 and torch.is_grad_enabled()
                and self.ar is None and self.likelihood == "bernoulli" and p.device.type in ("cpu", "cuda")
                and x.device == p.device
                and x.dtype == p.dtype and p.dtype in (torch.float32, torch.float64) and not x.requires_grad
                and mlp_step.linears(self.enc) is not None and mlp_step.linears(self.dec) is not None
                and all(q.requires_grad and q.dtype == p.dtype for q in self.parameters())
                and not has_grad_hooks(self.parameters()))

    def train_step(self, x, optimizers, train):
        """One step on Rec + β·KL; the MLP VAE with a Bernoulli decoder (on a CPU or a GPU) takes mlp_step's backward
        written out (autograd's gradients without its graph), anything else autograd's."""
        if not self._fused_step_applies(x, optimizers):
            return super().train_step(x, optimizers, train)
        (opt,) = optimizers
        for p in self.parameters():  # mlp_step overwrites every gradient: no zeroing pass
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        loss, nelbo, kl, rec = mlp_step.train_step(self, x, self.cfg.beta)
        if train.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.parameters(), train.grad_clip)
        opt.step()
        return {"loss": loss, "nelbo": nelbo, "rec": rec, "kl": kl}

    def log_weights(self, x: torch.Tensor, k: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """log p(x, z_i) - log q(z_i|x) for k draws z_i ~ q(z|x): (k, batch)."""
        qm, qv = self.encode(x)
        z = nets.sample_gaussian(qm.expand(k, *qm.shape), qv.expand(k, *qv.shape), generator)
        return self.log_px_given_z(x, z) + self.log_prior(z) - nets.log_normal(z, qm, qv)

    def log_prob(self, x: torch.Tensor, k: int | None = None, chunk_elems: int = 2_000_000,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """Importance-weighted estimate of log p(x) with k samples (default cfg.iw_eval): (batch,).

        Samples are drawn in chunks so k = 1000 fits in memory: chunk * batch * D ≤ chunk_elems.
        """
        k = k or self.cfg.iw_eval
        step = max(1, chunk_elems // max(1, len(x) * self.data_dim))
        parts = [torch.logsumexp(self.log_weights(x, min(step, k - i), generator), 0) for i in range(0, k, step)]
        return torch.logsumexp(torch.stack(parts), 0) - math.log(k)

    def niwae(self, x: torch.Tensor, m: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Negative IWAE bound with m samples, averaged over the batch; m = 1 is the NELBO."""
        return -self.log_prob(x, k=m, generator=generator).mean()

    @torch.no_grad()
    def sample(self, n: int, generator=None) -> torch.Tensor:
        """Draws from p(x) = ∫ p(x|z) p(z) dz: (n, *data_shape)."""
        out = self.decode(self.sample_prior(n, generator))
        if self.ar is not None:
            return self._sequential(out, "sample", generator).reshape(n, *self.data_shape)
        if self.likelihood == "bernoulli":
            x = torch.bernoulli(torch.sigmoid(out), generator=generator)
        else:
            m, h = out.chunk(2, -1)
            x = m + (torch.nn.functional.softplus(h) + 1e-4).sqrt() * torch.randn(m.shape, generator=generator,
                                                                                  device=m.device, dtype=m.dtype)
        return x.reshape(n, *self.data_shape)

    @torch.no_grad()
    def sample_means(self, n: int, generator=None) -> torch.Tensor:
        """E[x|z] for z ~ p(z): (n, *data_shape); smoother to look at than Bernoulli draws."""
        return self.decode_mean(self.sample_prior(n, generator)).reshape(n, *self.data_shape)

    def decode_mean(self, z: torch.Tensor) -> torch.Tensor:
        """The decoder's picture of z (n, z_dim) -> (n, D): the mean of p(x|z), or for the autoregressive
        decoder each dimension's mean fed forward to the next."""
        out = self.decode(z)
        return self.mean_image(out) if self.ar is None else self._sequential(out, "mean")

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """decode_mean at the encoder's mean: (batch, D)."""
        return self.decode_mean(self.encode(x)[0])

    def _sequential(self, out, mode, generator=None):
        return ar_decoder.sequential(out, self.ar.masked(), self.ar.per_dim, self.likelihood == "bernoulli", mode,
                                     generator)

    def mean_image(self, out: torch.Tensor) -> torch.Tensor:
        """Decoder output -> the mean of p(x|z) in data space."""
        if self.likelihood == "bernoulli":
            return torch.sigmoid(out)
        return out.chunk(2, -1)[0]

    # -- evaluation -----------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self, x: torch.Tensor, batch: int = 500, k: int | None = None,
                 generator: torch.Generator | None = None) -> dict[str, float]:
        """NELBO, KL, Rec and the IW NLL (k samples) averaged over x, in nats; samples from `generator`
        (default: a fresh one seeded 0), never from torch's global stream."""
        g = generator if generator is not None else self.fixed_generator()
        sums = np.zeros(4)
        for i in range(0, len(x), batch):
            xb = x[i:i + batch]
            nelbo, kl, rec = self.negative_elbo_bound(xb, g)
            nll = -self.log_prob(xb, k=k, generator=g).mean()
            sums += len(xb) * np.array([float(nelbo), float(kl), float(rec), float(nll)])
        return dict(zip(("nelbo", "kl", "rec", "nll"), sums / max(len(x), 1)))

    @torch.no_grad()
    def val_metrics(self, data) -> dict[str, float]:
        """ELBO terms on a fixed 1k validation slice with a fixed binarization (no IW: it runs every snapshot)."""
        x = viz.fixed_val(data, 1000, self.dtype)  # drawn once per data set, not at every snapshot
        # the one reparameterized sample from a fixed seed, so the curve does not jitter from sampling alone
        if type(self).negative_elbo_bound is VAE.negative_elbo_bound:  # its encoder means: no second pass
            nelbo, kl, rec, qm = self._nelbo_terms(x, self.fixed_generator())
        else:
            nelbo, kl, rec = self.negative_elbo_bound(x, self.fixed_generator())
            qm = self.encode(x)[0]
        au, _ = active_units(qm)
        # the window labels them 'val'; 'au' = active latent units (the panel's collapse view plots it)
        return {"nelbo": float(nelbo), "kl": float(kl), "rec": float(rec), "au": float(au)}

    def fixed_generator(self, seed: int = 0) -> torch.Generator:
        """A fresh generator on the model's device: metrics and views draw from it, never from the global
        stream that training uses (drawing there would disturb the run; seeding it would replay its noise)."""
        return torch.Generator(device=self.device).manual_seed(seed)

    def prior_components(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(means (k, z_dim), weights (k,)) of the prior's components, for drawing in the latent plane."""
        return (torch.zeros(1, self.z_dim, device=self.device, dtype=self.dtype),
                torch.ones(1, device=self.device, dtype=self.dtype))

    @torch.no_grad()
    def visualize(self, data, view: dict) -> dict:
        self._viz_calls += 1
        if data.kind == "2d":
            return viz.visualize_2d(self, data, view)
        return viz.visualize_images(self, data, view)
