"""The shared loss plot: one raw curve per loss name, its EMA-smoothed twin, val metrics as markers.

Series grow in capacity-doubling numpy buffers; curves use peak downsampling and clip-to-view so a
100k-step history redraws in a millisecond.
"""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QSizePolicy, QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from genviz.gui.panels.toolkit import plain_axes
from genviz.gui.theme import CURVE_COLORS

# Peak downsampling keeps each bin's min and max: one bin per pixel column draws the same envelope as
# pyqtgraph's default five, with a fifth of the line segments (software painting is what a redraw costs)
PEAK_BINS_PER_PX = 1.0
FOLLOW_BINS = 1024  # a followed run's curves are drawn from at most this many min/max bins (2 points each)
FOLLOW_MARKERS = 400  # and at most this many held-out markers


class Series:
    """A growing (x, y) series in capacity-doubling arrays."""

    def __init__(self, capacity: int = 1024):
        self.x = np.empty(capacity, np.float64)
        self.y = np.empty(capacity, np.float64)
        self.n = 0

    def extend(self, x: np.ndarray, y: np.ndarray) -> None:
        m = len(x)
        if self.n + m > len(self.x):
            cap = max(2 * len(self.x), self.n + m)
            self.x = np.resize(self.x, cap)
            self.y = np.resize(self.y, cap)
        self.x[self.n:self.n + m] = x
        self.y[self.n:self.n + m] = y
        self.n += m

    def data(self) -> tuple[np.ndarray, np.ndarray]:
        return self.x[:self.n], self.y[:self.n]


class MinMaxBins:
    """Running min/max decimation of a growing series, for drawing: bins of `width` consecutive points, each
    drawn as two points at its first x (its min, then its max: pyqtgraph's 'peak' envelope), then the last
    points that do not fill a bin yet, as they are. `update(x, y)` bins only the points added since the last
    call; when there would be more than `max_bins` bins the width doubles and the bins are made again (O(n)
    once per doubling: amortised O(1) per point). A series that got shorter (cleared, re-smoothed) starts over.
    """

    def __init__(self, max_bins: int = FOLLOW_BINS):
        self.max_bins = max_bins
        self.reset()

    def reset(self, width: int = 1) -> None:
        self.width, self.done = width, 0
        self.lo, self.hi = Series(256), Series(256)  # x: each bin's first x

    def update(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = len(y)
        width = self.width
        while n / width > self.max_bins:
            width *= 2
        if n < self.done or width != self.width:
            self.reset(width)
        if width == 1:  # no more points than bins: drawn as they are
            return x[:n], y[:n]
        k = (n - self.done) // width  # new full bins
        if k:
            a, b = self.done, self.done + k * width
            seg = y[a:b].reshape(k, width)
            self.lo.extend(x[a:b:width], seg.min(axis=1))
            self.hi.extend(x[a:b:width], seg.max(axis=1))
            self.done = b
        bx, lo = self.lo.data()
        xs = np.concatenate([np.repeat(bx, 2), x[self.done:n]])
        ys = np.concatenate([np.column_stack([lo, self.hi.data()[1]]).ravel(), y[self.done:n]])
        return xs, ys


def ema(y: np.ndarray, alpha: float, start: float | None = None) -> np.ndarray:
    """Exponential moving average y_s[t] = (1-a) y_s[t-1] + a y[t], vectorised (no Python loop)."""
    if len(y) == 0:
        return y
    if alpha >= 1.0:
        return y.copy()
    # closed form: y_s[t] = a * sum_k (1-a)^(t-k) y[k] + (1-a)^(t+1) * s0; chunks keep (1-a)^-t finite
    out = np.empty_like(y)
    s = y[0] if start is None else start
    chunk = max(1, int(8.0 / max(-np.log1p(-alpha), 1e-12)))
    for i in range(0, len(y), chunk):
        seg = y[i:i + chunk]
        k = np.arange(len(seg))
        w = (1 - alpha) ** (-k)
        decay = (1 - alpha) ** (k + 1)
        out[i:i + len(seg)] = decay * (s + alpha / (1 - alpha) * np.cumsum(seg * w))
        s = out[i + len(seg) - 1]
    return out


def history_parts(cols: dict) -> tuple[np.ndarray, dict, dict]:
    """metrics.csv columns split as the loss plot and the panels read them: (the rows whose every per-step term
    is finite, those terms by name, the held-out metrics by name without 'val_', NaN on rows without one)."""
    losses = {k: v for k, v in cols.items() if k != "step" and not k.startswith("val_")}
    ok = np.all([np.isfinite(v) for v in losses.values()], axis=0) if losses else np.zeros(len(cols["step"]), bool)
    return ok, losses, {k[4:]: v for k, v in cols.items() if k.startswith("val_")}


def _nice_ceil(v: float) -> float:
    """The smallest round number (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8 times a power of ten) at least v (> 0)."""
    p = 10.0 ** np.floor(np.log10(v))
    return float(next(m * p for m in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10) if m * p >= v))


