"""The single-layer lab: N(0, I) pushed through one planar layer (drag w and u) or one affine coupling.

Each change recomputes a 200 x 200 density on the GUI thread with genviz.core.flows.lab (budget 33 ms,
bench/bench_planar_drag.py) and mutates the existing image and curves; nothing is rebuilt.
"""
from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QGridLayout, QLabel, QSlider, QVBoxLayout, QWidget

from genviz.core.flows import lab

BOX = (-4.0, 4.0, -4.0, 4.0)
RES = 200
LINE_PEN = pg.mkPen(120, 200, 255, 110, width=1)


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
        self.planar_plot.addItem(self.hyperplane)
        self.planar_plot.addItem(self.u_hat_arrow)
        self.w_handle = self._handle(self.w, "w", (90, 170, 255), (20, 30, 60, 200))
        self.u_handle = self._handle(self.u, "u", (255, 160, 60), (70, 35, 10, 200))
        for h in (self.w_handle, self.u_handle):
            self.planar_plot.addItem(h)
            h.sigPositionChanged.connect(self._on_handle)
        self.timing = QLabel("")
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
        grid.addWidget(self.timing, 1, 0, 1, 2)
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
        out = lab.planar_density(self.w, self.u, self.b, BOX, RES)
        self.u_hat = out["u_hat"]
        self._show(self.planar_img, self.planar_lines, out)
        self._draw_geometry(self.u_hat)
        if move_handles:
            for h, v in ((self.w_handle, self.w), (self.u_handle, self.u)):
                h.blockSignals(True)
                h.setPos(*v)
                h.blockSignals(False)
        return self._done(t0)

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
        img.setImage(p, levels=(0.0, float(p.max()) or 1.0), autoLevels=False)
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
