"""Normalizing flows: density and samples, the warp layer by layer, log|det J|, a single-layer lab, speed.

Arrays read from a snapshot (computed by genviz.core.flows.viz in the model's `visualize`), beyond the
density tab's: 'warp_lines' (L+1, n_lines, n_pts, 2) and 'warp_samples' (L+1, n, 2) in the generative
direction, 'pullback' (L+1, m, 2) the data mapped back (entry k: after undoing layers L..k+1),
'layer_names' (L+1,), 'log_det' (res, res), 'bbox' (4,), optionally 'target_log_density' (planar),
'teacher_log_density' (distillation) and 'speed' [[MAF samples/s, densities/s], [IAF ...]].
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QPushButton, QSlider, QSpinBox, QVBoxLayout, QWidget)

from genviz.core.flows.lab import lines_to_path
from genviz.gui.panels.density2d import DENSITY_TITLE, SAMPLES_TITLE, Density2DPanel
from genviz.gui.panels.flows_lab import LayerLabView
from genviz.gui.panels.toolkit import BoxFrame, Heatmap, density_levels, place_image

LINE_PEN = pg.mkPen(120, 200, 255, 120, width=1)
SAMPLE_BRUSH = pg.mkBrush(255, 140, 60, 170)
DATA_BRUSH = pg.mkBrush(230, 230, 230, 150)
BASE_BOX = (-3.5, 3.5, -3.5, 3.5)


def circles(plot, radii=(1.0, 2.0)) -> None:
    """Dashed circles of radius 1σ and 2σ: where a standard normal puts 39% and 86% of its mass."""
    t = np.linspace(0, 2 * np.pi, 121)
    for r in radii:
        plot.plot(r * np.cos(t), r * np.sin(t), pen=pg.mkPen(255, 255, 255, 90, style=Qt.DashLine))


class WarpView(QWidget):
    """Slider + play over layer index k: base grid and samples after k layers; data after undoing the rest."""

    def __init__(self, parent=None):
        super().__init__(parent)
        win = pg.GraphicsLayoutWidget()
        self.fwd = win.addPlot(title="z₀ → x: base grid lines and samples after k layers")
        self.back = win.addPlot(title="x → z₀: data after undoing layers L … k+1")
        for p in (self.fwd, self.back):
            p.setAspectLocked(True)
            circles(p)
        self.lines = pg.PlotDataItem(pen=LINE_PEN, connect="finite")
        self.samples = pg.ScatterPlotItem(size=3, pen=None, brush=SAMPLE_BRUSH)
        self.pulled = pg.ScatterPlotItem(size=3, pen=None, brush=DATA_BRUSH)
        self.fwd.addItem(self.lines)
        self.fwd.addItem(self.samples)
        self.back.addItem(self.pulled)
        self.framing = BoxFrame(self.fwd, self.back)  # one fixed view for both, zoomed together
        self.slider = QSlider(Qt.Horizontal)
        self.slider.valueChanged.connect(self.draw)
        self.play_button = QPushButton("▶ play")
        self.play_button.setCheckable(True)
        self.play_button.toggled.connect(self._toggle_play)
        self.label = QLabel("")
        self.timer = QTimer(self)
        self.timer.setInterval(600)
        self.timer.timeout.connect(self._advance)
        row = QHBoxLayout()
        row.addWidget(self.play_button)
        row.addWidget(QLabel("layer k"))
        row.addWidget(self.slider, 1)
        row.addWidget(self.label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(win, 1)
        layout.addLayout(row)
        self.arrays: dict = {}

    def frame(self, bbox) -> None:
        """One fixed view for every k: the data box and the base box together (no autoscale jumps)."""
        x0, x1 = min(bbox[0], BASE_BOX[0]), max(bbox[1], BASE_BOX[1])
        y0, y1 = min(bbox[2], BASE_BOX[2]), max(bbox[3], BASE_BOX[3])
        self.framing.set_box((x0, x1, y0, y1))

    def show(self, arrays: dict) -> None:
        if "warp_lines" not in arrays:
            return
        self.arrays = arrays
        top = len(arrays["warp_lines"]) - 1
        if self.slider.maximum() != top:
            self.slider.blockSignals(True)
            self.slider.setRange(0, top)
            self.slider.setValue(top)
            self.slider.blockSignals(False)
        has_back = "pullback" in arrays
        self.back.setTitle("x → z₀: data after undoing layers L … k+1" if has_back
                           else "(no data to pull back: this flow fits an energy, not data)")
        self.draw()

    def draw(self, *_):
        a, k = self.arrays, self.slider.value()
        if not a:
            return
        k = min(k, len(a["warp_lines"]) - 1)
        self.lines.setData(*lines_to_path(a["warp_lines"][k]))
        s = a["warp_samples"][k]
        self.samples.setData(s[:, 0], s[:, 1])
        if "pullback" in a:
            d = a["pullback"][k]
            self.pulled.setData(d[:, 0], d[:, 1])
        else:
            self.pulled.setData([], [])
        names = a.get("layer_names")
        after = "base N(0, I)" if k == 0 else f"after {names[k]}" if names is not None else ""
        self.label.setText(f"k = {k} / {len(a['warp_lines']) - 1}  {after}")

    def _toggle_play(self, on: bool) -> None:
        self.play_button.setText("❚❚ pause" if on else "▶ play")
        if on:
            if self.slider.value() >= self.slider.maximum():
                self.slider.setValue(0)
            self.timer.start()
        else:
            self.timer.stop()

    def _advance(self) -> None:
        self.slider.setValue((self.slider.value() + 1) % (self.slider.maximum() + 1))


class FlowsPanel(Density2DPanel):
    """Density · samples, layer by layer, log|det J|, single-layer lab, MAF vs IAF speed.

    Only the first tab is built with the panel; the others when first shown (toolkit.LazyPage), drawn then
    from the latest snapshot's arrays, which the panel keeps."""

    # distillation's IAF ÷ MAF sampling speed-up is a ratio of the architectures, not a loss: its tab shows it
    own_metrics = frozenset({"speedup"})

    def __init__(self, parent=None):
        super().__init__(parent)
        self.reference = pg.ImageItem(axisOrder="row-major")  # target energy / teacher density under samples
        self.reference.setColorMap(pg.colormap.get(self.colormap))
        self.reference.setZValue(-10)
        self.samples_plot.addItem(self.reference)
        self._warp_arrays: dict = {}  # the latest snapshot's warp arrays, for a warp tab built later
        self._log_det = None  # the latest (log|det J| grid, level) for a log|det J| tab built later
        self._speed = None  # the latest (table, source) for a speed tab built later
        self._warp_page = self.add_lazy_tab(self._build_warp_tab, "layer by layer")
        self._logdet_page = self.add_lazy_tab(self._build_logdet_tab, "log|det J|")
        self._lab_page = self.add_lazy_tab(LayerLabView, "single-layer lab")
        self._speed_page = self.add_lazy_tab(self._build_speed_tab, "MAF vs IAF speed")
        self.speed_tab = self.tabs.indexOf(self._speed_page)
        self.tabs.setTabVisible(self.speed_tab, False)  # shown when the model's snapshots measure it

    # the views of the lazily built tabs: asking for one builds its tab
    @property
    def warp(self) -> "WarpView":
        return self._warp_page.ensure()

    @property
    def lab(self) -> LayerLabView:
        return self._lab_page.ensure()

    @property
    def logdet_plot(self) -> pg.PlotItem:
        return self._logdet_page.ensure().plot

    @property
    def logdet_img(self) -> pg.ImageItem:
        return self._logdet_page.ensure().map.img

    @property
    def speed_plot(self) -> pg.PlotItem:
        return self._speed_page.ensure().plot

    @property
    def speed_bars(self) -> pg.BarGraphItem:
        return self._speed_page.ensure().bars

    @property
    def speed_text(self) -> QLabel:
        return self._speed_page.ensure().text

    @property
    def speed_dim(self) -> QSpinBox:
        return self._speed_page.ensure().dim

    def _build_warp_tab(self) -> "WarpView":
        warp = WarpView()
        warp.frame(self.bbox)
        if self._warp_arrays:
            warp.show(self._warp_arrays)
        return warp

    def _build_logdet_tab(self) -> QWidget:
        win = pg.GraphicsLayoutWidget()
        win.plot = win.addPlot(title="log |det ∂f⁻¹/∂x| over data space "
                                     "(> 0: the flow squeezes volume here and raises the density)")
        win.plot.setAspectLocked(True)
        win.map = Heatmap(win.plot, "CET-D1", "nats", (-3.0, 3.0))
        win.frame = BoxFrame(win.plot)
        win.frame.set_box(self.bbox)
        if self._log_det is not None:
            win.map.show(self._log_det[0], self.bbox, self._log_det[1])
        return win

    def _build_speed_tab(self) -> QWidget:
        box = QWidget()
        win = pg.GraphicsLayoutWidget()
        box.plot = win.addPlot(title="MAF vs IAF: thousands per second (this model's size)")
        box.bars = pg.BarGraphItem(x=np.arange(4), height=np.zeros(4), width=0.6,
                                   brushes=[pg.mkBrush(90, 170, 255), pg.mkBrush(255, 140, 60)] * 2)
        box.plot.addItem(box.bars)
        ticks = [(0, "MAF sample"), (1, "IAF sample"), (2, "MAF density"), (3, "IAF density")]
        box.plot.getAxis("bottom").setTicks([ticks])
        box.plot.setLabel("left", "k per second")
        box.text = QLabel("train MAF, IAF or the distillation model to see live numbers, or measure:")
        box.text.setWordWrap(True)  # the live ratios are long: wrap rather than run under the controls
        box.dim = QSpinBox()
        box.dim.setRange(2, 64)
        box.dim.setValue(8)
        box.dim.setPrefix("D = ")
        measure = QPushButton("measure course-size MAF/IAF")
        measure.clicked.connect(self.measure_speed)
        row = QHBoxLayout()
        row.addWidget(box.text, 1)
        row.addWidget(box.dim)
        row.addWidget(measure)
        layout = QVBoxLayout(box)
        layout.addWidget(win, 1)
        layout.addLayout(row)
        if self._speed is not None:
            self._draw_speed(box, *self._speed)
        return box

    # -- Panel API ---------------------------------------------------------------------------------
    def begin(self, info: dict) -> None:
        super().begin(info)
        self.reference.clear()
        for item in (self.data_scatter, self.data_grey):
            item.setVisible(True)
        self.samples_plot.setTitle(SAMPLES_TITLE)
        self.density_plot.setTitle(DENSITY_TITLE)
        self._warp_arrays, self._log_det, self._speed = {}, None, None
        if self._warp_page.content is not None:
            self.warp.arrays = {}
        if self._logdet_page.content is not None:
            self._logdet_page.content.map.clear()
        self._frame_tabs()

    def set_box(self, bbox) -> None:
        super().set_box(bbox)
        self._frame_tabs()

    def _frame_tabs(self) -> None:
        if self._warp_page.content is not None:
            self.warp.frame(self.bbox)
        if self._logdet_page.content is not None:
            self._logdet_page.content.frame.set_box(self.bbox)

    def show_snapshot(self, snap) -> None:
        a = snap.arrays
        if "bbox" in a and tuple(np.round(a["bbox"], 6)) != tuple(np.round(self.bbox, 6)):
            self.set_box(a["bbox"])  # planar flows live in their target's box
        super().show_snapshot(snap)
        self._show_reference(a)
        if "warp_lines" in a:
            self._warp_arrays = a
            if self._warp_page.content is not None:
                self.warp.show(a)
        if "log_det" in a:
            ld = np.clip(a["log_det"], -50, 50)
            lim = max(float(np.percentile(np.abs(ld), 99)), 0.1)
            self._log_det = (ld, (-lim, lim))
            if self._logdet_page.content is not None:
                self._logdet_page.content.map.show(ld, self.bbox, (-lim, lim))
        if a.get("speed") is not None:
            self.tabs.setTabVisible(self.speed_tab, True)
            roles = " (MAF = teacher, IAF = student)" if "teacher_log_density" in a else ""  # distillation
            self.show_speed(np.asarray(a["speed"]), f"live, from this model{roles}")

    def _show_reference(self, a: dict) -> None:
        key = "target_log_density" if "target_log_density" in a else "teacher_log_density"
        if key not in a:
            return
        p = np.exp(np.clip(a[key], -50, 20)).astype(np.float32)
        place_image(self.reference, p, self.bbox, density_levels(p))
        planar = key == "target_log_density"
        for item in (self.data_scatter, self.data_grey):
            item.setVisible(not planar)  # the data are not what a planar flow fits
        self.samples_plot.setTitle("samples over the target exp(−U)/Z" if planar
                                   else "student (IAF) samples over the teacher (MAF) density")
        self.density_plot.setTitle(DENSITY_TITLE if planar else "student (IAF) density")

    def show_speed(self, table: np.ndarray, source: str) -> None:
        self._speed = (table, source)
        if self._speed_page.content is not None:  # else drawn when the tab is first shown
            self._draw_speed(self._speed_page.content, table, source)

    @staticmethod
    def _draw_speed(box, table: np.ndarray, source: str) -> None:
        heights = np.array([table[0, 0], table[1, 0], table[0, 1], table[1, 1]]) / 1e3
        box.bars.setOpts(height=heights)
        box.plot.setYRange(0, float(heights.max()) * 1.1 or 1.0)
        box.text.setText(f"{source}: IAF samples {table[1, 0] / table[0, 0]:.1f}× faster, "
                         f"MAF scores densities {table[0, 1] / table[1, 1]:.1f}× faster")

    def measure_speed(self) -> None:
        """Time a course-size MAF (5 blocks × 100 units) at the chosen D and the same network run as an IAF.

        Built seeded (its initial weights come from a generator of its own, torch's global generator is left
        as it was: a run may be training on it in the worker), and the IAF is the MAF's twin: speed depends
        on the architecture, not the weights."""
        from genviz.core import registry
        from genviz.core.flows.maf import rates, twin

        d = self.speed_dim.value()
        maf = registry.build("maf", data_dim=d, seed=0)
        table = np.array([rates(maf, 2048), rates(twin(maf, "iaf"), 2048)])
        self.show_speed(table, f"measured at D = {d}")

    def plots(self) -> dict:
        return {**super().plots(), "warp": self.warp.fwd, "pullback": self.warp.back,
                "log_det": self.logdet_plot, **self.lab.plots(), "speed": self.speed_plot}
