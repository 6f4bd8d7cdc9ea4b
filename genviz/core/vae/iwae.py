"""IWAE (Burda et al. 2016): the same VAE trained on the m-sample importance-weighted bound.

L_m(x) = E log (1/m) Σ_i p(x, z_i) / q(z_i|x) ≥ ELBO, with equality at m = 1 and L_m ↑ log p(x) as m grows.
The reported rec / kl terms are the ELBO's (first sample), so the ELBO decomposition stays comparable.
"""
from __future__ import annotations

from dataclasses import dataclass

from genviz.core.config import param
from genviz.core.vae import nets
from genviz.core.vae.vae import VAE, VAEConfig


@dataclass
class IWAEConfig(VAEConfig):
    m_train: int = param(5, lo=1, hi=5000, unit="samples", help="importance samples in the training bound")


class IWAE(VAE):
    """x: (batch, *data_shape); trains on -L_m averaged over the batch."""

    def loss(self, x):
        m = self.cfg.m_train
        qm, qv = self.encode(x)
        z = nets.sample_gaussian(qm.expand(m, *qm.shape), qv.expand(m, *qv.shape))
        log_px = self.log_px_given_z(x, z)  # (m, batch)
        log_w = log_px + self.log_prior(z) - nets.log_normal(z, qm, qv)
        niwae = -nets.log_mean_exp(log_w, 0).mean()
        rec = -log_px[0].mean()
        kl = self.kl(qm, qv, z[0]).mean()
        return niwae, {"niwae": niwae.detach(), "nelbo": (rec + kl).detach(), "rec": rec.detach(),
                       "kl": kl.detach()}
