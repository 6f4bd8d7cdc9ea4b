"""Semi-supervised VAE (Kingma et al. 2014, M2), as in the course homework.

p(x, y, z) = p(y) p(z) p(x|y, z) with p(y) uniform over 10 classes; q(y, z|x) = q(y|x) q(z|x, y).
Unlabelled x: NELBO = KL(q(y|x) || p(y)) + Σ_y q(y|x) [Rec(x, y) + KL(q(z|x,y) || p(z))].
Objective: gen_weight · NELBO(unlabelled batch) + α · CE(q(y|x_l), y_l) on the 100 labelled digits.
gen_weight = 0 is the supervised-only baseline (the classifier sees only the 100 labels).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from genviz.core.config import param
from genviz.core.data import DataError
from genviz.core.vae import nets, viz
from genviz.core.vae.vae import VAE, VAEConfig

N_CLASSES = 10


@dataclass
class SSVAEConfig(VAEConfig):
    z_dim: int = param(64, lo=1, hi=512, help="latent size (the homework uses 64)")
    alpha: float = param(100.0, lo=0.0, hi=1e5, help="weight of the labelled cross-entropy α·log q(y|x)")
    gen_weight: float = param(1.0, lo=0.0, hi=1e3, help="weight of the ELBO (0 = supervised-only baseline)")
    labels_per_class: int = param(10, lo=1, hi=5000, unit="labels", help="labelled training digits per class")
    label_seed: int = param(0, lo=0, hi=2**31 - 1, help="which digits are the labelled ones")


def labelled_split(labels: torch.Tensor, per_class: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(labelled indices, unlabelled indices): `per_class` random examples of each class, the rest unlabelled."""
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(len(labels), generator=g)
    lab = []
    for c in range(N_CLASSES):
        idx = perm[labels[perm].cpu() == c][:per_class]
        if len(idx) < per_class:
            raise DataError(f"class {c} has only {len(idx)} training examples; lower labels_per_class")
        lab.append(idx)
    lab = torch.cat(lab)
    mask = torch.ones(len(labels), dtype=torch.bool)
    mask[lab] = False
    return lab, torch.nonzero(mask).squeeze(1)


