"""The recap's measurements obey what the families promise: bounds above estimates, exact NLLs above the
data's entropy, no likelihood for the GAN, Langevin sampling far slower than one network pass."""
import pytest
import torch

from genviz.core import data as data_mod
from genviz.core.labs import recap


@pytest.fixture(scope="module")
def rows():
    ds = data_mod.load("moons", 3000)
    before = torch.get_rng_state()
    out = {f.name: recap.measure(f, ds, 30, n_samples=100) for f in recap.FAMILIES}
    assert torch.equal(before, torch.get_rng_state())  # own generators and a TrainingStream only
    return out


def test_likelihood_columns_keep_their_promises(rows):
    h = data_mod.TRUE_ENTROPY["moons"]
    vae = rows["VAE"]
    assert vae["nll"] <= vae["bound"] + 1e-6  # the 100-sample IW estimate is tighter than the ELBO
    for name in ("autoregressive", "flow", "EBM", "VAE"):
        assert rows[name]["nll"] > h  # cross-entropy ≥ entropy for any normalized density
    assert rows["GAN"]["nll"] is None and rows["GAN"]["bound"] is None


def test_sampling_speed_separates_langevin_from_one_pass(rows):
    assert all(r["sample_s"] > 0 and r["params"] > 0 for r in rows.values())
    assert rows["EBM"]["sample_s"] > 5 * max(rows[n]["sample_s"] for n in ("VAE", "GAN", "flow"))
