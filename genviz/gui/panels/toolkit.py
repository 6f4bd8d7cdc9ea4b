"""What every panel repeats, written once: an image placed over a bounding box, a heatmap with a colour bar and
fixed levels, a growing (step, value) curve, plain axis numbers."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QWidget


def image_rect(bbox, shape) -> QRectF:
    """A grid sampled at linspace points over bbox (x0, x1, y0, y1), row i = y ascending: the values sit at
    pixel centres, so the image extends half a cell beyond the box."""
    x0, x1, y0, y1 = bbox
    hx, hy = (x1 - x0) / max(shape[1] - 1, 1) / 2, (y1 - y0) / max(shape[0] - 1, 1) / 2
    return QRectF(x0 - hx, y0 - hy, x1 - x0 + 2 * hx, y1 - y0 + 2 * hy)


def place_image(img: pg.ImageItem, arr, bbox, levels) -> None:
    """Show `arr` (h, w) over bbox with fixed levels (no per-frame min/max scan)."""
    arr = np.asarray(arr, np.float32)
    img.setImage(arr, levels=levels, autoLevels=False)
    img.setRect(image_rect(bbox, arr.shape))


def density_levels(p: np.ndarray, pct: float = 99.5) -> tuple[float, float]:
    """[0, the pct-th percentile]: one spike cannot wash a density out."""
    hi = float(np.percentile(p, pct)) if p.size else 1.0
    return 0.0, hi if hi > 0 else 1.0


def robust_levels(a: np.ndarray, lo_pct: float = 1.0, hi_pct: float = 99.0) -> tuple[float, float]:
    """Percentile levels, so a few extreme cells cannot wash the heatmap out."""
    finite = a[np.isfinite(a)]
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(finite, [lo_pct, hi_pct])
    return float(lo), float(hi if hi > lo else lo + 1e-6)


def colorbar(plot: pg.PlotItem, img: pg.ImageItem, cmap: str, levels=(0.0, 1.0), label: str = "") -> pg.ColorBarItem:
    """A fixed, non-interactive colour bar beside `plot` that drives `img`'s colour map and levels
    (set new levels with `bar.setLevels`)."""
    bar = pg.ColorBarItem(values=levels, colorMap=pg.colormap.get(cmap), interactive=False, label=label, width=12)
    bar.setImageItem(img, insert_in=plot)
    return bar


class Heatmap:
    """An ImageItem in `plot` with a colour bar beside it; `show(arr, bbox, levels)` keeps bar and image in step."""

    def __init__(self, plot: pg.PlotItem, cmap: str, label: str = "", levels=(0.0, 1.0)):
        self.plot = plot
        self.img = pg.ImageItem(axisOrder="row-major")
        plot.addItem(self.img)
        self.bar = pg.ColorBarItem(values=levels, colorMap=pg.colormap.get(cmap), interactive=False, label=label,
                                   width=12)
        self.bar.setImageItem(self.img, insert_in=plot)

    def show(self, arr, bbox=None, levels=None) -> None:
        arr = np.asarray(arr, np.float32)
        levels = levels or robust_levels(arr)
        self.img.setImage(arr, autoLevels=False)
        self.bar.setLevels(levels)
        if bbox is not None:
            self.img.setRect(image_rect(bbox, arr.shape))

    def clear(self) -> None:
        self.img.clear()


class GrowingCurve:
    """A (step, value) series drawn as one curve in `plot`; `add` appends, `clear` empties it."""

    def __init__(self, plot: pg.PlotItem, name: str, pen, **opts):
        pen = pg.mkPen(pen, width=2) if isinstance(pen, str) else pen  # a colour: the usual 2 px line
        self.curve = plot.plot([], [], pen=pen, name=name, **opts)
        self.x: list[float] = []
        self.y: list[float] = []

    def clear(self) -> None:
        self.x, self.y = [], []
        self.curve.setData([], [])

    def add(self, step, value) -> None:
        if value is None:
            return
        self.x.append(step)
        self.y.append(value)
        self.curve.setData(self.x, self.y)

    def extend(self, steps, values) -> None:
        self.x.extend(np.asarray(steps, np.float64).tolist())
        self.y.extend(np.asarray(values, np.float64).tolist())
        self.curve.setData(self.x, self.y)


def plain_axes(widget: QWidget) -> None:
    """Axis numbers as they are: no 'x0.001' SI-prefix rescaling on any plot inside `widget`."""
    for view in widget.findChildren(pg.GraphicsView):
        for item in view.scene().items():
            if isinstance(item, pg.AxisItem):
                # no range where a prefix applies (enableAutoSIPrefix(False) would freeze a stale x1000 scale)
                item.setSIPrefixEnableRanges(((np.inf, np.inf),))