class SSVAE(VAE):
    """Encoder q(z|x, y), decoder p(x|z, y), classifier q(y|x); y is one-hot (batch, 10)."""

    def __init__(self, cfg: SSVAEConfig, data_shape):
        super().__init__(cfg, data_shape)
        hidden = cfg.hidden or 300
        # ReLU, not the encoder's ELU: the homework's classifier (nns/v1.py), whose accuracy we compare to
        self.cls = nets.mlp([self.data_dim] + [hidden] * cfg.depth + [N_CLASSES], act=nn.ReLU)
        self._split = None

    def enc_in(self):
        return self.data_dim + N_CLASSES

    def dec_in(self):
        return self.z_dim + N_CLASSES

    # -- data -------------------------------------------------------------------------------------
    def split(self, data) -> tuple[torch.Tensor, torch.Tensor]:
        if "train" not in data.labels:
            raise DataError(f"the SSVAE needs labelled data; {data.name} has no labels")
        if self._split is None or self._split[0] is not data.labels["train"]:
            lab, unl = labelled_split(data.labels["train"], self.cfg.labels_per_class, self.cfg.label_seed)
            self._split = (data.labels["train"], lab.to(data.train.device), unl.to(data.train.device))
        return self._split[1], self._split[2]

    def fetch_batch(self, data, batch_size, generator):
        """(unlabelled batch, all labelled images, their labels), binarized afresh at each step."""
        lab, unl = self.split(data)
        pick = torch.randint(0, len(unl), (batch_size,), generator=generator).to(unl.device)
        xu, xl = data.train[unl[pick]], data.train[lab]
        if data.binarize:
            g = generator if xu.device.type == "cpu" else None
            xu, xl = torch.bernoulli(xu, generator=g), torch.bernoulli(xl, generator=g)
        return xu, xl, data.labels["train"][lab]

    # -- the model's pieces -----------------------------------------------------------------------
    def encode(self, x, y=None):
        """q(z|x, y): y one-hot (batch, 10); without y, the classifier's most likely class."""
        y = self.predicted(x) if y is None else y
        return nets.gaussian_parameters(self.enc(torch.cat([x.flatten(1), y], -1)))

    def predicted(self, x) -> torch.Tensor:
        return F.one_hot(self.cls(x.flatten(1)).argmax(-1), N_CLASSES).float()

    def decode(self, z, y=None):
        if y is None:  # prior draws / clicks: class i % 10, so a grid of samples shows every digit
            y = F.one_hot(torch.arange(z.shape[-2], device=z.device) % N_CLASSES, N_CLASSES).float()
        return self.dec(torch.cat([z, y.expand(*z.shape[:-1], N_CLASSES)], -1))

    def log_px_given_z(self, x, z, y=None):
        return nets.log_bernoulli_with_logits(x.flatten(1), self.decode(z, y))

    def negative_elbo_bound(self, x):
        """Labels marginalised under q(y|x): (NELBO, KL_z + KL_y, Rec), batch means."""
        b = len(x)
        logits = self.cls(x.flatten(1))
        qy, log_qy = F.softmax(logits, -1), F.log_softmax(logits, -1)
        y = torch.eye(N_CLASSES, device=x.device).repeat_interleave(b, 0)  # (10b, 10): class-major
        xr = x.flatten(1).repeat(N_CLASSES, 1)
        qm, qv = self.encode(xr, y)
        z = nets.sample_gaussian(qm, qv)
        rec = -nets.log_bernoulli_with_logits(xr, self.decode(z, y)).view(N_CLASSES, b).T  # (b, 10)
        kl_z = self.kl(qm, qv, z).view(N_CLASSES, b).T
        kl_y = (qy * (log_qy + math.log(N_CLASSES))).sum(-1)
        rec, kl = (qy * rec).sum(-1), kl_y + (qy * kl_z).sum(-1)
        return (rec + kl).mean(), kl.mean(), rec.mean()

    def loss(self, batch):
        xu, xl, yl = batch
        ce = F.cross_entropy(self.cls(xl.flatten(1)), yl)
        terms = {"ce": ce.detach()}
        loss = self.cfg.alpha * ce
        if self.cfg.gen_weight > 0:  # the baseline skips the (10x costlier) ELBO altogether
            nelbo, kl, rec = self.negative_elbo_bound(xu)
            loss = loss + self.cfg.gen_weight * nelbo
            terms.update(nelbo=nelbo.detach(), rec=rec.detach(), kl=kl.detach())
        return loss, terms

    def log_weights(self, x, k):
        """Proposal q(y|x) q(z|x, y): log p(x, y, z) - log q(y, z|x) for k draws, (k, batch)."""
        logits = self.cls(x.flatten(1))
        ys = torch.distributions.Categorical(logits=logits).sample((k,))  # (k, batch)
        y = F.one_hot(ys, N_CLASSES).float()
        qm, qv = nets.gaussian_parameters(self.enc(torch.cat([x.flatten(1).expand(k, -1, -1), y], -1)))
        z = nets.sample_gaussian(qm, qv)
        log_q = nets.log_normal(z, qm, qv) + F.log_softmax(logits, -1).gather(1, ys.T).T
        return self.log_px_given_z(x, z, y) + self.log_prior(z) - math.log(N_CLASSES) - log_q

    # -- evaluation -------------------------------------------------------------------------------
    @torch.no_grad()
    def accuracy(self, x, y, batch: int = 2000) -> float:
        hits = sum(int((self.cls(x[i:i + batch].flatten(1)).argmax(-1) == y[i:i + batch]).sum())
                   for i in range(0, len(x), batch))
        return hits / max(len(x), 1)

    @torch.no_grad()
    def val_metrics(self, data):
        x = viz.fixed_val(data, 2000)
        out = {"acc": self.accuracy(x, data.labels["val"][:2000])}
        if self.cfg.gen_weight > 0:
            torch.manual_seed(0)
            nelbo, kl, rec = self.negative_elbo_bound(x[:300])
            out.update(nelbo=float(nelbo), kl=float(kl), rec=float(rec))
        return out

    def latent_means(self, x):
        return self.encode(x)[0]

    def reconstruct(self, x):
        y = self.predicted(x)
        return torch.sigmoid(self.decode(self.encode(x, y)[0], y))
