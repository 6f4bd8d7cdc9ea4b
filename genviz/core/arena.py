"""The Arena's scoreboard: every family's model scored the same way on the same held-out 2D data.

One row per model (`score`): the test NLL where a model has one, labelled by what it is — *exact* (flows,
autoregressive, mixtures), *grid-normalized* (an EBM's log Z summed on a grid), an *upper bound* (a VAE's
−IWAE with k importance samples) or a *KDE estimate* (a GAN: the NLL of a Gaussian KDE fitted to its
samples) — so nothing inexact reads as exact; sample quality as unbiased MMD² against held-out points with a
permutation p-value (labs.twosample); mode coverage where modes are defined (gan.metrics); parameters,
steps/s and wall time; and the dataset's true entropy, the floor of any exact test NLL (data.TRUE_ENTROPY).
Every number comes from the model's own evaluation (`evaluate`) where it has one, and every random draw
from a generator made here: torch's global stream is never touched.
"""
from __future__ import annotations

import csv
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch

from genviz.core import data as data_mod
from genviz.core import registry
from genviz.core.gan import metrics as gan_metrics
from genviz.core.labs.twosample import permutation_test

# One model per family. RealNVP, not MAF: after the registry's 5000 default steps on 8gaussians (seed 0) its
# test NLL was 2.911 nats against MAF's 3.086 (true entropy 2.834; MADE-2D after its 2000 steps: 2.868).
DEFAULT_MODELS = ("made-2d", "vae", "realnvp", "gan_preset", "ebm")
# the standard 2D suite of the bench (FFJORD's toy set plus the course moons)
SUITE = ("moons", "8gaussians", "checkerboard", "2spirals", "pinwheel", "rings")
# 2D models that do not learn from the dataset's points (planar fits a target energy, distill a teacher flow,
# CycleGAN translates between two sets): they cannot stand on the same scoreboard
NOT_IN_ARENA = ("planar", "distill", "cyclegan")

# Where modes are defined: centres (K, 2) and per-mode sigma. ring8/grid25 are the GAN benchmarks; 8gaussians
# is data._eight_gaussians (radius 4, sigma 0.5, then scaled by 1/1.414).
MODE_SETS = {**gan_metrics.BENCHMARKS,
             "8gaussians": (gan_metrics.ring8_centres(4.0 / 1.414), 0.5 / 1.414)}

NLL_KINDS = {"exact": "exact", "grid": "grid-normalized", "bound": "upper bound (−IWAE)", "kde": "KDE estimate"}


def candidates() -> list[str]:
    """Registry models that can join the Arena: every model trained on 2D points, in registry order."""
    return [n for n, s in registry.MODELS.items() if "2d" in s.data_kinds and n not in NOT_IN_ARENA]


def true_entropy(dataset: str) -> float | None:
    """The dataset's differential entropy in nats where it is known (the floor of an exact test NLL)."""
    return data_mod.TRUE_ENTROPY.get(dataset)


def nll_kind(model_name: str) -> str:
    """What the model's test NLL is: 'exact', 'grid-normalized', 'upper bound (−IWAE)' or 'KDE estimate'."""
    family = registry.get(model_name).family
    if family == "ebm":
        return NLL_KINDS["grid"]
    if family == "vae" and model_name != "mog":  # MoG's likelihood is a finite sum: exact
        return NLL_KINDS["bound"]
    if family == "gan":
        return NLL_KINDS["kde"]
    return NLL_KINDS["exact"]


def param_count(model: torch.nn.Module) -> int:
    """Trained parameters (a GAN counts G and D; a weight average of G, trained by no one, is left out)."""
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))


@dataclass
class Score:
    """One scoreboard row. `nll` is None where the model has none; `nll_kind` says what it is."""

    model: str
    family: str
    dataset: str
    step: int
    nll: float | None
    nll_kind: str
    nll_note: str  # e.g. "k=100", "3 of 3000 test points outside the model's square"
    entropy: float | None
    mmd2: float
    mmd_p: float
    modes: int | None
    n_modes: int | None
    hq: float | None  # fraction of samples within 3σ of some mode: wide modes are "covered" by a blur too
    params: int
    steps_per_s: float
    wall_s: float

    @property
    def gap(self) -> float | None:
        """NLL − true entropy, for a NLL that is exact or grid-normalized (a bound's gap is not a gap)."""
        if self.nll is None or self.entropy is None or self.nll_kind not in (NLL_KINDS["exact"], NLL_KINDS["grid"]):
            return None
        return self.nll - self.entropy


def draw_samples(model, n: int, generator: torch.Generator) -> np.ndarray:
    """(n, 2) model samples as float64 numpy, drawn from `generator` (an EBM: its long-run Langevin chains)."""
    with torch.no_grad():
        return model.sample(n, generator=generator).double().cpu().numpy().reshape(n, -1)


def test_nll(model_name: str, model, x: torch.Tensor, samples: np.ndarray, k: int, seed: int
             ) -> tuple[float | None, str]:
    """(NLL in nats on x, a note): the model's own `evaluate` where it has one, a KDE of samples for a GAN."""
    kind = nll_kind(model_name)
    x = x.to(model.device, model.dtype)
    if kind == NLL_KINDS["kde"]:
        fit = torch.as_tensor(samples)
        h = gan_metrics.scott_bandwidth(fit)
        lp = gan_metrics.kde_log_prob(x.double().cpu(), fit, h)
        return float(-lp.mean()), f"Gaussian KDE of {len(fit)} samples, h={h:.3g}"
    if kind == NLL_KINDS["bound"]:
        m = model.evaluate(x, k=k, generator=torch.Generator(device=model.device).manual_seed(seed))
        return float(m["nll"]), f"k={k}"
    if not hasattr(model, "evaluate"):
        return None, ""
    m = model.evaluate(x)
    if "nll" not in m:
        return None, ""
    note = ""
    if m.get("outside"):  # made-2d: points outside its square have density 0; evaluate leaves them out
        note = f"{m['outside']:.2%} of test points outside the model's square (left out)"
    return float(m["nll"]), note


