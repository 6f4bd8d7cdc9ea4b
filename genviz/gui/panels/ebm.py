"""Energy-based models: the landscape −f, its normalized density, Langevin chains, and what CD sees.

2D tab 'landscape': −f(x) as a heatmap with contours, data in white and Langevin chains animated as trails;
a click drops a new chain there (sent as ("view", {"chain_starts": [...]})), which slides downhill in the
following snapshots. Beside it the normalized density exp(f)/Z (Z integrated on the grid) with the
current negatives. Tab 'energies': mean f on data vs on negatives (CD) or on noisy data (DSM) per step.
Tab 'anomaly': histograms of f on held-out points vs another dataset. Images: grids of current negatives
and of chains started from noise.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QTabWidget, QVBoxLayout, QWidget

from genviz.core.ebm.anomaly import other_dataset_label
from genviz.gui.panels.base import Panel
from genviz.gui.panels.toolkit import colorbar, density_levels, place_image, robust_levels

DATA_BRUSH = pg.mkBrush(255, 255, 255, 60)
NEG_BRUSH = pg.mkBrush(80, 200, 255, 200)
START_BRUSH = pg.mkBrush(255, 80, 80, 230)
CONTOUR_PEN = pg.mkPen(255, 255, 255, 70, width=1)
TRAIL_COLORS = [(255, 170, 60), (120, 230, 150), (255, 110, 140), (160, 150, 255), (250, 220, 90),
                (90, 220, 250)]
SERIES = (("e_pos", "f(data)", "#ffffff"), ("e_neg", "f(negatives)", "#4fa3ff"),
          ("e_noisy", "f(noisy data)", "#ff9f43"))
N_CONTOURS = 6
ANIMATION_TICKS = 30  # a fresh set of trails is drawn in over ~1 s at the 33 ms animation tick


class EBMPanel(Panel):
    """Views of an energy-based model; 2D or image tabs are shown according to the session's data kind."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.bbox = (-3.0, 3.0, -3.0, 3.0)
        self.chain_starts: list[list[float]] = []
        self._framed = False
        self._trails = np.zeros((0, 1, 2), np.float32)
        self._reveal = 0
        self._series = {k: ([], []) for k, _, _ in SERIES}
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tabs)
        self._build_landscape_tab()
        self._build_energies_tab()
        self._build_anomaly_tab()
        self._build_images_tab()
        self.timer = QTimer(self)
        self.timer.setInterval(33)
        self.timer.timeout.connect(self._animate)

    # -- construction -------------------------------------------------------------------------------
    def _build_landscape_tab(self) -> None:
        page = QWidget()
        v = QVBoxLayout(page)
        v.setContentsMargins(0, 0, 0, 0)
        self.landscape = pg.GraphicsLayoutWidget()
        self.energy_plot = self.landscape.addPlot(title="energy −f(x)  (click: drop a Langevin chain)")
        self.density_plot = self.landscape.addPlot(title="normalized density exp f / Z")
        self.energy_img = pg.ImageItem(axisOrder="row-major")
        self.energy_img.setColorMap(pg.colormap.get("viridis"))  # valleys (probable) dark
        self.density_img = pg.ImageItem(axisOrder="row-major")
        self.density_img.setColorMap(pg.colormap.get("inferno"))
        self.energy_plot.addItem(self.energy_img)
        self.density_plot.addItem(self.density_img)
        self.energy_bar = colorbar(self.energy_plot, self.energy_img, "viridis", (0.0, 1.0), "−f")
        self.density_bar = colorbar(self.density_plot, self.density_img, "inferno", (0.0, 1.0), "p(x)")
        self.contours = [pg.IsocurveItem(level=0.0, pen=CONTOUR_PEN) for _ in range(N_CONTOURS)]
        for c in self.contours:
            c.setParentItem(self.energy_img)  # isocurves live in the image's pixel coordinates
        self.data_scatter = pg.ScatterPlotItem(size=2, pen=None, brush=DATA_BRUSH)
        self.data_scatter2 = pg.ScatterPlotItem(size=2, pen=None, brush=DATA_BRUSH)
        self.energy_plot.addItem(self.data_scatter)
        self.density_plot.addItem(self.data_scatter2)
        self.neg_scatter = pg.ScatterPlotItem(size=3, pen=None, brush=NEG_BRUSH)
        self.density_plot.addItem(self.neg_scatter)
        self.trail_curves: list[pg.PlotCurveItem] = []
        self.heads = pg.ScatterPlotItem(size=7, pen=pg.mkPen("k"), brush=pg.mkBrush(255, 255, 255, 230))
        self.starts = pg.ScatterPlotItem(size=9, symbol="x", pen=pg.mkPen(255, 80, 80, width=2), brush=START_BRUSH)
        self.energy_plot.addItem(self.heads)
        self.energy_plot.addItem(self.starts)
        for p in (self.energy_plot, self.density_plot):
            p.setAspectLocked(True)
            p.setLabel("bottom", "x₁")
            p.setLabel("left", "x₂")
            p.disableAutoRange()  # the data box frames the view; far chains must not rescale it
        self.density_plot.setXLink(self.energy_plot)
        self.density_plot.setYLink(self.energy_plot)
        self.energy_plot.scene().sigMouseClicked.connect(self._clicked)
        v.addWidget(self.landscape, 1)
        v.addLayout(self._chain_controls())
        self.landscape_index = self.tabs.addTab(page, "landscape")

    def _chain_controls(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.chain_label = QLabel("click the energy map to start chains")
        clear = QPushButton("clear chains")
        clear.clicked.connect(self.clear_chains)
        row.addWidget(self.chain_label, 1)
        row.addWidget(clear)
        return row

    def _build_energies_tab(self) -> None:
        win = pg.GraphicsLayoutWidget()
        self.energy_series_plot = win.addPlot(title="mean energy f: data vs negatives")
        self.series_legend = self.energy_series_plot.addLegend(offset=(10, 10))
        self.energy_series_plot.setLabel("bottom", "step")
        self.energy_series_plot.setLabel("left", "f")
        self.series_curves = {}
        for key, name, color in SERIES:
            c = self.energy_series_plot.plot([], [], pen=pg.mkPen(color, width=2))  # in the legend once it has data
            c.setDownsampling(auto=True, method="peak")
            c.setClipToView(True)
            self.series_curves[key] = c
        self.energies_index = self.tabs.addTab(win, "energies")

    def _build_anomaly_tab(self) -> None:
        win = pg.GraphicsLayoutWidget()
        self.anomaly_plot = win.addPlot(title="anomaly scores f(x)")
        self.anomaly_plot.addLegend(offset=(10, 10))
        self.anomaly_plot.setLabel("bottom", "f(x)  (higher = more typical)")
        self.anomaly_plot.setLabel("left", "count")
        empty = dict(x=np.array([0.0, 1.0]), y=np.array([0.0]))  # step curves need len(x) = len(y) + 1
        self.hist_in = pg.PlotCurveItem(**empty, stepMode="center", fillLevel=0, pen=pg.mkPen("#ffffff"),
                                        brush=pg.mkBrush(255, 255, 255, 60), name="held-out data")
        self.hist_out = pg.PlotCurveItem(**empty, stepMode="center", fillLevel=0, pen=pg.mkPen("#ff9f43"),
                                         brush=pg.mkBrush(255, 159, 67, 60), name="other dataset")
        self.anomaly_plot.addItem(self.hist_in)
        self.anomaly_plot.addItem(self.hist_out)
        self.anomaly_index = self.tabs.addTab(win, "anomaly")

    def _build_images_tab(self) -> None:
        win = pg.GraphicsLayoutWidget()
        self.negatives_plot = win.addPlot(title="current negatives (replay buffer chains)")
        self.chains_plot = win.addPlot(title="chains from noise: rows = ¼-steps")
        self.negatives_img = pg.ImageItem(axisOrder="row-major", levels=(0.0, 1.0))
        self.chains_img = pg.ImageItem(axisOrder="row-major", levels=(0.0, 1.0))
        for p, img in ((self.negatives_plot, self.negatives_img), (self.chains_plot, self.chains_img)):
            p.addItem(img)
            p.setAspectLocked(True)
            p.invertY(True)  # image row 0 at the top
            p.hideAxis("left")
            p.hideAxis("bottom")
        self.images_index = self.tabs.addTab(win, "negatives")

    # -- Panel API ---------------------------------------------------------------------------------
    def begin(self, info: dict) -> None:
        is_2d = info.get("kind", "2d") == "2d"
        for idx, show in ((self.landscape_index, is_2d), (self.images_index, not is_2d)):
            self.tabs.setTabVisible(idx, show)
        self.tabs.setCurrentIndex(self.landscape_index if is_2d else self.images_index)
        self.bbox = tuple(info.get("bbox") or self.bbox)
        self.chain_starts = []
        self._set_trails(np.zeros((0, 1, 2), np.float32))
        self.starts.setData([], [])
        self._series = {k: ([], []) for k, _, _ in SERIES}
        for c in self.series_curves.values():
            c.setData([], [])
        self.series_legend.clear()
        self.anomaly_plot.setTitle(f"anomaly scores f(x): held-out {info.get('dataset', 'data')} vs "
                                   f"{other_dataset_label(info.get('dataset', ''), info.get('kind', '2d'))}")
        for img in (self.energy_img, self.density_img, self.negatives_img, self.chains_img):
            img.clear()
        data = info.get("data")
        self._set_data_points(np.empty((0, 2)) if data is None else data)
        self._framed = False
        self.frame_view()

    def frame_view(self) -> None:
        """Frame the data box. Redone once the panel has a size: an aspect-locked view framed while
        hidden (0 × 0 pixels) keeps a range far wider than the box."""
        x0, x1, y0, y1 = self.bbox
        self.energy_plot.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0.02)
        self._framed = self.isVisible() and self.width() > 50

    def reset_view(self) -> None:
        self.frame_view()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._framed:
            self.frame_view()

    def show_snapshot(self, snap) -> None:
        a = snap.arrays
        if "data" in a:
            self._set_data_points(a["data"])
        if "energy" in a:
            if not self._framed:
                self.frame_view()
            self._show_landscape(a)
        if "trails" in a:
            self._set_trails(np.asarray(a["trails"], np.float32))
            if a.get("n_clicked", 0) > 0:
                self.chain_label.setText(f"{int(a['n_clicked'])} clicked chain(s) from the red marks")
        if "negatives" in a:
            neg = np.asarray(a["negatives"]).reshape(-1, 2)
            self.neg_scatter.setData(neg[:, 0], neg[:, 1])
        self._add_series(snap)
        if "anomaly_edges" in a:
            self._show_anomaly(a)
        if "negatives_grid" in a:
            self.negatives_img.setImage(a["negatives_grid"], levels=(0.0, 1.0), autoLevels=False)
        if "noise_chains_grid" in a:
            self.chains_img.setImage(a["noise_chains_grid"], levels=(0.0, 1.0), autoLevels=False)

    def plots(self) -> dict:
        return {"energy": self.energy_plot, "density": self.density_plot, "energies": self.energy_series_plot,
                "anomaly": self.anomaly_plot, "negatives": self.negatives_plot, "noise_chains": self.chains_plot}

    # -- drawing ------------------------------------------------------------------------------------
    def _set_data_points(self, pts) -> None:
        pts = np.asarray(pts, np.float32).reshape(-1, 2)
        self.data_scatter.setData(pts[:, 0], pts[:, 1])
        self.data_scatter2.setData(pts[:, 0], pts[:, 1])

    def _show_landscape(self, a: dict) -> None:
        energy = np.asarray(a["energy"], np.float32)
        lo, hi = robust_levels(energy, 1.0, 80.0)  # resolve the valleys; the far plateau saturates
        place_image(self.energy_img, energy, self.bbox, (lo, hi))
        self.energy_bar.setLevels((lo, hi))
        for c, level in zip(self.contours, np.linspace(lo, hi, N_CONTOURS + 2)[1:-1]):
            c.setData(energy)
            c.setLevel(float(level))
        logp = np.asarray(a["log_density"], np.float32)
        p = np.exp(np.clip(logp, -50.0, 20.0))
        place_image(self.density_img, p, self.bbox, density_levels(p))
        self.density_bar.setLevels(density_levels(p))

    def _set_trails(self, trails: np.ndarray) -> None:
        """New chains (chains, steps+1, 2): restart the draw-in animation."""
        while len(self.trail_curves) < len(trails):  # the pool only grows when chains are added
            color = TRAIL_COLORS[len(self.trail_curves) % len(TRAIL_COLORS)]
            curve = pg.PlotCurveItem(pen=pg.mkPen(*color, 220, width=2))
            self.energy_plot.addItem(curve)
            self.trail_curves.append(curve)
        for curve in self.trail_curves[len(trails):]:
            curve.setData([], [])
        self._trails = trails
        self._reveal = 1
        if len(trails) and not self.timer.isActive():
            self.timer.start()
        self._draw_trails()

    def _animate(self) -> None:
        steps = self._trails.shape[1]
        self._reveal = min(steps, self._reveal + max(1, steps // ANIMATION_TICKS))
        self._draw_trails()
        if self._reveal >= steps:
            self.timer.stop()

    def _draw_trails(self) -> None:
        t = self._trails[:, :self._reveal]
        for curve, chain in zip(self.trail_curves, t):
            curve.setData(chain[:, 0], chain[:, 1])
        heads = t[:, -1] if t.shape[1] else np.zeros((0, 2))
        self.heads.setData(heads[:, 0], heads[:, 1])

    def _add_series(self, snap) -> None:
        if len(snap.steps) == 0:
            return
        for key, curve in self.series_curves.items():
            if key in snap.losses:
                xs, ys = self._series[key]
                if not xs:
                    self.series_legend.addItem(curve, dict((k, n) for k, n, _ in SERIES)[key])
                xs.append(np.asarray(snap.steps, np.float64))
                ys.append(np.asarray(snap.losses[key], np.float64))
                curve.setData(np.concatenate(xs), np.concatenate(ys))

    def _show_anomaly(self, a: dict) -> None:
        edges = np.asarray(a["anomaly_edges"])
        self.hist_in.setData(edges, np.asarray(a["anomaly_heldout"]))
        self.hist_out.setData(edges, np.asarray(a["anomaly_other"]))
        title = self.anomaly_plot.titleLabel.text.split(" — AUROC")[0]
        self.anomaly_plot.setTitle(f"{title} — AUROC {float(a['anomaly_auroc']):.3f}")

    # -- interaction --------------------------------------------------------------------------------
    def _clicked(self, event) -> None:
        vb = self.energy_plot.vb
        if event.button() != Qt.MouseButton.LeftButton or not vb.sceneBoundingRect().contains(event.scenePos()):
            return
        p = vb.mapSceneToView(event.scenePos())
        self.add_chain_start(float(p.x()), float(p.y()))

    def add_chain_start(self, x: float, y: float) -> None:
        """Drop a chain at (x, y): mark it now, ask the session to run it from the next snapshot on."""
        self.chain_starts.append([x, y])
        pts = np.asarray(self.chain_starts, np.float32)
        self.starts.setData(pts[:, 0], pts[:, 1])
        self.chain_label.setText(f"{len(self.chain_starts)} clicked chain(s); they run at the next snapshot")
        self.command_issued.emit(("view", {"chain_starts": [list(p) for p in self.chain_starts]}))

    def clear_chains(self) -> None:
        self.chain_starts = []
        self.starts.setData([], [])
        self.chain_label.setText("click the energy map to start chains")
        self.command_issued.emit(("view", {"chain_starts": []}))
