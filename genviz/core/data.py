"""2D toy densities generated in code, user point sets (CSV / drawn), and the `Dataset` a session trains on.

Generators follow FFJORD's toy set (so published NLLs are comparable); `moons` is the course variant
(noise 0.05, standardized). Everything is seeded: same (name, n, seed) -> same array.
"""
from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field

import numpy as np
import torch


class DataError(RuntimeError):
    """Data cannot be had or read; the message says what to do."""


def _moons(rng, n, noise=0.05):
    n_out = n // 2
    n_in = n - n_out
    t_out = rng.uniform(0, math.pi, n_out)  # sklearn uses linspace; uniform avoids a grid artefact at small n
    t_in = rng.uniform(0, math.pi, n_in)
    x = np.concatenate([np.stack([np.cos(t_out), np.sin(t_out)], 1),
                        np.stack([1 - np.cos(t_in), 1 - np.sin(t_in) - 0.5], 1)])
    x += rng.normal(0, noise, x.shape)
    # the course standardizes with the statistics of the infinite-data distribution, not of this sample,
    # so that every split shares one scale
    return (x - _MOONS_MEAN) / _MOONS_STD


_MOONS_MEAN = np.array([0.5, 0.25])
_MOONS_STD = np.array([0.8675, 0.4967])  # analytic std of make_moons(noise=0.05)


def _eight_gaussians(rng, n, radius=4.0, std=0.5, scale=1 / 1.414):
    angles = np.arange(8) * math.pi / 4
    centers = radius * np.stack([np.cos(angles), np.sin(angles)], 1)
    idx = rng.integers(0, 8, n)
    return (centers[idx] + rng.normal(0, std, (n, 2))) * scale


def _ring8(rng, n):
    """GAN mode-coverage benchmark: 8 modes on a circle of radius 2, sigma 0.02."""
    return _eight_gaussians(rng, n, radius=2.0, std=0.02, scale=1.0)


def _grid25(rng, n):
    """GAN mode-coverage benchmark: 5x5 grid at {-4,-2,0,2,4}^2, sigma 0.05."""
    c = np.array([(i, j) for i in range(-4, 5, 2) for j in range(-4, 5, 2)], float)
    return c[rng.integers(0, 25, n)] + rng.normal(0, 0.05, (n, 2))


def _checkerboard(rng, n):
    x1 = rng.uniform(-2, 2, n)
    x2 = rng.uniform(0, 1, n) - rng.integers(0, 2, n) * 2 + (np.floor(x1) % 2)
    return np.stack([x1, x2], 1) * 2


def _two_spirals(rng, n):
    m = n // 2
    t = np.sqrt(rng.uniform(0, 1, (n - m, 1))) * 540 * (2 * math.pi) / 360
    half = np.hstack([-np.cos(t) * t + rng.uniform(0, 1, (n - m, 1)) * 0.5,
                      np.sin(t) * t + rng.uniform(0, 1, (n - m, 1)) * 0.5])
    x = np.vstack([half, -half[:m]]) / 3
    return x + rng.normal(0, 0.1, x.shape)


def _rings(rng, n):
    radii = np.array([1.0, 0.75, 0.5, 0.25]) * 3
    r = radii[rng.integers(0, 4, n)]
    t = rng.uniform(0, 2 * math.pi, n)
    return np.stack([r * np.cos(t), r * np.sin(t)], 1) + rng.normal(0, 0.08, (n, 2))


def _circles(rng, n):
    r = np.where(rng.uniform(size=n) < 0.5, 1.0, 0.5)
    t = rng.uniform(0, 2 * math.pi, n)
    return (np.stack([r * np.cos(t), r * np.sin(t)], 1) + rng.normal(0, 0.08, (n, 2))) * 3


def _pinwheel(rng, n, k=5, radial_std=0.3, tangential_std=0.1, rate=0.25):
    labels = rng.integers(0, k, n)
    feats = rng.normal(size=(n, 2)) * [radial_std, tangential_std]
    feats[:, 0] += 1
    angles = 2 * math.pi * labels / k + rate * np.exp(feats[:, 0])
    rot = np.stack([np.cos(angles), -np.sin(angles), np.sin(angles), np.cos(angles)], 1).reshape(-1, 2, 2)
    return 2 * np.einsum("ti,tij->tj", feats, rot)


def _swissroll(rng, n, noise=1.0):
    t = 1.5 * math.pi * (1 + 2 * rng.uniform(size=n))
    x = np.stack([t * np.cos(t), t * np.sin(t)], 1) + rng.normal(0, noise, (n, 2))
    return x / 5


