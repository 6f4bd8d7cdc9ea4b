"""Change of variables from scratch: a 1D monotone spline x = f(z) pushing N(0, 1) forward, and a 2×2 linear map.

1D: p_x(x) = p_z(f⁻¹(x))·|df⁻¹/dx| = p_z(z)/|f′(z)| at z = f⁻¹(x). Why the Jacobian: f increasing gives
F_x(f(z)) = P(X ≤ f(z)) = P(Z ≤ z) = F_z(z); differentiating in z, p_x(f(z))·f′(z) = p_z(z).
The map is a monotone cubic Hermite spline (Fritsch–Carlson/Butland slopes) through knots (z_k, x_k) with
x_k strictly increasing, extended linearly beyond the end knots with the end slopes: a bijection of ℝ.

2D: x = Az maps the unit square to a parallelogram of area |det A| and N(0, I) to N(0, AAᵀ), whose density is
p_x(x) = N(A⁻¹x; 0, I)/|det A|. Numpy, float64; everything is fast enough for a drag on the GUI thread.
"""
from __future__ import annotations

import math

import numpy as np
import torch

GAP = 0.05  # smallest rise between neighbouring knots: keeps f strictly increasing (f′ > 0) while dragging


def normal_pdf(z):
    return np.exp(-0.5 * np.asarray(z, np.float64) ** 2) / math.sqrt(2 * math.pi)


def normal_cdf(z):
    return torch.special.ndtr(torch.as_tensor(np.asarray(z, np.float64))).numpy()


def monotone(xk, lo: float = -np.inf, hi: float = np.inf, moved: int | None = None) -> np.ndarray:
    """Knot heights made strictly increasing (steps ≥ GAP) inside [lo, hi]: the knot being dragged (`moved`)
    is clamped between its neighbours; without one, each knot is lifted above the previous one."""
    x = np.asarray(xk, np.float64).copy()
    if moved is not None:
        below = x[moved - 1] + GAP if moved > 0 else lo
        above = x[moved + 1] - GAP if moved < len(x) - 1 else hi
        x[moved] = min(max(x[moved], below), above)
        return x
    for k in range(1, len(x)):
        x[k] = max(x[k], x[k - 1] + GAP)
    return x


class MonotoneSpline:
    """x = f(z) through knots (zk, xk), both strictly increasing (K,); f, f′ and f⁻¹ on arrays."""

    def __init__(self, zk, xk):
        self.zk, self.xk = np.asarray(zk, np.float64), np.asarray(xk, np.float64)
        if np.any(np.diff(self.zk) <= 0) or np.any(np.diff(self.xk) <= 0):
            raise ValueError("knots must be strictly increasing in z and in x")
        h, d = np.diff(self.zk), np.diff(self.xk) / np.diff(self.zk)
        m = np.empty(len(self.zk))
        m[0], m[-1] = d[0], d[-1]
        # Fritsch–Butland: a weighted harmonic mean of the neighbouring secants (≤ 3× the smaller one) keeps
        # every cubic piece increasing
        w1, w2 = 2 * h[1:] + h[:-1], h[1:] + 2 * h[:-1]
        m[1:-1] = (w1 + w2) / (w1 / d[:-1] + w2 / d[1:])
        self.h, self.m = h, m

    def _piece(self, z):
        k = np.clip(np.searchsorted(self.zk, z, side="right") - 1, 0, len(self.h) - 1)
        t = (z - self.zk[k]) / self.h[k]
        return k, t

    def __call__(self, z) -> np.ndarray:
        z = np.asarray(z, np.float64)
        k, t = self._piece(z)
        h, x0, x1, m0, m1 = self.h[k], self.xk[k], self.xk[k + 1], self.m[k], self.m[k + 1]
        cubic = ((2 * t ** 3 - 3 * t ** 2 + 1) * x0 + (t ** 3 - 2 * t ** 2 + t) * h * m0
                 + (-2 * t ** 3 + 3 * t ** 2) * x1 + (t ** 3 - t ** 2) * h * m1)
        left = self.xk[0] + self.m[0] * (z - self.zk[0])
        right = self.xk[-1] + self.m[-1] * (z - self.zk[-1])
        return np.where(z < self.zk[0], left, np.where(z > self.zk[-1], right, cubic))

    def slope(self, z) -> np.ndarray:
        """f′(z) = dx/dz (> 0)."""
        z = np.asarray(z, np.float64)
        k, t = self._piece(z)
        h, x0, x1, m0, m1 = self.h[k], self.xk[k], self.xk[k + 1], self.m[k], self.m[k + 1]
        cubic = ((6 * t ** 2 - 6 * t) * x0 + (3 * t ** 2 - 4 * t + 1) * h * m0
                 + (-6 * t ** 2 + 6 * t) * x1 + (3 * t ** 2 - 2 * t) * h * m1) / h
        return np.where(z < self.zk[0], self.m[0], np.where(z > self.zk[-1], self.m[-1], cubic))

    def inverse(self, x, iters: int = 60) -> np.ndarray:
        """z = f⁻¹(x): closed form on the linear tails, bisection inside the knot piece that brackets x."""
        x = np.asarray(x, np.float64)
        k = np.clip(np.searchsorted(self.xk, x, side="right") - 1, 0, len(self.h) - 1)
        lo, hi = self.zk[k].copy(), self.zk[k + 1].copy()
        for _ in range(iters):  # f is increasing on [lo, hi]: halve the bracket 60 times (float64 exact)
            mid = (lo + hi) / 2
            below = self(mid) < x
            lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
        z = (lo + hi) / 2
        z = np.where(x < self.xk[0], self.zk[0] + (x - self.xk[0]) / self.m[0], z)
        return np.where(x > self.xk[-1], self.zk[-1] + (x - self.xk[-1]) / self.m[-1], z)

    def pushed_density(self, x) -> np.ndarray:
        """p_x(x) = p_z(f⁻¹(x)) / f′(f⁻¹(x)), base N(0, 1)."""
        z = self.inverse(x)
        return normal_pdf(z) / self.slope(z)


