"""Checks every binary autoregressive model meets (imported by the per-model test files)."""
from __future__ import annotations

import itertools

import torch


def all_binary(n: int, dtype=torch.float64) -> torch.Tensor:
    """(2^n, n) every binary configuration."""
    return torch.tensor(list(itertools.product([0, 1], repeat=n)), dtype=dtype)


def randomize(model, seed: int = 0, std: float = 1.0):
    """Random weights (not the training init), so triangular structure can't come from zeros."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * std)
    return model


def check_normalized(model, n: int):
    total = model.log_prob(all_binary(n)).exp().sum()
    assert abs(float(total.detach()) - 1.0) < 1e-10, float(total.detach())


def check_jacobian_triangular(model, n: int, seed: int = 0):
    """∂logit_i/∂x_j in generation order is exactly 0 on and above the diagonal, and not all 0 below it."""
    x = torch.randn(n, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    jac = model.in_order(model.jacobian(x))
    assert torch.equal(jac.triu(), torch.zeros_like(jac)), jac
    assert jac.tril(-1).abs().sum() > 0


def check_sampling_follows_order(model, n_samples: int = 64):
    """Variables are drawn in model.order, and the conditional recorded at draw time equals the one a full
    pass computes on the finished sample: logit d used only variables drawn before d."""
    drawn = []
    inner = model.next_logit

    def spy(x, d, state):
        drawn.append(d)
        return inner(x, d, state)

    model.next_logit = spy
    try:
        x, p = model.sample_in_order(n_samples, torch.Generator().manual_seed(1))
    finally:
        del model.next_logit
    assert drawn == model.order.tolist()
    assert torch.allclose(p, torch.sigmoid(model.logits(x)), atol=1e-10)
    t = len(drawn) // 2
    part = model.reveal(x, model.order, t)
    assert torch.equal(part[:, model.order[:t]], x[:, model.order[:t]])
    assert (part[:, model.order[t:]] == -1).all()


def check_sample_frequencies(model, n: int, draws: int = 20000):
    """Empirical frequencies of model.sample match exp(log_prob) within 5 binomial standard deviations."""
    s = model.sample(draws, torch.Generator().manual_seed(0)).reshape(draws, n)
    code = (s * 2 ** torch.arange(n - 1, -1, -1, dtype=s.dtype)).sum(1).long()
    freq = torch.bincount(code, minlength=2 ** n).double() / draws
    p = model.log_prob(all_binary(n)).exp()
    sd = torch.sqrt(p * (1 - p) / draws) + 1e-4
    assert ((freq - p).abs() < 5 * sd).all(), (freq - p).abs().max()


def mnist_slice(n: int = 512):
    """The first n real MNIST training images read straight from the raw IDX file (fast: no full load),
    as a Dataset with dynamic binarization; the last 256 of them serve as validation."""
    import os
    from pathlib import Path

    import numpy as np

    from genviz.core.data import Dataset

    path = Path(os.environ["GENVIZ_DATA"]) / "MNIST" / "raw" / "train-images-idx3-ubyte"
    raw = np.fromfile(path, dtype=np.uint8, count=16 + (n + 256) * 784, offset=0)[16:]
    x = torch.from_numpy(raw.reshape(-1, 1, 28, 28).astype(np.float32) / 255)
    return Dataset("mnist", "image", x[:n], x[n:], x[n:], binarize=True)


def check_loss_falls(model, data, steps: int = 40, lr: float = 3e-3):
    from genviz.core.config import TrainConfig

    torch.manual_seed(0)
    train = TrainConfig(lr=lr, batch_size=64, steps=steps)
    opts = model.configure_optimizers(train)
    gen = torch.Generator().manual_seed(0)
    x_val = torch.bernoulli(data.val, generator=torch.Generator().manual_seed(0))
    before = model.evaluate(x_val)["nll"]
    for _ in range(steps):
        model.train_step(model.fetch_batch(data, 64, gen), opts, train)
    after = model.evaluate(x_val)["nll"]
    assert after < 0.7 * before, (before, after)
    return before, after