TOY2D = {
    "moons": _moons, "8gaussians": _eight_gaussians, "checkerboard": _checkerboard,
    "2spirals": _two_spirals, "rings": _rings, "pinwheel": _pinwheel, "swissroll": _swissroll,
    "circles": _circles, "ring8": _ring8, "grid25": _grid25,
}

# Differential entropy in nats where it is known in closed form or to 3 decimals: the floor for test NLL.
TRUE_ENTROPY = {"moons": 1.131, "8gaussians": 2.834, "checkerboard": math.log(32)}


def toy2d(name: str, n: int, seed: int = 0) -> np.ndarray:
    """n points of the named 2D density as float32, shape (n, 2)."""
    if name not in TOY2D:
        raise DataError(f"unknown 2D dataset {name!r}; known: {', '.join(TOY2D)}")
    rng = np.random.default_rng(seed)
    x = TOY2D[name](rng, int(n))
    return x[rng.permutation(len(x))].astype(np.float32)


def parse_points_csv(text: str) -> np.ndarray:
    """Parse 'x,y' rows (an optional header line is skipped); a bad row raises DataError naming its line."""
    rows = []
    for lineno, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or all(not c.strip() for c in row) or row[0].lstrip().startswith("#"):
            continue
        if len(row) < 2:
            raise DataError(f"line {lineno}: expected two numbers 'x,y', got {','.join(row)!r}")
        try:
            x, y = float(row[0]), float(row[1])
        except ValueError:
            if lineno == 1 and not rows:
                continue  # a header such as "x,y"
            raise DataError(f"line {lineno}: expected two numbers 'x,y', got {','.join(row)!r}") from None
        if not (math.isfinite(x) and math.isfinite(y)):
            raise DataError(f"line {lineno}: values must be finite, got {x}, {y}")
        rows.append((x, y))
    if len(rows) < 10:
        raise DataError(f"need at least 10 points, found {len(rows)}")
    return np.asarray(rows, np.float32)


def load_points_csv(path) -> np.ndarray:
    try:
        with open(path, encoding="utf-8") as fh:
            return parse_points_csv(fh.read())
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise DataError(f"{path} is not a text CSV file") from None


def brush(center, n: int, spread: float, seed: int | None = None) -> np.ndarray:
    """n points around a drawn mouse position, Gaussian with std `spread` (the GUI's drawing brush)."""
    rng = np.random.default_rng(seed)
    return (np.asarray(center, np.float32) + rng.normal(0, spread, (n, 2))).astype(np.float32)


@dataclass
class Dataset:
    """Preloaded train/val/test tensors. 2D: float (n, 2). Images: float in [0, 1], (n, 1, 28, 28)."""

    name: str
    kind: str  # "2d" or "image"
    train: torch.Tensor
    val: torch.Tensor
    test: torch.Tensor
    labels: dict = field(default_factory=dict)  # split -> int64 labels, when the data has them
    binarize: bool = False  # images: dynamic binarization of training batches
    # how to make this dataset again: {"name", "n", "seed"} and, for drawn/loaded points, "points"
    # (a plain list of [x, y] rows); checkpoints carry it so a resumed run trains on the same data
    spec: dict = field(default_factory=dict)

    @property
    def dim(self) -> int:
        return int(np.prod(self.train.shape[1:]))

    @property
    def shape(self) -> tuple:
        return tuple(self.train.shape[1:])

    def bbox(self, margin: float = 0.1) -> tuple[float, float, float, float]:
        """(xmin, xmax, ymin, ymax) of the training points plus a margin; 2D only."""
        x = self.train.numpy()
        lo, hi = np.percentile(x, 0.2, 0), np.percentile(x, 99.8, 0)
        pad = (hi - lo) * margin
        return (float(lo[0] - pad[0]), float(hi[0] + pad[0]), float(lo[1] - pad[1]), float(hi[1] + pad[1]))

    def to(self, device) -> "Dataset":
        mv = lambda t: t.to(device)  # noqa: E731
        return Dataset(self.name, self.kind, mv(self.train), mv(self.val), mv(self.test),
                       {k: mv(v) for k, v in self.labels.items()}, self.binarize, self.spec)

    def batch(self, batch_size: int, generator: torch.Generator) -> torch.Tensor:
        """A random training batch (sampled with replacement across steps, without within a batch)."""
        n = len(self.train)
        idx = torch.randint(0, n, (batch_size,), generator=generator, device="cpu")
        idx = to_device(idx, self.train.device)
        x = self.train[idx]
        return binarize(x, generator) if self.binarize else x

    def labeled_batch(self, batch_size: int, generator: torch.Generator):
        n = len(self.train)
        idx = torch.randint(0, n, (batch_size,), generator=generator, device="cpu")
        idx = to_device(idx, self.train.device)
        return self.train[idx], self.labels["train"][idx]


