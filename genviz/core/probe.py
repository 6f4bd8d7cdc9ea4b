"""Linear probes: how much class information a model's features hold, read by logistic regression.

A probe is a multinomial logistic regression trained on frozen features f(x) (standardized with the
training features' mean and std) and scored on held-out examples: test accuracy ≈ 1/10 means the features
say nothing about the digit, ≈ the pixels' own ~0.9 means a linear read-out finds it. Feature hooks:
  - gan:   the discriminator's penultimate layer, D.body(x)        (n, 2·ch·7·7) for the DCGAN critic
  - bigan: the encoder's code, E(x)                                (n, latent)
  - vae:   the encoder's means, μ(x) of q(z|x)                      (n, z_dim)
  - pixels: x flattened, the baseline                               (n, 784)
All training uses its own torch.Generator (probe) or a TrainingStream (small models): the global torch
random stream is left as it was.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


# -- feature hooks: model, x (n, 1, 28, 28) -> (n, k) ------------------------------------------------------
def gan_features(model, x: torch.Tensor) -> torch.Tensor:
    """The critic's body, the layer under its last linear: what D has learned to look at."""
    pack = getattr(model.cfg, "pack", 1)
    return model.D.body(x.repeat(1, pack, 1, 1) if pack > 1 else x).flatten(1)


def bigan_features(model, x: torch.Tensor) -> torch.Tensor:
    return model.E(x).flatten(1)


def vae_features(model, x: torch.Tensor) -> torch.Tensor:
    return model.encode(x)[0]


def pixel_features(model, x: torch.Tensor) -> torch.Tensor:
    return x.flatten(1)


HOOKS = {"gan": gan_features, "bigan": bigan_features, "vae": vae_features, "pixels": pixel_features}


def kind_of(model) -> str:
    """Which hook reads a trained model (e.g. one loaded from a run's checkpoint): 'gan', 'bigan' or 'vae';
    ValueError for anything else (a 2D model, a CycleGAN, an EBM, ...)."""
    if tuple(getattr(model, "data_shape", ())) != (1, 28, 28):
        raise ValueError("the probe reads MNIST models: this one was trained on other data")
    if hasattr(model, "E") and hasattr(model, "D"):
        return "bigan"
    if getattr(model, "family", "") == "gan" and hasattr(getattr(model, "D", None), "body") \
            and getattr(model.D, "z_dim", 1) == 0:
        return "gan"
    if getattr(model, "family", "") == "vae" and hasattr(model, "encode"):
        return "vae"
    raise ValueError(f"no feature hook for {type(model).__name__}: the probe reads a GAN's discriminator, "
                     "BiGAN's encoder or a VAE's encoder")


@torch.no_grad()
def extract(hook, model, x: torch.Tensor, batch: int = 500) -> torch.Tensor:
    """hook(model, x) in batches, in eval mode (batch norm uses its running statistics), as float64 (n, k)."""
    was = model.training if model is not None else False
    if model is not None:
        model.eval()
    try:
        dtype = model.dtype if model is not None else x.dtype
        return torch.cat([hook(model, x[i:i + batch].to(dtype)).double() for i in range(0, len(x), batch)])
    finally:
        if model is not None and was:
            model.train()


# -- the probe ------------------------------------------------------------------------------------------
def fit_probe(f_train: torch.Tensor, y_train: torch.Tensor, f_test: torch.Tensor, y_test: torch.Tensor,
              n_classes: int = 10, steps: int = 300, lr: float = 0.05, weight_decay: float = 1e-4,
              seed: int = 0) -> dict:
    """Full-batch Adam on the cross-entropy of a linear map; returns train and test accuracy and the weights."""
    mean, std = f_train.mean(0), f_train.std(0).clamp_min(1e-6)  # constant features stay 0, not inf
    a, b = (f_train - mean) / std, (f_test - mean) / std
    g = torch.Generator().manual_seed(seed)
    w = (0.01 * torch.randn(a.shape[1], n_classes, generator=g, dtype=a.dtype)).requires_grad_(True)
    bias = torch.zeros(n_classes, dtype=a.dtype, requires_grad=True)
    opt = torch.optim.Adam([w, bias], lr=lr, weight_decay=weight_decay)
    for _ in range(steps):
        loss = F.cross_entropy(a @ w + bias, y_train)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    with torch.no_grad():
        acc = lambda f, y: float(((f @ w + bias).argmax(1) == y).double().mean())  # noqa: E731
        return {"train_acc": acc(a, y_train), "test_acc": acc(b, y_test), "loss": float(loss.detach())}


def probe_accuracy(feature_fn, x_train, y_train, x_test, y_test, **kw) -> dict:
    """Given a feature function x -> (n, k) and labelled data: the probe's accuracies and the features."""
    f_train, f_test = feature_fn(x_train).double(), feature_fn(x_test).double()
    return {**fit_probe(f_train, y_train, f_test, y_test, **kw), "dim": int(f_train.shape[1]),
            "test_features": f_test}


def pca_2d(f: torch.Tensor) -> np.ndarray:
    """The first two principal components of features (n, k) -> (n, 2) (a 1-d feature gets a zero column)."""
    f = f.double() - f.double().mean(0)
    _, _, v = torch.linalg.svd(f, full_matrices=False)
    z = f @ v[:2].T
    if z.shape[1] < 2:
        z = torch.cat([z, torch.zeros(len(z), 2 - z.shape[1], dtype=z.dtype)], 1)
    return z.numpy()


# -- small models trained for a few steps ------------------------------------------------------------------
SMALL = {  # registry name, hook, config overrides (small enough to train a few hundred steps on a CPU)
    "gan": ("dcgan", "gan", {"hidden": 32}),
    "bigan": ("bigan", "bigan", {"hidden": 32, "latent_dim": 32}),
    "vae": ("vae", "vae", {"hidden": 256}),
}


def train_small(kind: str, data, steps: int, seed: int = 0, batch_size: int = 64, callback=None):
    """Build the registry model for `kind` and train it `steps` steps on data (images); callback(step) after each
    step may return True to stop early. The training noise comes from a TrainingStream seeded `seed`."""
    from genviz.core.train import train_steps

    name, _, overrides = SMALL[kind]
    return train_steps(name, data, steps, seed, callback, {"batch_size": batch_size}, **overrides)