def curve_color(i: int):
    """The i-th curve's colour: the theme's, then evenly spaced hues (20 overlaid runs stay apart)."""
    return CURVE_COLORS[i] if i < len(CURVE_COLORS) else pg.intColor(i - len(CURVE_COLORS), hues=13, values=1)


class LossPanel(QWidget):
    """Loss curves by name; `append(steps, losses)`, `add_metrics(step, metrics)`, then `redraw()`.

    `raw=False` draws only the smoothed curve (one line per name: the Runs dock's overlay); `colors` may fix a
    name's colour."""

    def __init__(self, parent=None, raw: bool = True, hint: str = "loss curves appear here when training starts"):
        super().__init__(parent)
        self.raw = raw
        self.colors: dict = {}
        self.plot = pg.GraphicsLayoutWidget()
        self.item = self.plot.addPlot(row=0, col=0)
        self.item.setLabel("bottom", "step")
        self.item.setLabel("left", "loss")
        # no grid: pyqtgraph draws grid lines in the axis paint, which then costs ~5x more every frame
        # the legend sits in its own column right of the plot, so no number of entries covers a curve
        self.legend = pg.LegendItem(labelTextSize="8pt", verSpacing=-4)
        self._legend_entries: tuple = ()  # the entries the layout was last made for (redraw)
        self.plot.addItem(self.legend, row=0, col=1)
        self.plot.ci.layout.setColumnStretchFactor(0, 1)
        self.legend.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Fixed)  # entries stack at the top, not
        self.plot.ci.layout.setAlignment(self.legend, Qt.AlignTop)  # spread over the plot's height
        self.series: dict[str, Series] = {}
        self._smooth: dict[str, tuple[float, Series]] = {}  # name -> (alpha, EMA so far): appends extend it
        self.curves: dict[str, tuple] = {}  # name -> (raw curve, smoothed curve)
        self.metric_series: dict[str, Series] = {}
        self.metric_items: dict[str, pg.PlotDataItem] = {}
        self.smoothing = 0.9
        self.aliases: list[str] = []  # loss terms identical to 'loss', drawn once
        self.hint = pg.TextItem(hint, color="#6b7280", anchor=(0.5, 0.5))
        self.hint.setPos(0.5, 0.5)
        self.item.addItem(self.hint, ignoreBounds=True)
        # following a run another process writes (set_following): curves from running min/max bins and a view
        # range set here only when the data leaves it, until the user zooms or pans (then as usual)
        self.following = False
        self._bins: dict[tuple, MinMaxBins] = {}
        self._user_range = False
        self._fitted = False  # fit_view: the curves fill the view until new values arrive
        self.item.getViewBox().sigRangeChangedManually.connect(self._on_user_range)
        self._build_controls()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.plot, 1)
        layout.addLayout(self._controls)
        plain_axes(self)

    def _build_controls(self) -> None:
        self.smooth_slider = QSlider(Qt.Horizontal)
        self.smooth_slider.setRange(0, 99)
        self.smooth_slider.setValue(int(self.smoothing * 100))
        self.smooth_slider.setToolTip("EMA smoothing of the bold curves (0 = raw)")
        self.smooth_slider.valueChanged.connect(self._set_smoothing)
        self.smooth_label = QLabel()
        self.log_y = QCheckBox("log y")
        self.log_y.toggled.connect(self._set_log_y)
        self._controls = QHBoxLayout()
        self._controls.addWidget(QLabel("smoothing"))
        self._controls.addWidget(self.smooth_slider, 1)
        self._controls.addWidget(self.smooth_label)
        self._controls.addWidget(self.log_y)
        self._set_smoothing(self.smooth_slider.value())

    def _set_log_y(self, on: bool) -> None:
        self.item.setLogMode(y=on)
        self.redraw()  # the kept range is in the old coordinates

    def add_control(self, widget) -> None:
        """A widget at the start of the controls row (the Runs dock's column picker)."""
        self._controls.insertWidget(0, widget)

    def _set_smoothing(self, v: int) -> None:
        self.smoothing = v / 100.0
        self.smooth_label.setText(f"{self.smoothing:.2f}")
        self.redraw()

    def clear(self) -> None:
        for raw, smooth in self.curves.values():
            if raw is not None:
                self.item.removeItem(raw)
            self.item.removeItem(smooth)
        for it in self.metric_items.values():
            self.item.removeItem(it)
        self.legend.clear()
        self.series, self.curves, self.metric_series, self.metric_items = {}, {}, {}, {}
        self._smooth = {}
        self._bins, self._user_range = {}, False
        self.aliases = []
        self.hint.setVisible(True)
        self.item.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)  # the hint in the middle, not at an old step
        self.item.enableAutoRange()  # the next run's curves frame themselves

    def _curves_for(self, name: str):
        if name not in self.curves:
            color = self.colors.get(name) or CURVE_COLORS[len(self.curves) % len(CURVE_COLORS)]
            thin = {"autoDownsampleFactor": PEAK_BINS_PER_PX}
            if not self.raw:  # overlays: a zoom re-downsamples once, not again for the y range that follows it
                thin["dynamicRangeLimit"] = None
            raw = self.item.plot(pen=pg.mkPen(pg.mkColor(color).darker(200), width=1), **thin) if self.raw else None
            smooth = self.item.plot(pen=pg.mkPen(color, width=2 if self.raw else 1), **thin)  # overlays: thin lines
            self.legend.addItem(smooth, name)
            self.curves[name] = (raw, smooth)
            self._thin(raw, smooth, not self._decimating())
        return self.curves[name]

    def _thin(self, raw, smooth, by_pyqtgraph: bool) -> None:
        """pyqtgraph's peak downsampling and clip-to-view (redone on every data or range change), or none:
        the data given is already thinned (a followed run's min/max bins)."""
        for c in (raw, smooth):
            if c is not None and c.opts["autoDownsample"] != by_pyqtgraph:
                c.setDownsampling(auto=by_pyqtgraph, method="peak")
                c.setClipToView(by_pyqtgraph)
                # bins: nor a pass over the data for each new y range (overlays never have one, see _curves_for)
                c.setDynamicRangeLimit(1e6 if by_pyqtgraph and self.raw else None)

    # -- following a live run --------------------------------------------------------------------------------
    def set_following(self, on: bool) -> None:
        """Following a run that another process writes: each redraw hands pyqtgraph at most FOLLOW_BINS min/max
        bins per curve (kept up to date for the new rows only) and moves the view only when the data leaves it
        (no autorange pass, no re-downsampling of the whole history, no re-ticking of the axes on most redraws:
        what made a redraw cost ~10 ms at 100k rows). A zoom or pan by the user gives the view back to them,
        with the full data; the plot's auto-range button hands it back."""
        if on == self.following:
            return
        self.following, self._bins, self._user_range = on, {}, False
        if not on:
            self.item.enableAutoRange()
        self.redraw()

    def _decimating(self) -> bool:
        return self.following and not self._user_range

    def _on_user_range(self, *_args) -> None:
        if not self._user_range:
            self._user_range = True
            if self.following:
                self.redraw()  # the full data for the user's zoom, not the bins

    def _binned(self, key, x: np.ndarray, y: np.ndarray):
        bins = self._bins.get(key)
        if bins is None:
            bins = self._bins[key] = MinMaxBins()
        return bins.update(x, y)

    def _keep_range(self, shown: list) -> None:
        """Move the view only when the data leaves it: x to a round length past the last step, y with a margin.
        Live and followed alike: pyqtgraph's auto-range refits every redraw, and each new range re-ticks the
        axes (~7 ms a redraw of the loss plot, the biggest piece of a live 2D model's frame). A zoom or pan by
        the user stops it; the plot's auto-range button resumes it."""
        shown = [(x, y) for x, y in shown if len(x)]
        if not shown:
            return
        vb = self.item.getViewBox()
        vb.disableAutoRange()
        x0 = min(float(x[0]) for x, _ in shown)
        x1 = max(float(x[-1]) for x, _ in shown)
        if self.log_y.isChecked():  # the positive values, in log10 units (no copy of the whole history per redraw)
            y0 = min(float(np.min(y, initial=np.inf, where=y > 0)) for _, y in shown)
            y1 = max(float(np.max(y, initial=-np.inf, where=y > 0)) for _, y in shown)
            y0, y1 = (np.log10(y0), np.log10(y1)) if np.isfinite(y0) else (0.0, 0.0)
        else:
            y0, y1 = min(float(y.min()) for _, y in shown), max(float(y.max()) for _, y in shown)
        (vx0, vx1), (vy0, vy1) = vb.viewRange()
        xr = yr = None
        # steps are never negative: a view reaching below 0 is pyqtgraph's own fit around a lone step-0 point
        if x0 < vx0 or x1 > vx1 or vx1 - vx0 > 4 * max(x1 - x0, 1) or vx0 < min(x0, 0.0):
            xr = (x0, x0 + _nice_ceil(max(x1 - x0, 1.0) * 1.5))  # room to grow: the axes stay put a while
        # at least 2% of the values' size: held-out points alone at step 0 (NADE's 552.13) were framed to 1e-4,
        # and the axis ticked in five-digit decimals
        span = max(y1 - y0, 0.02 * max(abs(y0), abs(y1)), 1e-6)
        if y0 < vy0 or y1 > vy1 or not span <= vy1 - vy0 <= 3 * span:
            pad = 0.25 * span  # room: a loss creeping down moves it rarely
            yr = (y0 - pad, y1 + pad)
        if xr is not None or yr is not None:
            vb.setRange(xRange=xr, yRange=yr, padding=0)

    def fit_view(self) -> None:
        """The run stopped: the view fits the curves (the room kept for them to grow is no use now). A user's own
        zoom stays; the next redraw of a running curve keeps room again."""
        if not any(len(x) and x[-1] > x[0] for x in (s.data()[0] for s in self.series.values())):
            return  # no curve, or a lone step: pyqtgraph's fit would frame it to a speck
        if not self._user_range:
            self._fitted = True  # until new values arrive (append)
            self.item.enableAutoRange()
            self.item.getViewBox().updateAutoRange()  # now, not at the next paint (a hidden window has none)

    def _add_name(self, name: str, values, losses: dict) -> None:
        """A new series; a term equal to 'loss' (e.g. a flow's nll) is kept for export but not drawn twice."""
        self.series[name] = Series()
        if name != "loss" and "loss" in losses and np.array_equal(values, losses["loss"]):
            self.aliases.append(name)
            smooth = self._curves_for("loss")[1]
            self.legend.removeItem(smooth)
            self.legend.addItem(smooth, " = ".join(["loss", *self.aliases]))
        else:
            self._curves_for(name)

    def _unalias(self, name: str) -> None:
        """A term that stopped equalling 'loss' (distillation: the teacher's NLL, once the loss is the student's
        KL) gets its own curve, and the loss's legend stops naming it."""
        self.aliases.remove(name)
        smooth = self._curves_for("loss")[1]
        self.legend.removeItem(smooth)
        self.legend.addItem(smooth, " = ".join(["loss", *self.aliases]))
        self._curves_for(name)

    def append(self, steps: np.ndarray, losses: dict[str, np.ndarray]) -> None:
        self._fitted = False
        for name in [a for a in self.aliases if a in losses and "loss" in losses]:
            if not np.array_equal(losses[name], losses["loss"]):
                self._unalias(name)
        for name, values in losses.items():
            if name not in self.series:
                self._add_name(name, values, losses)
            x, y = np.asarray(steps, np.float64), np.asarray(values, np.float64)
            ok = np.isfinite(y)  # a NaN step (the session stops on it) would break the EMA and the autorange
            self.series[name].extend(x[ok], y[ok])
        self.hint.setVisible(not self.series and not self.metric_series)

    def add_metrics(self, step: int, metrics: dict[str, float]) -> None:
        for name, v in metrics.items():
            if not math.isfinite(v):  # not defined yet (distillation's KL while its teacher trains): no marker
                continue
            if name not in self.metric_items:
                color = CURVE_COLORS[(len(self.metric_items) + 3) % len(CURVE_COLORS)]
                self.metric_items[name] = self.item.plot(  # markers: no line to guard against huge values, so no
                    pen=None, symbol="o", symbolSize=6, symbolBrush=color, symbolPen=None,  # rebuild per y range
                    dynamicRangeLimit=None)
                self.legend.addItem(self.metric_items[name], f"val {name}")
                self.metric_series[name] = Series(256)
            self.metric_series[name].extend(np.array([step], np.float64), np.array([v], np.float64))
        # a held-out point is drawn: the hint (placed at (0.5, 0.5) in data units) would sit at the plot's
        # right edge, cut off, over a step-0 point
        self.hint.setVisible(not self.series and not self.metric_series)

    def redraw(self) -> None:
        if self._user_range and any(self.item.getViewBox().autoRangeEnabled()):
            self._user_range = False  # the auto-range button: following keeps the view again
        entries = tuple(label.text for _, label in self.legend.items)
        if entries != self._legend_entries:  # a new or renamed entry widens the legend's column: lay it out
            self._legend_entries = entries   # now, or for a frame the legend overlaps the plot (distillation's
            self.plot.ci.layout.activate()   # switch adds "val kl" and "teacher_nll" in one snapshot)
        binned = self._decimating()
        shown = []
        for name, (raw, smooth) in self.curves.items():
            if name not in self.series:
                continue
            self._thin(raw, smooth, not binned)
            x, y = self.series[name].data()
            ys = self._smoothed(name, y)
            if binned:
                if raw is not None:
                    raw.setData(*self._binned((name, "raw"), x, y))
                    shown.append(raw.getData())
                smooth.setData(*self._binned((name, "smooth", self.smoothing), x, ys))
                shown.append(smooth.getData())
                continue
            if raw is not None:
                raw.setData(x, y)
                shown.append((x, y))
            smooth.setData(x, ys)
            shown.append((x, ys))
        for name, it in self.metric_items.items():
            x, y = self.metric_series[name].data()
            if binned and len(x) > FOLLOW_MARKERS:  # markers: evenly spread, the latest always among them
                keep = np.unique(np.linspace(len(x) - 1, 0, FOLLOW_MARKERS).round().astype(int))
                x, y = x[keep], y[keep]
            it.setData(x, y)
            shown.append((x, y))
        if not self._user_range and not self._fitted:
            self._keep_range(shown)

    def _smoothed(self, name: str, y: np.ndarray) -> np.ndarray:
        """ema(y, 1 - smoothing), computed only for the values appended since the last redraw (a followed run's
        100k-row history costs nothing per poll); recomputed when the smoothing changes."""
        alpha = 1.0 - self.smoothing
        cached = self._smooth.get(name)
        if cached is None or cached[0] != alpha or cached[1].n > len(y):
            cached = self._smooth[name] = (alpha, Series(max(1024, len(y))))
        done = cached[1]
        if done.n < len(y):
            start = done.y[done.n - 1] if done.n else None
            new = y[done.n:]
            done.extend(new, ema(new, alpha, start))
        return done.y[:done.n]

    def load_history(self, cols: dict, redraw: bool = True, skip=()) -> tuple | None:
        """A run folder's metrics.csv columns ('step', losses, 'val_<metric>'): its curves, as if trained here
        (`redraw=False`: the caller redraws, e.g. in the event loop's next pass); the metrics in `skip` (the
        panel's own: a GAN's JSD, distillation's speed-up) stay off the loss axis, as they do live. Returns the
        columns' history_parts for the caller's panel; None for no rows."""
        steps = cols.get("step")
        if steps is None or not len(steps):
            return None
        ok, losses, vals = history_parts(cols)
        if losses:
            self.append(steps[ok], {k: v[ok] for k, v in losses.items()})
        for name, v in vals.items():
            if name not in skip:
                for s, x in zip(steps[np.isfinite(v)], v[np.isfinite(v)]):
                    self.add_metrics(int(s), {name: float(x)})
        if redraw:
            self.redraw()
        return ok, losses, vals

    def history(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """name -> (steps, values) for every loss and (as 'val_<name>') every metric; for CSV export."""
        out = {name: s.data() for name, s in self.series.items()}
        out.update({f"val_{name}": s.data() for name, s in self.metric_series.items()})
        return out

    def plots(self) -> dict:
        return {"loss": self.item}
