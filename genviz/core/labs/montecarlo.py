"""Monte Carlo estimation: ĝ_T = (1/T) Σₜ g(xₜ), xₜ ~ p, is unbiased (E ĝ_T = E_p g) and Var ĝ_T = Var_p g / T.

Each integrand comes with its exact mean and variance, so the lab can draw the estimates' spread against
the σ/√T law.
"""
from __future__ import annotations

import math

import numpy as np

# name -> (sampler(rng, shape), g, exact E g, exact Var g, formula)
INTEGRANDS = {
    "x² under U(0,1)": (lambda r, s: r.uniform(0, 1, s), lambda x: x ** 2, 1 / 3, 1 / 5 - 1 / 9,
                        "∫₀¹ x² dx = 1/3"),
    "cos x under N(0,1)": (lambda r, s: r.normal(0, 1, s), np.cos, math.exp(-0.5),
                           (1 + math.exp(-2)) / 2 - math.exp(-1), "E cos X = e^(−1/2)"),
    "1[x > 1] under N(0,1)": (lambda r, s: r.normal(0, 1, s), lambda x: (x > 1).astype(float),
                              0.5 * math.erfc(1 / math.sqrt(2)),
                              0.5 * math.erfc(1 / math.sqrt(2)) * (1 - 0.5 * math.erfc(1 / math.sqrt(2))),
                              "P(X > 1) = 1 − Φ(1)"),
}


def estimates(name: str, t_values, repeats: int = 200, seed: int = 0) -> dict[str, np.ndarray]:
    """For each T: `repeats` independent estimates ĝ_T. Returns t (len,), est (len, repeats),
    mean, std (empirical over repeats) and law = sqrt(Var g / T), plus the exact value."""
    sampler, g, exact, var, _ = INTEGRANDS[name]
    rng = np.random.default_rng(seed)
    t_values = np.asarray(t_values, int)
    est = np.stack([g(sampler(rng, (repeats, int(t)))).mean(1) for t in t_values])
    return {"t": t_values, "est": est, "mean": est.mean(1), "std": est.std(1, ddof=1),
            "law": np.sqrt(var / t_values), "exact": np.float64(exact)}


def log_t_values(t_max: int = 10000, count: int = 13) -> np.ndarray:
    return np.unique(np.round(np.logspace(0, math.log10(t_max), count)).astype(int))
