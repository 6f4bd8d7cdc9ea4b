"""The single-layer lab: N(0, I) pushed through one planar layer (drag w and u) or one affine coupling.

Each change recomputes a 200 x 200 density on the GUI thread with genviz.core.flows.lab (budget 33 ms,
bench/bench_planar_drag.py) and mutates the existing image and curves; nothing is rebuilt. The "without û"
box swaps in the raw u (genviz.core.flows.fold): for wᵀu < −1 the plane folds, coloured samples swap order
along w, and the change-of-variables density's grid integral drops below 1 (shown next to its exact value).
"""
from __future__ import annotations

import math
import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QGridLayout, QLabel, QSlider, QVBoxLayout, QWidget

from genviz.core.flows import fold, lab
from genviz.core.model import integrate_density
from genviz.gui.panels.toolkit import rich_label

BOX = (-4.0, 4.0, -4.0, 4.0)
RES = 200
LINE_PEN = pg.mkPen(120, 200, 255, 110, width=1)
_RAMP = np.linspace(0, 1, 400)[:, None]  # cyan (smallest wᵀz) → orange (largest), both bright on inferno
SAMPLE_BRUSHES = np.array([pg.mkBrush(*c, 230) for c in ((1 - _RAMP) * (80, 220, 255) + _RAMP * (255, 140, 40)).astype(int)])


def slider(lo: float, hi: float, value: float, steps: int = 200) -> QSlider:
    """A horizontal slider over [lo, hi] in `steps` ticks; the float value lives in .value_of()."""
    s = QSlider(Qt.Horizontal)
    s.setRange(0, steps)
    s.lo, s.hi, s.steps = lo, hi, steps
    s.setValue(round((value - lo) / (hi - lo) * steps))
    return s


def value_of(s: QSlider) -> float:
    return s.lo + (s.hi - s.lo) * s.value() / s.steps


