"""Energy-based models: the landscape −f, its normalized density, Langevin chains, and what CD sees.

A 2D density panel like the others (density exp f / Z over the data, samples over grey data: here the current
Langevin negatives, 'negatives' (n, 2)), with the energy −f(x) ('energy', (res, res)) in front of them: a
heatmap with contours, the data in white and Langevin chains ('trails', (chains, steps+1, 2)) animated as
trails; a click drops a new chain there (sent as ("view", {"chain_starts": [...]})), which slides downhill in
the following snapshots. Tab 'energies': mean f on data vs on negatives (CD) or on noisy data (DSM) per
step. Tab 'anomaly': histograms of f on held-out points vs another dataset. Images: grids of current
negatives and of chains started from noise.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton

from genviz.core.ebm.anomaly import other_dataset_label
from genviz.gui.panels.contours import contour_segments
from genviz.gui.panels.density2d import Density2DPanel, plane
from genviz.gui.panels.toolkit import Heatmap, GrowingCurve, legend_plot, robust_levels

DATA_BRUSH = pg.mkBrush(255, 255, 255, 60)
START_BRUSH = pg.mkBrush(255, 80, 80, 230)
CONTOUR_PEN = pg.mkPen(255, 255, 255, 70, width=1)
TRAIL_COLORS = [(255, 170, 60), (120, 230, 150), (255, 110, 140), (160, 150, 255), (250, 220, 90),
                (90, 220, 250)]
SERIES = (("e_pos", "f(data)", "#ffffff"), ("e_neg", "f(negatives)", "#4fa3ff"),
          ("e_noisy", "f(noisy data)", "#ff9f43"))
N_CONTOURS = 6
ANIMATION_TICKS = 30  # a fresh set of trails is drawn in over ~1 s at the 33 ms animation tick
HINT = "click the energy map to start chains"


class EBMPanel(Density2DPanel):
    """Views of an energy-based model; 2D or image tabs are shown according to the session's data kind."""

    samples_title = "negatives (orange) over data"

    def __init__(self, parent=None):
        super().__init__(parent)
        self.chain_starts: list[list[float]] = []
        self._data_pts = np.zeros((0, 2), np.float32)
        self._denoise_rng = np.random.default_rng(0)  # its own stream: which points get corrupted
        self._trails = np.zeros((0, 1, 2), np.float32)
        self._reveal = 0
        self.density_plot.setTitle("density exp f / Z")
        self.landscape, self.landscape_index = self.graphics, self.density_index
        self.tabs.setTabText(self.landscape_index, "landscape · density · negatives")
        self.density_page.layout().addLayout(self._chain_controls())
        self._build_energies_tab()
        self._build_anomaly_tab()
        self._build_images_tab()
        self.timer = QTimer(self)
        self.timer.setInterval(33)
        self.timer.timeout.connect(self._animate)

    # -- construction -------------------------------------------------------------------------------
    def lead_plots(self, win) -> list:
        """The energy landscape, left of the density: heatmap, contours, data, trails, clicked starts."""
        self.energy_plot = plane(win.addPlot(title="energy −f(x)"))
        self.energy_map = Heatmap(self.energy_plot, "viridis", "−f")  # valleys (probable) dark
        self.energy_img = self.energy_map.img
        self.contours = pg.PlotCurveItem(pen=CONTOUR_PEN, connect="pairs")  # every level's segments (contours.py)
        self.energy_plot.addItem(self.contours)
        self.energy_data = pg.ScatterPlotItem(size=2, pen=None, brush=DATA_BRUSH)
        self.energy_plot.addItem(self.energy_data)
        self.trail_curves: list[pg.PlotCurveItem] = []
        self.heads = pg.ScatterPlotItem(size=7, pen=pg.mkPen("k"), brush=pg.mkBrush(255, 255, 255, 230))
        self.starts = pg.ScatterPlotItem(size=9, symbol="x", pen=pg.mkPen(255, 80, 80, width=2), brush=START_BRUSH)
        self.clean = pg.ScatterPlotItem(size=8, symbol="o", pen=pg.mkPen(46, 213, 115, width=2), brush=None)
        self.corruption = pg.PlotCurveItem(pen=pg.mkPen(46, 213, 115, 200, width=1, style=Qt.DashLine),
                                           connect="pairs")
        self.energy_plot.addItem(self.heads)
        self.energy_plot.addItem(self.starts)
        self.energy_plot.addItem(self.clean)
        self.energy_plot.addItem(self.corruption)
        self.energy_plot.scene().sigMouseClicked.connect(self._clicked)
        return [self.energy_plot]

    def _chain_controls(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.chain_label = QLabel(HINT)
        clear = QPushButton("clear chains")
        clear.clicked.connect(self.clear_chains)
        self.denoise_button = QPushButton("denoise: corrupt 3 data points")
        self.denoise_button.setToolTip("add noise to 3 random data points (green rings) and start Langevin chains "
                                       "there: the trained energy carries them back toward the data")
        self.denoise_button.clicked.connect(lambda: self.denoise_points())
        row.addWidget(self.chain_label, 1)
        row.addWidget(self.denoise_button)
        row.addWidget(clear)
        return row

    def _build_energies_tab(self) -> None:
        win = pg.GraphicsLayoutWidget()
        self.energy_series_plot = legend_plot(win, "mean energy f: data vs negatives", columns=3)
        self.energy_series_plot.setLabel("bottom", "step")
        self.energy_series_plot.setLabel("left", "f")
        self.series_curves = {}
        for key, name, color in SERIES:
            c = GrowingCurve(self.energy_series_plot, name, color)  # in the legend once it has data
            c.curve.setDownsampling(auto=True, method="peak")
            c.curve.setClipToView(True)
            self.series_curves[key] = c
        self.energies_index = self.tabs.addTab(win, "energies")

    def _build_anomaly_tab(self) -> None:
        win = pg.GraphicsLayoutWidget()
        self.anomaly_plot = legend_plot(win, "anomaly scores f(x)")
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
        super().begin(info)
        self.chain_starts = []
        self._set_trails(np.zeros((0, 1, 2), np.float32))
        self.starts.setData([], [])
        self.clean.setData([], [])
        self.corruption.setData([], [])
        for c in self.series_curves.values():
            c.clear()
        self.anomaly_plot.setTitle(f"anomaly scores f(x): held-out {info.get('dataset', 'data')} vs "
                                   f"{other_dataset_label(info.get('dataset', ''), info.get('kind', '2d'))}")
        for img in (self.energy_img, self.negatives_img, self.chains_img):
            img.clear()
        self.contours.setData([], [])  # the last run's energy levels

    def set_data_points(self, pts) -> None:
        super().set_data_points(pts)
        pts = np.asarray(pts, np.float32).reshape(-1, 2)
        self._data_pts = pts
        self.energy_data.setData(pts[:, 0], pts[:, 1])

    def show_snapshot(self, snap) -> None:
        super().show_snapshot(snap)  # data and density
        a = snap.arrays
        if "negatives" in a and "samples" not in a:  # an EBM's samples: its current Langevin negatives
            neg = np.asarray(a["negatives"]).reshape(-1, 2)
            self.sample_scatter.setData(neg[:, 0], neg[:, 1])
        if "energy" in a:
            self._show_energy(np.asarray(a["energy"], np.float32))
        if "trails" in a:
            self._set_trails(np.asarray(a["trails"], np.float32))
            if a.get("n_clicked", 0) > 0:
                self.chain_label.setText(f"{int(a['n_clicked'])} clicked chain(s) from the red marks")
        self._add_series(snap)
        if "anomaly_edges" in a:
            self._show_anomaly(a)
        if "negatives_grid" in a:
            self.negatives_img.setImage(a["negatives_grid"], levels=(0.0, 1.0), autoLevels=False)
        if "noise_chains_grid" in a:
            self.chains_img.setImage(a["noise_chains_grid"], levels=(0.0, 1.0), autoLevels=False)

    def plots(self) -> dict:
        return {"energy": self.energy_plot, **super().plots(), "energies": self.energy_series_plot,
                "anomaly": self.anomaly_plot, "negatives": self.negatives_plot, "noise_chains": self.chains_plot}

    # -- drawing ------------------------------------------------------------------------------------
    def _show_energy(self, energy: np.ndarray) -> None:
        lo, hi = robust_levels(energy, 1.0, 80.0)  # resolve the valleys; the far plateau saturates
        self.energy_map.show(energy, self.bbox, (lo, hi))
        x0, x1, y0, y1 = self.bbox  # the grid's points span the box (image_rect puts them at pixel centres)
        h, w = np.shape(energy)
        seg = contour_segments(energy, np.linspace(lo, hi, N_CONTOURS + 2)[1:-1], np.linspace(x0, x1, w),
                               np.linspace(y0, y1, h)).reshape(-1, 2)
        self.contours.setData(seg[:, 0], seg[:, 1])

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
        for key, series in self.series_curves.items():
            if key in snap.losses:
                series.extend(snap.steps, snap.losses[key])

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

    def denoise_points(self, n: int = 3, noise: float = 0.1) -> np.ndarray:
        """Corrupt n random data points by Gaussian noise (std = noise × the data box's size) and start chains
        there; the clean points are ringed and joined to their corrupted copies. Returns the clean points."""
        if len(self._data_pts) == 0:
            self.chain_label.setText("no data points to corrupt yet")
            return np.zeros((0, 2), np.float32)
        rng = self._denoise_rng
        clean = self._data_pts[rng.choice(len(self._data_pts), size=n, replace=False)]
        span = np.ptp(self._data_pts, 0).max()
        noisy = clean + noise * span * rng.standard_normal(clean.shape)
        old = self.clean.data
        rings = np.concatenate([np.c_[old["x"], old["y"]], clean]) if len(old) else clean
        self.clean.setData(rings[:, 0], rings[:, 1])
        x, y = self.corruption.getData()
        pairs = np.stack([clean, noisy], 1).reshape(-1, 2)
        self.corruption.setData(np.r_[x if x is not None else [], pairs[:, 0]],
                                np.r_[y if y is not None else [], pairs[:, 1]])
        self.chain_starts += [[float(a), float(b)] for a, b in noisy]
        pts = np.asarray(self.chain_starts, np.float32)
        self.starts.setData(pts[:, 0], pts[:, 1])
        self.chain_label.setText(f"{len(self.chain_starts)} chain(s), {len(rings)} from corrupted data (green)")
        self.command_issued.emit(("view", {"chain_starts": [list(p) for p in self.chain_starts]}))
        return clean

    def clear_chains(self) -> None:
        self.chain_starts = []
        self.clean.setData([], [])
        self.corruption.setData([], [])
        self.starts.setData([], [])
        self.chain_label.setText(HINT)
        self.command_issued.emit(("view", {"chain_starts": []}))
