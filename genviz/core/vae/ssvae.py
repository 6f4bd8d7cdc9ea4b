"""Semi-supervised VAE (Kingma et al. 2014, M2), as in the course homework.

p(x, y, z) = p(y) p(z) p(x|y, z) with p(y) uniform over 10 classes; q(y, z|x) = q(y|x) q(z|x, y).
Unlabelled x: NELBO = KL(q(y|x) || p(y)) + Σ_y q(y|x) [Rec(x, y) + KL(q(z|x,y) || p(z))].
Objective: gen_weight · NELBO(unlabelled batch) + α · CE(q(y|x_l), y_l) on the 100 labelled digits.
gen_weight = 0 is the supervised-only baseline (the classifier sees only the 100 labels).
Predictions and accuracy use a Polyak (exponential moving) average of the classifier's weights: with
α = 100 on 100 digits the last step's weights swing by a point or more of test accuracy from one
checkpoint to the next (93.3% averaged vs 90.6% last at step 30k of one bench run); the average is
steadier and a little better. It never feeds back into training.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F
from torch.optim.swa_utils import AveragedModel

from genviz.core import fast_ops
from genviz.core.config import param
from genviz.core.data import DataError, binarize, to_device
from genviz.core.vae import course, nets, viz
from genviz.core.vae.vae import VAE, VAEConfig

N_CLASSES = 10
LABEL_SETS = ("random", "course")
MNIST_TRAIN = 60_000  # images in the original training file


@dataclass
class SSVAEConfig(VAEConfig):
    z_dim: int = param(64, lo=1, hi=512, help="latent size (the homework uses 64)")
    alpha: float = param(100.0, lo=0.0, hi=1e5, help="weight of the labelled cross-entropy α·log q(y|x)")
    gen_weight: float = param(1.0, lo=0.0, hi=1e3, help="weight of the ELBO (0 = supervised-only baseline)")
    labels_per_class: int = param(10, lo=1, hi=5000, unit="labels", help="labelled training digits per class")
    label_set: str = param("random", choices=LABEL_SETS,
                           help="random: labels_per_class digits drawn by label_seed, the rest unlabelled; "
                                "course: the homework's 100 hand-picked MNIST digits, all 60,000 unlabelled")
    label_seed: int = param(0, lo=0, hi=2**31 - 1, help="which digits are the labelled ones (random set)")
    cls_average: float = param(0.999, lo=0.0, hi=0.99999,
                               help="EMA decay of the classifier weights used for predictions (0 = last weights)")


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


def original_order(seed: int) -> torch.Tensor:
    """perm (60000,): genviz's MNIST validation + training images are the original training file's images
    perm[0], perm[1], … (genviz.core.images.load_images draws this permutation, then holds out the first
    VAL_SIZE; the tests check the images against the raw file)."""
    return torch.randperm(MNIST_TRAIN, generator=torch.Generator().manual_seed(seed))


def course_split(data) -> tuple[torch.Tensor, torch.Tensor]:
    """(labelled, unlabelled) positions in the pool val ⧺ train for the homework's 100 labelled digits: the
    hand-picked original indices mapped through genviz's permutation; unlabelled: all 60,000 training-file
    images (val included, labels unused), as the homework trains on."""
    n = len(data.val) + len(data.train)
    if data.name != "mnist" or n != MNIST_TRAIN:
        raise DataError(f"the course's labelled digits are MNIST training images; {data.name} has {n:,} "
                        "training and validation images (choose mnist, or label_set=random)")
    perm = original_order(int(data.spec.get("seed", 0)))
    pool_labels = torch.cat([data.labels["val"], data.labels["train"]]).cpu()
    file_labels = torch.empty_like(pool_labels)
    file_labels[perm] = pool_labels
    where = torch.empty_like(perm)
    where[perm] = torch.arange(n)  # where[i] = pool position of original image i
    lab = where[course.train_indices(file_labels)]
    if not torch.equal(pool_labels[lab], torch.arange(N_CLASSES).repeat_interleave(10)):
        raise DataError("the MNIST images are not in the order genviz draws them; the course's digits cannot be found")
    return lab, torch.arange(n)


def warmup_ema(decay: float):
    """AveragedModel's update with decay min(decay, (1 + n) / (10 + n)) after n updates: early on the
    average follows the fast-moving weights instead of holding on to the random initialisation."""

    @torch.no_grad()
    def update(avg_params, params, n_averaged):
        d = min(decay, (1.0 + float(n_averaged)) / (10.0 + float(n_averaged)))
        torch._foreach_lerp_(avg_params, params, 1.0 - d)

    return update


class SSVAE(VAE):
    """Encoder q(z|x, y), decoder p(x|z, y), classifier q(y|x); y is one-hot (batch, 10)."""

    def __init__(self, cfg: SSVAEConfig, data_shape):
        super().__init__(cfg, data_shape)
        hidden = cfg.hidden or 300
        # ReLU, not the encoder's ELU: the homework's classifier (nns/v1.py), whose accuracy we compare to
        self.cls = nets.mlp([self.data_dim] + [hidden] * cfg.depth + [N_CLASSES], act=nn.ReLU)
        self.cls_avg = None
        if cfg.cls_average > 0:
            self.cls_avg = AveragedModel(self.cls, multi_avg_fn=warmup_ema(cfg.cls_average))
            self.cls_avg.requires_grad_(False)  # a copy the optimizer and the gradient hooks leave alone
        self._split = None

    @property
    def classifier(self) -> nn.Module:
        """q(y|x) for predictions: the averaged weights once training has begun, else the live ones."""
        if self.cls_avg is None or int(self.cls_avg.n_averaged) == 0:
            return self.cls
        return self.cls_avg.module

    def train_step(self, batch, optimizers, train):
        out = super().train_step(batch, optimizers, train)
        if self.cls_avg is not None:
            self.cls_avg.update_parameters(self.cls)
        return out

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Checkpoints from before the averaged classifier start their average at the saved weights."""
        if self.cls_avg is not None and "cls_avg.n_averaged" not in state_dict:
            state_dict = dict(state_dict)
            state_dict.update({f"cls_avg.module.{k[len('cls.'):]}": v for k, v in state_dict.items()
                               if k.startswith("cls.")})
            state_dict["cls_avg.n_averaged"] = torch.tensor(1)
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    def enc_in(self):
        return self.data_dim + N_CLASSES

    def dec_in(self):
        return self.z_dim + N_CLASSES

    # -- data -------------------------------------------------------------------------------------
    def split(self, data) -> tuple[torch.Tensor, torch.Tensor]:
        """The random set's (labelled, unlabelled) indices into data.train."""
        if self.cfg.label_set != "random":
            raise ValueError("the course set includes validation images: use pool_split")
        lab, unl = self.pool_split(data)
        return lab - len(data.val), unl - len(data.val)

    def pool_split(self, data) -> tuple[torch.Tensor, torch.Tensor]:
        """(labelled, unlabelled) positions in the pool val ⧺ train (the random set draws from train only)."""
        if "train" not in data.labels:
            raise DataError(f"the SSVAE needs labelled data; {data.name} has no labels")
        if self._split is None or self._split[0] is not data.labels["train"]:
            if self.cfg.label_set == "course":
                lab, unl = course_split(data)
            else:
                lab, unl = labelled_split(data.labels["train"], self.cfg.labels_per_class, self.cfg.label_seed)
                lab, unl = lab + len(data.val), unl + len(data.val)
            self._split = (data.labels["train"], lab.to(data.train.device), unl.to(data.train.device))
        return self._split[1], self._split[2]

    @staticmethod
    def pool(data, pos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(images, labels) at positions of the pool val ⧺ train, without concatenating the splits."""
        nv = len(data.val)
        in_val = pos < nv
        if not in_val.any():  # the random set, and most unlabelled batches: plain indexing
            return data.train[pos - nv], data.labels["train"][pos - nv]
        back = torch.argsort(torch.cat([torch.nonzero(in_val), torch.nonzero(~in_val)]).squeeze(1))
        x = torch.cat([data.val[pos[in_val]], data.train[pos[~in_val] - nv]])[back]  # gathered from the data (no new
        y = torch.cat([data.labels["val"][pos[in_val]], data.labels["train"][pos[~in_val] - nv]])[back]
        return x, y  # float32 buffer): a float64 model then casts the data, as every model does

    def fetch_batch(self, data, batch_size, generator):
        """(unlabelled batch, all labelled images, their labels), binarized afresh at each step."""
        lab, unl = self.pool_split(data)
        pick = to_device(torch.randint(0, len(unl), (batch_size,), generator=generator), unl.device)
        xu, (xl, yl) = self.pool(data, unl[pick])[0], self.pool(data, lab)
        if data.binarize:
            xu, xl = binarize(xu, generator), binarize(xl, generator)
        return xu.to(self.dtype), xl.to(self.dtype), yl

    # -- the model's pieces -----------------------------------------------------------------------
    def encode(self, x, y=None):
        """q(z|x, y): y one-hot (batch, 10); without y, the classifier's most likely class."""
        y = self.predicted(x) if y is None else y
        return nets.gaussian_parameters(self.enc(torch.cat([x.flatten(1), y], -1)))

    def encode_every_class(self, x):
        """q(z|x, y) for every class at once: (mean, variance), each (10·batch, z_dim), class-major.

        Same as encode(x repeated, eye repeated) but the first layer's x-part W_x x is computed once and
        shared by the 10 classes (each adds its own column of W_y): a training step is ~15% faster.
        """
        first, rest = self.enc[0], self.enc[1:]
        w_x, w_y = first.weight[:, :self.data_dim], first.weight[:, self.data_dim:]
        h = F.linear(x.flatten(1), w_x, first.bias)  # (batch, hidden)
        h = (h.unsqueeze(0) + w_y.T.unsqueeze(1)).flatten(0, 1)  # (10·batch, hidden): class c adds column c
        return nets.gaussian_parameters(rest(h))

    def predicted(self, x) -> torch.Tensor:
        return F.one_hot(self.classifier(x.flatten(1)).argmax(-1), N_CLASSES).to(x.dtype)

    def decode(self, z, y=None):
        if y is None:  # prior draws / clicks: class i % 10, so a grid of samples shows every digit
            y = F.one_hot(torch.arange(z.shape[-2], device=z.device) % N_CLASSES, N_CLASSES).to(z.dtype)
        return self.dec(torch.cat([z, y.expand(*z.shape[:-1], N_CLASSES)], -1))

    def log_px_given_z(self, x, z, y=None):
        return fast_ops.log_bernoulli_with_logits(x.flatten(1), self.decode(z, y))

    def negative_elbo_bound(self, x, generator=None):
        """Labels marginalised under q(y|x): (NELBO, KL_z + KL_y, Rec), batch means."""
        b = len(x)
        logits = self.cls(x.flatten(1))
        qy, log_qy = F.softmax(logits, -1), F.log_softmax(logits, -1)
        y = torch.eye(N_CLASSES, device=x.device, dtype=x.dtype).repeat_interleave(b, 0)  # (10b, 10): class-major
        xr = x.flatten(1).repeat(N_CLASSES, 1)
        qm, qv = self.encode_every_class(x)
        z = nets.sample_gaussian(qm, qv, generator)
        rec = -fast_ops.log_bernoulli_with_logits(xr, self.decode(z, y)).view(N_CLASSES, b).T  # (b, 10)
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

    def log_weights(self, x, k, generator=None):
        """Proposal q(y|x) q(z|x, y): log p(x, y, z) - log q(y, z|x) for k draws, (k, batch)."""
        logits = self.cls(x.flatten(1))
        probs = torch.distributions.Categorical(logits=logits).probs  # what Categorical.sample draws from
        ys = torch.multinomial(probs, k, replacement=True, generator=generator).T  # (k, batch)
        y = F.one_hot(ys, N_CLASSES).to(x.dtype)
        qm, qv = nets.gaussian_parameters(self.enc(torch.cat([x.flatten(1).expand(k, -1, -1), y], -1)))
        z = nets.sample_gaussian(qm, qv, generator)
        log_q = nets.log_normal(z, qm, qv) + F.log_softmax(logits, -1).gather(1, ys.T).T
        return self.log_px_given_z(x, z, y) + self.log_prior(z) - math.log(N_CLASSES) - log_q

    # -- evaluation -------------------------------------------------------------------------------
    @torch.no_grad()
    def accuracy(self, x, y, batch: int = 2000, cls: nn.Module | None = None) -> float:
        """Fraction of x classified as y, by `cls` (default: the averaged classifier)."""
        cls = self.classifier if cls is None else cls
        hits = sum(int((cls(x[i:i + batch].flatten(1)).argmax(-1) == y[i:i + batch]).sum())
                   for i in range(0, len(x), batch))
        return hits / max(len(x), 1)

    @torch.no_grad()
    def val_metrics(self, data):
        x, y = viz.fixed_val(data, 2000, self.dtype), data.labels["val"][:2000]
        out = {"acc": self.accuracy(x, y)}
        if self.classifier is not self.cls:
            out["acc_last"] = self.accuracy(x, y, cls=self.cls)
        if self.cfg.gen_weight > 0:
            nelbo, kl, rec = self.negative_elbo_bound(x[:300], self.fixed_generator())
            out.update(nelbo=float(nelbo), kl=float(kl), rec=float(rec))
        return out

    def latent_means(self, x):
        return self.encode(x)[0]

    def reconstruct(self, x):
        y = self.predicted(x)
        return torch.sigmoid(self.decode(self.encode(x, y)[0], y))