def to_device(t: torch.Tensor, device) -> torch.Tensor:
    """A step's CPU-drawn indices onto the data's device without waiting for the GPU: a plain `.to()` from
    pageable memory synchronizes the stream, so every step would wait for the previous one's kernels before
    queueing its own (torch.cuda.set_sync_debug_mode finds no synchronizing call left in a VAE step on an H200).
    From pageable memory the driver stages the copy before returning, so the CPU tensor may go at once."""
    return t.to(device, non_blocking=True)


def binarize(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A fresh draw of Bernoulli(x) pixels as uniform < x: the same law as torch.bernoulli, ~4x faster on a
    CPU (1.0 vs 0.22 ms for a 128x784 batch), ~0.8 ms of every binarized-MNIST training step (#17). The held-out
    sets keep torch.bernoulli's fixed draws, so their numbers stay comparable across versions."""
    return torch.empty_like(x).uniform_(generator=generator if x.device.type == "cpu" else None).lt_(x)


def split(x: np.ndarray, name: str, fractions=(0.8, 0.1, 0.1)) -> Dataset:
    n = len(x)
    a, b = int(n * fractions[0]), int(n * (fractions[0] + fractions[1]))
    t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    return Dataset(name, "2d", t[:a], t[a:b], t[b:])


def load(name: str, n: int = 30000, seed: int = 0, points: np.ndarray | None = None) -> Dataset:
    """A dataset by name: a toy2d name, 'custom' (with `points`), or an image set ('mnist', 'fashion-mnist')."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 10:
        raise DataError(f"the number of points must be a whole number ≥ 10, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise DataError(f"the data seed must be a whole number from 0 to 2^32 - 1, got {seed!r}")
    spec = {"name": name, "n": int(n), "seed": int(seed)}
    if name in TOY2D:
        if n > 50_000_000:
            raise DataError(f"{n:,} points is too many to hold in memory; use at most 50,000,000")
        ds = split(toy2d(name, n, seed), name)
    elif name == "custom":
        if points is None or len(points) < 10:
            raise DataError("the custom dataset needs at least 10 points: draw some or load a CSV")
        pts = np.asarray(points, np.float32)
        if pts.ndim != 2 or pts.shape[1] != 2 or not np.all(np.isfinite(pts)):
            raise DataError(f"custom points must be finite (x, y) pairs, got an array of shape {pts.shape}")
        rng = np.random.default_rng(seed)
        ds = split(pts[rng.permutation(len(pts))], name)
        spec = {"name": name, "n": len(pts), "seed": int(seed), "points": pts.tolist()}
    elif name == "binarized-mnist":  # the papers' fixed binarization: its own split, never re-binarized
        from genviz.core import binarized_mnist, images

        ds = binarized_mnist.load(*images.data_root())
        spec = dict(ds.spec)
    else:
        from genviz.core import images  # torchvision is only imported when images are asked for

        if name not in images.IMAGE_SETS:
            raise DataError(f"unknown dataset {name!r}; known: {', '.join(names())}")
        ds = images.load_images(name, seed=seed)
        spec = {"name": name, "seed": int(seed)}
    ds.spec = spec
    return ds


def load_spec(spec: dict) -> Dataset:
    """The dataset a `Dataset.spec` describes (what a checkpoint stores)."""
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
        raise DataError(f"not a dataset description: {spec!r}")
    points = spec.get("points")
    if points is not None:
        try:
            points = np.asarray(points, np.float32).reshape(-1, 2)
        except (ValueError, TypeError):
            raise DataError("the stored custom points are not (x, y) pairs") from None
    return load(spec["name"], n=int(spec.get("n", 30000)), seed=int(spec.get("seed", 0)), points=points)


def names() -> list[str]:
    from genviz.core.images import IMAGE_SETS

    return [*TOY2D, "custom", *IMAGE_SETS, "binarized-mnist"]


def kind_of(name: str) -> str:
    return "2d" if name in TOY2D or name == "custom" else "image"