class LayerLabView(QWidget):
    """Planar (left) and affine coupling (right) labs. `redrawn` carries the last recompute time in ms."""

    redrawn = Signal(float)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.w, self.u, self.b = np.array([1.5, 0.5]), np.array([1.0, -0.5]), 0.0
        self.st = {"s0": 0.0, "s1": 0.3, "t0": 0.0, "t1": 0.4}
        win = pg.GraphicsLayoutWidget()
        self.planar_plot = self._density_plot(win, "planar: x = z + û·tanh(wᵀz + b)   (drag w, u)")
        self.coupling_plot = self._density_plot(win, "affine coupling: x₁ = z₁, x₂ = z₂·exp(s(z₁)) + t(z₁)")
        self.planar_img, self.planar_lines = self.planar_plot.img, self.planar_plot.lines
        self.coupling_img, self.coupling_lines = self.coupling_plot.img, self.coupling_plot.lines
        self.hyperplane = pg.PlotDataItem(pen=pg.mkPen(255, 255, 255, 160, width=1, style=Qt.DashLine))
        self.u_hat_arrow = pg.PlotDataItem(pen=pg.mkPen(255, 160, 60, 220, width=2))
        # base samples coloured by α = wᵀz (blue → orange): with û their colours stay in order along w;
        # without it, across a fold, they cross
        self.samples = pg.ScatterPlotItem(size=4, pen=None)
        self.planar_plot.addItem(self.samples)
        self.planar_plot.addItem(self.hyperplane)
        self.planar_plot.addItem(self.u_hat_arrow)
        self.w_handle = self._handle(self.w, "w", (90, 170, 255), (20, 30, 60, 200))
        self.u_handle = self._handle(self.u, "u", (255, 160, 60), (70, 35, 10, 200))
        for h in (self.w_handle, self.u_handle):
            self.planar_plot.addItem(h)
            h.sigPositionChanged.connect(self._on_handle)
        self.timing = QLabel("")
        self.integral_label = rich_label()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(win, 1)
        layout.addLayout(self._controls())
        self.set_planar()
        self.set_coupling()

    @staticmethod
    def _handle(pos, name: str, color, fill) -> pg.TargetItem:
        """A draggable point for a vector parameter, labelled white on a dark chip (readable on any density)."""
        return pg.TargetItem(pos=tuple(pos), size=14, symbol="o", label=name, pen=pg.mkPen(*color, width=2),
                             labelOpts={"color": (255, 255, 255), "fill": fill})

    def _density_plot(self, win, title: str):
        p = win.addPlot(title=title)
        p.setAspectLocked(True)
        p.setLabel("bottom", "x₁")
        p.setLabel("left", "x₂")
        p.img = pg.ImageItem(axisOrder="row-major")
        p.img.setColorMap(pg.colormap.get("inferno"))
        p.lines = pg.PlotDataItem(pen=LINE_PEN, connect="finite")
        p.addItem(p.img)
        p.addItem(p.lines)
        p.setRange(xRange=BOX[:2], yRange=BOX[2:], padding=0.0)
        p.disableAutoRange()
        return p

    def _controls(self) -> QGridLayout:
        grid = QGridLayout()
        self.b_slider = slider(-3, 3, self.b)
        self.b_slider.valueChanged.connect(lambda _: self.set_planar(b=value_of(self.b_slider)))
        grid.addWidget(QLabel("b (offset)"), 0, 0)
        grid.addWidget(self.b_slider, 0, 1)
        self.raw_u = QCheckBox("without û (use the raw u)")
        self.raw_u.setToolTip("û = u + [m(wᵀu) − wᵀu]·w/‖w‖², m(a) = −1 + softplus(a), keeps wᵀû > −1: the map stays "
                              "one-to-one. Without it, wᵀu < −1 folds the plane.")
        self.raw_u.toggled.connect(lambda _: self.set_planar())
        grid.addWidget(self.raw_u, 1, 0, 1, 2)
        grid.addWidget(self.timing, 2, 0, 1, 2)
        grid.addWidget(self.integral_label, 3, 0, 1, 6)
        self.st_sliders = {}
        names = {"s0": "log-scale s₀", "s1": "scale slope s₁ (s = s₀ + s₁x₁)", "t0": "shift t₀",
                 "t1": "shift bend t₁ (t = t₀ + t₁x₁²)"}
        for row, (key, text) in enumerate(names.items()):
            s = slider(-1.5, 1.5, self.st[key])
            s.valueChanged.connect(lambda _, k=key, s=s: self.set_coupling(**{k: value_of(s)}))
            self.st_sliders[key] = s
            grid.addWidget(QLabel(text), row // 2, 2 + 2 * (row % 2))
            grid.addWidget(s, row // 2, 3 + 2 * (row % 2))
        return grid

    # -- interaction ----------------------------------------------------------------------------------
    def _on_handle(self, *_):
        self.set_planar(w=np.array(self.w_handle.pos()), u=np.array(self.u_handle.pos()), move_handles=False)

    def set_planar(self, w=None, u=None, b=None, move_handles: bool = True) -> float:
        """Change any of w, u, b (as a drag or slider would) and redraw; returns the recompute time in ms."""
        t0 = time.perf_counter()
        if w is not None:
            self.w = np.asarray(w, np.float64)
            if np.linalg.norm(self.w) < 1e-3:  # w = 0 has no hyperplane; keep the map defined
                self.w = self.w + 1e-3
        if u is not None:
            self.u = np.asarray(u, np.float64)
        if b is not None:
            self.b = float(b)
        raw = self.raw_u.isChecked()
        self.planar_plot.setTitle(f"planar: x = z + {'u' if raw else 'û'}·tanh(wᵀz + b)   (drag w, u)")
        if raw:  # the û density is not drawn: only û itself, without its 200×200 grid
            self.u_hat = lab.planar_layer(self.w, self.u, self.b).u_hat().numpy()
            shift, out = self.u, self._unfixed()
        else:
            out = lab.planar_density(self.w, self.u, self.b, BOX, RES)
            self.u_hat = shift = out["u_hat"]
            # integrated with the fold module's cell-averaged Jacobian: near wᵀû = −1 the mass is a sheet
            # thinner than a pixel, which a plain grid sum of point values over- or under-counts
            wu = float(self.w @ self.u)
            slack = math.log1p(math.exp(-abs(wu))) + max(wu, 0.0)  # softplus(wᵀu) = 1 + wᵀû, in float64
            u_hat = self.u + (slack - 1 - wu) * self.w / (self.w @ self.w)  # û in float64: wᵀû ≥ −1 exactly
            self.integral = integrate_density(fold.unfixed_density(self.w, u_hat, self.b, BOX, 120)["all"], BOX)
            self.integral_label.setText(
                f"with û: wᵀû = −1 + softplus(wᵀu) = −1 + <b>{slack:.3g}</b> &gt; −1 (wᵀu = {wu:.2f}), "
                f"one-to-one; ∫ p<sub>X</sub> dx over the box = <b>{self.integral:.3f}</b>")
        self._show(self.planar_img, self.planar_lines, out)
        self._draw_geometry(shift)
        pts, alpha = fold.push_samples(self.w, shift, self.b)
        self.samples.setData(pts[:, 0], pts[:, 1], brush=SAMPLE_BRUSHES[np.argsort(np.argsort(alpha))])
        if move_handles:
            for h, v in ((self.w_handle, self.w), (self.u_handle, self.u)):
                h.blockSignals(True)
                h.setPos(*v)
                h.blockSignals(False)
        return self._done(t0)

    def _unfixed(self) -> dict:
        """The raw-u map's density from the change-of-variables formula with one f⁻¹, its grid integral and
        the exact one, the integral summed over all preimages, and the folded share of the samples."""
        res = fold.unfixed_density(self.w, self.u, self.b, BOX, RES)
        self.integral = integrate_density(res["one"], BOX)
        self.integral_exact = fold.one_root_mass(self.w, self.u, self.b)
        self.integral_all = integrate_density(res["all"], BOX)
        c = float(self.w @ self.u)
        if res["branches"] == 1:
            verdict = f"wᵀu = {c:.2f} ≥ −1: still one-to-one, so the raw u is fine here"
        else:
            verdict = (f"wᵀu = <b>{c:.2f} &lt; −1</b>: the plane folds, {fold.folded_mass(self.w, self.u, self.b):.0%}"
                       f" of the samples are flipped along w (their colours cross)")
        self.integral_label.setText(
            f"without û: {verdict}. p<sub>X</sub>(x) = N(f⁻¹(x))·|1 + wᵀu·h′|⁻¹ with f⁻¹ = the first root along w: "
            f"∫ over the box = <b>{self.integral:.3f}</b> (exact over the plane {self.integral_exact:.3f}); "
            f"summing all {res['branches']} preimages gives ∫ = {self.integral_all:.3f}")
        lines = lab.base_grid_lines().numpy().astype(np.float64)
        warped = lines + np.tanh(lines @ self.w + self.b)[..., None] * self.u
        return {"log_density": res["one"], "lines": warped, "spiky": res["branches"] > 1}

    def set_coupling(self, **params) -> float:
        t0 = time.perf_counter()
        self.st.update({k: float(v) for k, v in params.items()})
        out = lab.coupling_density(self.st["s0"], self.st["s1"], self.st["t0"], self.st["t1"], BOX, RES)
        self._show(self.coupling_img, self.coupling_lines, out)
        return self._done(t0)

    def _done(self, t0: float) -> float:
        ms = (time.perf_counter() - t0) * 1e3
        self.timing.setText(f"last redraw {ms:.1f} ms (200×200 grid, budget 33 ms)")
        self.redrawn.emit(ms)
        return ms

    @staticmethod
    def _show(img, lines, out) -> None:
        p = np.exp(np.clip(out["log_density"], -50, 10))
        # a fold's edge is an integrable spike: scale to the 99.5th percentile there so the rest stays visible
        top = float(np.percentile(p, 99.5)) if out.get("spiky") else float(p.max())
        img.setImage(p, levels=(0.0, top or 1.0), autoLevels=False)
        hx = (BOX[1] - BOX[0]) / (RES - 1) / 2  # grid values sit at pixel centres
        img.setRect(BOX[0] - hx, BOX[2] - hx, BOX[1] - BOX[0] + 2 * hx, BOX[3] - BOX[2] + 2 * hx)
        lines.setData(*lab.lines_to_path(out["lines"]))

    def _draw_geometry(self, u_hat: np.ndarray) -> None:
        """The hyperplane wᵀz + b = 0 (the layer leaves it fixed) and the arrow û from its foot point."""
        w, b = self.w, self.b
        n = w / np.linalg.norm(w)
        foot = -b * w / (w @ w)
        along = np.array([-n[1], n[0]]) * 12
        self.hyperplane.setData([foot[0] - along[0], foot[0] + along[0]], [foot[1] - along[1], foot[1] + along[1]])
        self.u_hat_arrow.setData([foot[0], foot[0] + u_hat[0]], [foot[1], foot[1] + u_hat[1]])

    def plots(self) -> dict:
        return {"lab_planar": self.planar_plot, "lab_coupling": self.coupling_plot}