PRESETS = {  # knot heights as functions of the knot positions: what each map does to N(0, 1)
    "identity": lambda z: z,
    "stretch ×2": lambda z: 2 * z,
    "S-curve (squeeze tails)": lambda z: 2.2 * np.tanh(z / 1.5),
    "split in two (steep middle)": lambda z: z + 2.5 * np.tanh(2 * z),
    "skew right": lambda z: np.where(z > 0, 0.5 * z ** 2 + z, z),
}


def trapezoid(y, x) -> float:
    y, x = np.asarray(y, np.float64), np.asarray(x, np.float64)
    return float(((y[1:] + y[:-1]) * np.diff(x)).sum() / 2)


def cumulative(y, x) -> np.ndarray:
    """Running trapezoid integral of y over x, starting at 0."""
    y, x = np.asarray(y, np.float64), np.asarray(x, np.float64)
    return np.concatenate([[0.0], np.cumsum((y[1:] + y[:-1]) * np.diff(x) / 2)])


def push_samples(f: MonotoneSpline, n: int, seed: int = 0) -> np.ndarray:
    """x = f(z) for n draws z ~ N(0, 1) from the lab's own generator."""
    return f(np.random.default_rng(seed).standard_normal(n))


def histogram_density(x, edges) -> np.ndarray:
    """Counts per bin / (n·width): a density estimate on the same scale as p_x (samples outside count in n)."""
    counts, _ = np.histogram(x, edges)
    return counts / (len(x) * np.diff(edges))


# -- 2×2 linear map ------------------------------------------------------------------------------------------
UNIT_SQUARE = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])


def polygon_area(pts) -> float:
    """Signed shoelace area of a closed polygon (n, 2): positive counter-clockwise."""
    p = np.asarray(pts, np.float64)
    x, y = p[:, 0], p[:, 1]
    return float((x * np.roll(y, -1) - np.roll(x, -1) * y).sum() / 2)


def square_image(a) -> np.ndarray:
    """The unit square's corners mapped by A (4, 2): a parallelogram spanned by A's columns."""
    return UNIT_SQUARE @ np.asarray(a, np.float64).T


def linear_samples(a, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(z, x = Az) for n draws z ~ N(0, I)."""
    z = np.random.default_rng(seed).standard_normal((n, 2))
    return z, z @ np.asarray(a, np.float64).T


def covariance_ellipse(cov, k: float = 1.0, n: int = 120) -> np.ndarray:
    """The k-σ contour {x : xᵀΣ⁻¹x = k²} of N(0, Σ), (n, 2); Σ may be singular (the ellipse is then flat)."""
    vals, vecs = np.linalg.eigh(np.asarray(cov, np.float64))
    t = np.linspace(0, 2 * math.pi, n)
    return k * (np.stack([np.cos(t), np.sin(t)], 1) * np.sqrt(np.clip(vals, 0, None))) @ vecs.T


def linear_log_density(x, a) -> np.ndarray:
    """log p_x(x) = log N(A⁻¹x; 0, I) − log|det A| for x (N, 2)."""
    a = np.asarray(a, np.float64)
    z = np.linalg.solve(a, np.asarray(x, np.float64).T).T
    return -0.5 * (z * z).sum(1) - math.log(2 * math.pi) - math.log(abs(np.linalg.det(a)))
