"""SVI next to the amortized VAE on a small 2D dataset: one start, both bounds climb and stay below the grid
log p(x) of their own decoder, point by point. (Which gap ends smaller is no theorem: the decoders differ.)"""
import numpy as np
import torch

from genviz.core import data
from genviz.core.vae import svi


def test_svi_vs_amortized_bounds_and_gaps():
    x = torch.from_numpy(data.toy2d("moons", 64, seed=0))
    before = torch.random.get_rng_state()
    r = svi.svi_vs_amortized(x, steps=120, inner=5, grid_points=12)
    assert torch.equal(before, torch.random.get_rng_state())  # its own generators only
    assert r["eval_steps"][0] == 0 and r["eval_steps"][-1] == 120
    # the same decoder and start: the same ELBO up to the q's (both start from the untrained encoder's q)
    assert abs(r["elbo_svi"][0] - r["elbo_amortized"][0]) < 0.05
    for k in ("svi", "amortized"):
        assert r[f"elbo_{k}"][-1] > r[f"elbo_{k}"][0] + 0.2  # training raised the bound
        gap = r[f"log_px_{k}"] - r[f"elbo_{k}_end"]
        assert np.all(gap > -0.03)  # ELBO ≤ log p(x), point by point (256-sample ELBOs: a little noise)
