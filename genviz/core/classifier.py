"""A small MNIST digit classifier, trained in genviz and cached, for sample-quality scores.

`scores(model, images, ref_images)` gives, in the classifier's terms (Salimans et al. 2016; Heusel et al.
2017, with this classifier standing in for Inception):
  - is:        exp(E_x KL(p(y|x) || p(y)))  — 10 at best (confident and all classes equally often)
  - class_hist: fraction of samples predicted as each digit (10,)
  - fid:       Fréchet distance between Gaussians fitted to penultimate features of images and ref_images
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

CACHE_NAME = "mnist_classifier.pt"


class DigitClassifier(nn.Module):
    """x (n, 1, 28, 28) in [0, 1] -> logits (n, 10); `features` gives the 128-d penultimate layer."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 14x14
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 7x7
            nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU())
        self.head = nn.Linear(128, 10)

    def features(self, x):
        return self.body(x)

    def forward(self, x):
        return self.head(self.body(x))


def new_classifier(seed: int = 0) -> DigitClassifier:
    """A DigitClassifier with PyTorch's default initialisation drawn from its own generator seeded `seed`.

    Built on the meta device first, so torch's global random stream is neither read nor advanced.
    """
    with torch.device("meta"):
        model = DigitClassifier()
    model = model.to_empty(device="cpu")
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):  # what their reset_parameters does
                nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=g)
                bound = 1 / math.sqrt(m.weight[0].numel())  # 1 / sqrt(fan_in)
                nn.init.uniform_(m.bias, -bound, bound, generator=g)
    return model


def train_classifier(data, steps: int = 1500, batch_size: int = 128, seed: int = 0) -> DigitClassifier:
    """Adam on data.train (non-binarised images) with labels; a couple of epochs' worth reaches ~99 %."""
    model, gen = new_classifier(seed), torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(steps):
        idx = torch.randint(0, len(data.train), (batch_size,), generator=gen)
        loss = F.cross_entropy(model(data.train[idx]), data.labels["train"][idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return model.eval()


def get_classifier(cache_dir, data, steps: int = 1500, batch_size: int = 128) -> DigitClassifier:
    """The cached classifier in cache_dir (trained on `data`, MNIST, and saved there the first time)."""
    path = Path(cache_dir) / CACHE_NAME
    if path.is_file():
        model = new_classifier()
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        return model.eval()
    model = train_classifier(data, steps, batch_size)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(model.state_dict(), tmp)
    tmp.replace(path)  # atomic: a killed run never leaves half a file
    return model


@torch.no_grad()
def accuracy(model, images, labels, batch: int = 1000) -> float:
    pred = torch.cat([model(images[i:i + batch]).argmax(1) for i in range(0, len(images), batch)])
    return float((pred == labels).float().mean())


@torch.no_grad()
def _outputs(model, images, batch: int = 1000):
    feats, probs = [], []
    for i in range(0, len(images), batch):
        h = model.features(images[i:i + batch].float().cpu())
        feats.append(h.double())
        probs.append(F.softmax(model.head(h), 1).double())
    return torch.cat(feats), torch.cat(probs)


def inception_score(probs: torch.Tensor) -> float:
    """exp(E_x KL(p(y|x) || p(y))) from class probabilities (n, C)."""
    py = probs.mean(0, keepdim=True)
    kl = (probs * (torch.log(probs.clamp_min(1e-12)) - torch.log(py.clamp_min(1e-12)))).sum(1)
    return float(torch.exp(kl.mean()))


def frechet_distance(f1: torch.Tensor, f2: torch.Tensor) -> float:
    """|mu1 - mu2|^2 + Tr(S1 + S2 - 2 (S1 S2)^1/2) for features (n, d); float64, eigen-based matrix root."""
    mu1, mu2 = f1.mean(0), f2.mean(0)
    s1, s2 = torch.cov(f1.T), torch.cov(f2.T)
    w, v = torch.linalg.eigh(s1)
    r1 = (v * w.clamp_min(0).sqrt()) @ v.T  # S1^1/2
    # Tr (S1 S2)^1/2 = Tr (S1^1/2 S2 S1^1/2)^1/2, whose argument is symmetric PSD
    tr_cross = torch.linalg.eigvalsh(r1 @ s2 @ r1).clamp_min(0).sqrt().sum()
    return float((mu1 - mu2).pow(2).sum() + torch.trace(s1) + torch.trace(s2) - 2 * tr_cross)


def scores(model, images: torch.Tensor, ref_images: torch.Tensor) -> dict:
    """{'is', 'class_hist' (10,), 'classes_present', 'fid'} for images (n, 1, 28, 28) in [0, 1]."""
    f, p = _outputs(model, images)
    fr, _ = _outputs(model, ref_images)
    hist = torch.bincount(p.argmax(1), minlength=10).double() / len(p)
    return {"is": inception_score(p), "class_hist": hist.numpy().astype(np.float32),
            "classes_present": int((hist > 0).sum()), "fid": frechet_distance(f, fr)}
