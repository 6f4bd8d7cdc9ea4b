"""The issue-14 labs' core code never seeds, restores or draws from torch's or numpy's global generator."""
import numpy as np
import torch
from test_global_rng import global_stream_untouched  # tests/core is on sys.path (pytest's prepend mode)

from genviz.core import probe
from genviz.core.ebm import denoise
from genviz.core.labs import coding, jsd, kl, memorization, normalizer


def test_new_labs_use_only_their_own_generators(monkeypatch):
    rng = np.random.default_rng(0)
    train, test = rng.normal(size=(50, 2)), rng.normal(size=(30, 2))
    with global_stream_untouched(monkeypatch):
        memorization.bandwidth_sweep(train, test, [0.1, 0.5], n_samples=20)
        memorization.density_grid(train, 0.3, (-3, 3, -3, 3), 16)
        p, q = coding.pair(6, 0.5, seed=1)
        coding.encode_stream(p, q, 100, seed=2)
        jsd.triangle_slack(jsd.random_triples(50, 3, 0.5, seed=3))
        normalizer.table([1, 2, 8], 8, 200)
        w, mu, cov = kl.bimodal(2)
        kl.reverse_kl_exact([1.0, 0.0], np.eye(2), w, mu, cov)
        fit = denoise.DSMEnergyFit(train, sigma=0.1, hidden=8, depth=1, batch=16, seed=0)
        fit.step(2)
        denoise.denoise(fit.energy, denoise.corrupt(test, 0.3, seed=4), steps=3)
        g = torch.Generator().manual_seed(0)
        f, y = torch.randn(40, 3, generator=g), torch.arange(40) % 4
        probe.fit_probe(f, y, f, y, n_classes=4, steps=5)
        probe.pca_2d(f)
