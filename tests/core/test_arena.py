"""The Arena's scoreboard: each number is the model's own evaluation (or the documented estimate), labelled by
what it is; exact NLLs integrate the density that is plotted; torch's global stream is never touched."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from genviz.core import arena, data, registry
from genviz.core.gan import metrics as gan_metrics
from genviz.core.labs.twosample import permutation_test
from genviz.core.model import integrate_density
from genviz.core.session import Session

TINY = {"made-2d": {"hidden": 16, "bins": 16}, "realnvp": {"n_layers": 2, "hidden": 16, "depth": 1},
        "vae": {"hidden": 16}, "gan_preset": {"hidden": 16}, "ebm": {"hidden": 16, "depth": 1, "grid_res": 64}}


def trained(name: str, ds, steps: int = 5):
    """A tiny model after a few real training steps (so its numbers are not those of an initialisation)."""
    s = Session(name, ds, TINY[name], {"steps": steps, "batch_size": 64, "snapshot_every": steps}, with_arrays=False)
    for _ in s.run():
        pass
    return s.model.eval()


@pytest.fixture(scope="module")
def gauss8():
    return data.load("8gaussians", n=2000, seed=0)


def test_line_up_is_one_per_family_and_labels_say_what_each_nll_is():
    fams = [registry.get(m).family for m in arena.DEFAULT_MODELS]
    assert sorted(fams) == sorted(set(fams)) and len(fams) == 5
    assert [arena.nll_kind(m) for m in arena.DEFAULT_MODELS] == [
        "exact", "upper bound (−IWAE)", "exact", "KDE estimate", "grid-normalized"]
    assert arena.nll_kind("mog") == "exact" and arena.nll_kind("iwae") == "upper bound (−IWAE)"
    assert "planar" not in arena.candidates() and set(arena.DEFAULT_MODELS) <= set(arena.candidates())
    assert arena.true_entropy("checkerboard") == pytest.approx(math.log(32)) and arena.true_entropy("rings") is None


@pytest.mark.parametrize("name", ["made-2d", "realnvp", "ebm", "vae"])
def test_nll_is_the_models_own_evaluation(name, gauss8):
    model = trained(name, gauss8)
    state = torch.get_rng_state()
    row = arena.score(name, model, gauss8, step=5, wall_s=2.0, seed=3, k=20)
    assert torch.equal(state, torch.get_rng_state())  # every draw came from the arena's own generators
    if name == "vae":  # −IWAE with k = 20 from a generator seeded like the arena's
        own = model.evaluate(gauss8.test, k=20, generator=torch.Generator().manual_seed(3))["nll"]
        assert row.nll_note == "k=20" and row.gap is None  # a bound has no gap to the entropy
    else:
        own = model.evaluate(gauss8.test)["nll"]
        assert row.gap == pytest.approx(row.nll - 2.834)
    assert row.nll == pytest.approx(own, rel=1e-12)
    assert row.params == sum(p.numel() for p in model.parameters()) and row.steps_per_s == pytest.approx(2.5)


def test_gan_row_kde_mmd_and_modes_recomputed_by_hand():
    ds = data.load("ring8", n=2000, seed=0)
    model = trained("gan_preset", ds)
    row = arena.score("gan_preset", model, ds, seed=1, n_samples=600, n_mmd=300, permutations=50)
    samples = model.sample(600, generator=torch.Generator().manual_seed(1)).double().detach().numpy()
    h = gan_metrics.scott_bandwidth(torch.as_tensor(samples))
    kde = -gan_metrics.kde_log_prob(ds.test.double(), torch.as_tensor(samples), h).mean()
    assert row.nll_kind == "KDE estimate" and row.nll == pytest.approx(float(kde), rel=1e-9)
    mmd = permutation_test(samples[:300], ds.test.double().numpy()[:300], "mmd", 50, seed=1)
    assert (row.mmd2, row.mmd_p) == (pytest.approx(mmd["observed"]), pytest.approx(mmd["p_value"]))
    cov = gan_metrics.mode_coverage(samples, *gan_metrics.BENCHMARKS["ring8"])
    assert (row.modes, row.n_modes, row.hq) == (cov["modes"], 8, pytest.approx(cov["hq"]))
    assert row.params == sum(p.numel() for p in model.parameters() if p.requires_grad)


def test_modes_are_left_empty_where_none_are_defined():
    ds = data.load("moons", n=1000, seed=0)
    row = arena.score("made-2d", trained("made-2d", ds), ds, n_mmd=100, permutations=20)
    assert row.modes is None and row.n_modes is None and row.entropy == 1.131


def test_data_itself_covers_all_modes_and_passes_the_two_sample_test(gauss8):
    class Oracle(torch.nn.Module):  # "samples" = fresh draws of the true density
        def sample(self, n, generator=None):
            return torch.from_numpy(data.toy2d("8gaussians", n, seed=int(torch.randint(0, 999, (1,),
                                                                                       generator=generator))))

    samples = arena.draw_samples(Oracle(), 1000, torch.Generator().manual_seed(0))
    cov = gan_metrics.mode_coverage(samples, *arena.MODE_SETS["8gaussians"])
    assert cov["modes"] == 8 and cov["hq"] > 0.97  # 3σ in 2D holds 98.9% of a Gaussian's mass
    p = permutation_test(samples[:300], gauss8.test.numpy()[:300], "mmd", 100, seed=0)["p_value"]
    assert p > 0.01


@pytest.mark.parametrize("name,box,tol", [("made-2d", (-4.0, 4.0 - 1e-6, -4.0, 4.0 - 1e-6), 0.03),
                                          ("realnvp", (-9.0, 9.0, -9.0, 9.0), 0.01)])
def test_exact_densities_that_are_plotted_integrate_to_one(name, box, tol, gauss8):
    model = trained(name, gauss8)
    with torch.no_grad():
        logp = model.visualize(gauss8, {"bbox": box, "res": 257, "n_samples": 10})["log_density"]
    assert integrate_density(logp, box) == pytest.approx(1.0, abs=tol)


def test_grid_normalized_ebm_density_sums_to_one_on_its_grid(gauss8):
    model = trained("ebm", gauss8)
    with torch.no_grad():
        arrays = model.visualize(gauss8, {"bbox": model.box, "res": model.cfg.grid_res, "n_chains": 1,
                                          "trail_steps": 1})
    assert integrate_density(arrays["log_density"], model.box) == pytest.approx(1.0, abs=1e-6)


def test_scoreboard_files_round_trip_and_say_what_is_inexact(tmp_path, gauss8):
    rows = [arena.score(n, trained(n, gauss8), gauss8, step=5, wall_s=1.0, k=5, n_mmd=100, permutations=20)
            for n in ("realnvp", "vae", "gan_preset")]
    back = arena.read_csv(arena.write_csv(rows, tmp_path / "s.csv"))
    for a, b in zip(rows, back):
        assert (a.model, a.nll_kind, a.modes, a.params, a.step) == (b.model, b.nll_kind, b.modes, b.params, b.step)
        assert b.nll == pytest.approx(a.nll, rel=1e-5) and (b.gap is None) == (a.gap is None)
    md = arena.markdown(rows)
    assert "**2.834 nats**" in md
    lines = {line.split("|")[1].strip(): line for line in md.splitlines() if line.startswith("| ")}
    assert "| exact |" in lines["realnvp"] and "upper bound (−IWAE), k=5" in lines["vae"]
    assert "KDE estimate" in lines["gan_preset"] and lines["gan_preset"].split("|")[6].strip() == "—"
    assert np.isfinite(back[0].mmd2) and 0 < back[0].mmd_p <= 1