def score(model_name: str, model, data, step: int = 0, wall_s: float = 0.0, seed: int = 0, k: int = 100,
          n_mmd: int = 500, permutations: int = 200, n_samples: int = 1000) -> Score:
    """Score a trained `model` on `data`'s test split (see the module docstring for each column)."""
    was_training = model.training
    model.eval()
    try:
        gen = torch.Generator(device=model.device).manual_seed(seed)
        samples = draw_samples(model, n_samples, gen)
        with torch.no_grad():
            nll, note = test_nll(model_name, model, data.test, samples, k, seed)
    finally:
        model.train(was_training)
    test = data.test.double().cpu().numpy()
    ok = np.isfinite(samples).all(1)
    mmd = permutation_test(samples[ok][:n_mmd], test[:n_mmd], "mmd", permutations, seed=seed) if ok.sum() > 1 \
        else {"observed": math.nan, "p_value": math.nan}
    modes = n_modes = hq = None
    if data.name in MODE_SETS:
        cov = gan_metrics.mode_coverage(samples[ok], *MODE_SETS[data.name])
        modes, n_modes, hq = cov["modes"], cov["n_modes"], cov["hq"]
    return Score(model_name, registry.get(model_name).family, data.name, int(step), nll, nll_kind(model_name), note,
                 true_entropy(data.name), float(mmd["observed"]), float(mmd["p_value"]), modes, n_modes, hq,
                 param_count(model), step / wall_s if wall_s > 0 else 0.0, float(wall_s))


# -- the scoreboard as files -------------------------------------------------------------------------------
CSV_COLUMNS = [f.name for f in fields(Score)] + ["gap"]


def write_csv(rows: list[Score], path) -> Path:
    path = Path(path)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(CSV_COLUMNS)
        for r in rows:
            d = {**asdict(r), "gap": r.gap}
            w.writerow(["" if d[c] is None else (f"{d[c]:.6g}" if isinstance(d[c], float) else d[c])
                        for c in CSV_COLUMNS])
    return path


def read_csv(path) -> list[Score]:
    """Rows written by `write_csv` (empty cells back to None)."""
    out = []
    types = {f.name: f.type for f in fields(Score)}
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            vals = {}
            for name, typ in types.items():
                v = row.get(name, "")
                if v == "" and "None" in str(typ):
                    vals[name] = None
                elif "float" in str(typ):
                    vals[name] = float(v) if v != "" else math.nan
                elif "int" in str(typ):
                    vals[name] = int(float(v)) if v != "" else 0
                else:
                    vals[name] = v
            out.append(Score(**vals))
    return out


def fmt_nll(r: Score) -> str:
    if r.nll is None:
        return "—"
    return f"{r.nll:.3f}"


def fmt_modes(r: Score) -> str:
    return "—" if r.modes is None else f"{r.modes}/{r.n_modes} ({r.hq:.0%} within 3σ)"


def fmt_mmd(r: Score) -> str:
    return "—" if not math.isfinite(r.mmd2) else f"{r.mmd2:.4f} (p={r.mmd_p:.3f})"


def markdown(rows: list[Score], title: str = "") -> str:
    """The scoreboard as a Markdown table, with what each column is and the true-entropy reference."""
    ds = rows[0].dataset if rows else ""
    h = true_entropy(ds)
    lines = [f"# {title or 'Arena'}: {ds}", ""]
    lines.append(f"True entropy of {ds}: **{h:.3f} nats** — the floor of an exact test NLL." if h is not None
                 else f"The true entropy of {ds} is not known in closed form: no reference line.")
    lines += ["", "| model | family | steps | test NLL (nats) | what the NLL is | NLL − H | MMD² vs held-out (p) "
                  "| modes covered | parameters | steps/s | wall s |",
              "|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        what = r.nll_kind + (f", {r.nll_note}" if r.nll_note else "")
        gap = "—" if r.gap is None else f"{r.gap:+.3f}"
        lines.append(f"| {r.model} | {r.family} | {r.step:,} | {fmt_nll(r)} | {what} | {gap} | {fmt_mmd(r)} "
                     f"| {fmt_modes(r)} | {r.params:,} | {r.steps_per_s:,.0f} | {r.wall_s:.1f} |")
    lines += ["", "- *exact*: the model's own normalized log-density. *grid-normalized*: an EBM's log Z summed on a "
                  "grid (exact up to grid error). *upper bound (−IWAE)*: a VAE's importance-weighted bound with k "
                  "samples; its NLL is at most this. *KDE estimate*: a GAN has no density; this is the NLL of a "
                  "Gaussian KDE of its samples.",
              "- MMD²: unbiased, Gaussian kernel (median bandwidth), 500 model samples vs 500 held-out test points; "
              "p from 200 permutations (small p: the samples are told apart from the data).",
              "- Modes: a mode is covered when ≥ 0.8% of 1,000 samples lie within 3σ of its centre (where modes "
              "are defined: 8gaussians, ring8, grid25); then the share of all samples within 3σ of some mode "
              "(the data's own: 98.9%).",
              "- steps/s and wall time were measured while all models trained at once."]
    return "\n".join(lines) + "\n"
