"""f-GAN (Nowozin et al. 2016): train G by a variational lower bound on an f-divergence.

    D_f(P || Q) >= sup_T  E_P[T(x)] - E_Q[f*(T(x))],   T(x) = g_f(V(x))

V is the raw discriminator output, g_f the output activation mapping it into dom f*, and f* the Fenchel
conjugate of f. The bound is tight at T*(x) = f'(p(x)/q(x)). Table 2 / Table 6 of the paper:

    divergence        f(u)                              g_f(v)               f*(t)
    KL                u log u                           v                    exp(t - 1)
    reverse KL        -log u                            -exp(-v)             -1 - log(-t)
    Jensen-Shannon    u log u - (u+1) log((u+1)/2)      log 2 - log(1+e^-v)  -log(2 - exp(t))
    Pearson chi^2     (u - 1)^2                         v                    t^2/4 + t
    sq. Hellinger     (sqrt(u) - 1)^2                   1 - exp(-v)          t / (1 - t)
    GAN               u log u - (u+1) log(u+1)          -log(1+e^-v)         -log(1 - exp(t))

What each measures, in the course's terms (JSD = ½KL(P‖M) + ½KL(Q‖M), M = (P+Q)/2, in [0, log 2]): the
paper's "Jensen-Shannon" row gives D_f = ∫ p log(2p/(p+q)) + q log(2q/(p+q)) = 2·JSD, twice the course's JSD;
the "GAN" row gives D_f = 2·JSD − log 4, the value of the minimax GAN game at the optimal D (its critic T is
log D with D = σ(v), so E_P[T] − E_Q[f*(T)] = E_P[log D] + E_Q[log(1 − D)]). `measures` says so, and
`to_jsd` turns a bound on D_f into one on the JSD for those two.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from genviz.core.config import param
from genviz.core.gan.gan import GAN, GANConfig

LN2 = math.log(2.0)


@dataclass(frozen=True)
class Divergence:
    """One f-divergence: f, f', the activation g_f, the conjugate f*, and log_ratio = log (f')^-1 (T -> log p/q).

    `measures`: what D_f is, in words; `u_min`: f's domain is u > u_min (−inf: all of ℝ); `to_jsd`: D_f ↦ JSD
    where D_f is a function of the JSD (else None)."""

    f: callable
    f_prime: callable
    activation: callable
    conjugate: callable
    log_ratio: callable
    measures: str = ""
    u_min: float = 0.0
    to_jsd: callable = None


def _xlogx(u):
    return torch.where(u > 0, u * torch.log(u.clamp_min(1e-30)), torch.zeros_like(u))


DIVERGENCES = {
    "kl": Divergence(lambda u: _xlogx(u), lambda u: 1 + torch.log(u), lambda v: v,
                     lambda t: torch.exp(t - 1), lambda t: t - 1, measures="KL(P‖Q)"),
    "reverse_kl": Divergence(lambda u: -torch.log(u), lambda u: -1 / u, lambda v: -torch.exp(-v),
                             lambda t: -1 - torch.log(-t), lambda t: -torch.log(-t), measures="KL(Q‖P)"),
    "js": Divergence(lambda u: _xlogx(u) - (u + 1) * torch.log((u + 1) / 2),
                     lambda u: torch.log(2 * u / (1 + u)), lambda v: LN2 - F.softplus(-v),
                     lambda t: -torch.log(2 - torch.exp(t)), lambda t: t - torch.log(2 - torch.exp(t)),
                     measures="2·JSD(P, Q) (twice the course's JSD)", to_jsd=lambda d: d / 2),
    # Pearson's f is a polynomial, defined on all of ℝ (the paper's conjugate t²/4 + t is the sup over u ∈ ℝ)
    "pearson": Divergence(lambda u: (u - 1) ** 2, lambda u: 2 * (u - 1), lambda v: v,
                          lambda t: 0.25 * t * t + t, lambda t: torch.log((t / 2 + 1).clamp_min(1e-30)),
                          measures="χ²(P‖Q)", u_min=-math.inf),
    "hellinger": Divergence(lambda u: (torch.sqrt(u) - 1) ** 2, lambda u: 1 - 1 / torch.sqrt(u),
                            lambda v: 1 - torch.exp(-v), lambda t: t / (1 - t), lambda t: -2 * torch.log(1 - t),
                            measures="squared Hellinger H²(P, Q)"),
    "gan": Divergence(lambda u: _xlogx(u) - _xlogx(u + 1), lambda u: torch.log(u / (u + 1)),
                      lambda v: -F.softplus(-v), lambda t: -torch.log(-torch.expm1(t)),
                      lambda t: t - torch.log(-torch.expm1(t)),
                      measures="2·JSD(P, Q) − log 4 (the minimax GAN's value)",
                      to_jsd=lambda d: (d + 2 * LN2) / 2),
}


def bound(div: Divergence, t_p: torch.Tensor, t_q: torch.Tensor) -> torch.Tensor:
    """The variational estimate E_P[T] - E_Q[f*(T)] from critic values at P samples and Q samples."""
    return t_p.mean() - div.conjugate(t_q).mean()


def curves(div: Divergence, n: int = 200) -> dict[str, np.ndarray]:
    """f on u in (0, 4] and f* on the image of g_f over v in [-4, 4], for plotting."""
    u = torch.linspace(0.02, 4.0, n, dtype=torch.float64)
    t = div.activation(torch.linspace(-4.0, 4.0, n, dtype=torch.float64))
    return {"f_u": u.float().numpy(), "f": div.f(u).float().numpy(),
            "fstar_t": t.float().numpy(), "fstar": div.conjugate(t).float().numpy()}


@dataclass
class FGANConfig(GANConfig):
    divergence: str = param("js", choices=tuple(DIVERGENCES),
                            help="which f-divergence G minimises: kl, reverse_kl, js = 2·JSD (twice the course's "
                                 "JSD), pearson χ², hellinger H², gan = 2·JSD − log 4 (the minimax GAN)")
    loss: str = param("nonsaturating", choices=("minimax", "nonsaturating"),
                      help="G loss: minimax -E_Q[f*(T)] (the saddle point) or non-saturating -E_Q[T]")


class FGAN(GAN):
    """GAN whose D is the critic V; T = g_f(V). Heatmaps show p/(p+q) from T via (f')^-1, comparable to D*."""

    @property
    def div(self) -> Divergence:
        return DIVERGENCES[self.cfg.divergence]

    def d_loss(self, real_s, fake_s):
        return -bound(self.div, self.div.activation(real_s), self.div.activation(fake_s))

    def g_loss(self, fake_s):
        t = self.div.activation(fake_s)
        return -self.div.conjugate(t).mean() if self.cfg.loss == "minimax" else -t.mean()

    def prob_from_score(self, s):
        return torch.sigmoid(self.div.log_ratio(self.div.activation(s)))  # r / (1 + r), r = p/q

    def score_metrics(self, real_s, fake_s) -> dict[str, float]:
        out = {"d_real": float(self.prob_from_score(real_s).mean()),
               "d_fake": float(self.prob_from_score(fake_s).mean()),
               "bound": float(-self.d_loss(real_s, fake_s))}
        if self.div.to_jsd is not None:  # the same bound as a bound on the JSD, comparable with JSD (KDE)
            out["jsd_bound"] = float(self.div.to_jsd(out["bound"]))
        return out

    def visualize(self, data, view):
        return {**super().visualize(data, view), **curves(self.div)}
