"""Adversarial models: the two-player game made visible.

2D tab 'game': the learned D(x) as a heatmap with real (white) and generated (orange) points, the
generator's gradient arrows on the fakes and its manifold (the image of a latent grid); beside it the
optimal D* = p_data / (p_data + p_G) from KDEs. Below: JSD estimates over time, mode coverage, and for
the f-GAN its f, f* and its bound on D_f (own right axis: D_f is not the JSD). 'translation' (CycleGAN 2D): arrows a -> G(a) -> F(G(a)).
'images': fixed- and fresh-noise grids, D(x) histograms for real vs fake, BiGAN reconstructions and
latent embedding, CycleGAN rows x -> G(x) -> F(G(x)). A 'players' box sends ("model_set",
"train_players", ...) so single steps can move D only, G only, or both.

What is shown follows what the snapshots carry: 'd_grid' (the game), 'ab' (a 2D translation), 'f' (an
f-GAN's f and f*), 'rows_a' (image translation rows), 'recon_grid' (reconstructions), 'd_real' (D's outputs),
'embedding'. Before the first snapshot a panel shows the usual views for its kind of data.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QTabWidget, QVBoxLayout

from genviz.gui.panels.base import Panel
from genviz.gui.panels.toolkit import (BoxFrame, GrowingCurve, colorbar, legend_plot, place_image, show_plot,
                                      show_tabs)

REAL = pg.mkBrush(15, 15, 25, 170)  # dark: readable on the diverging D map, whose 0.5 is white
FAKE = pg.mkBrush(255, 140, 50, 220)
GRAD_PEN = pg.mkPen(255, 220, 90, 200, width=1)
MANIFOLD_PEN = pg.mkPen(120, 230, 150, 150, width=1)
HIST_BINS = np.linspace(0.0, 1.0, 41)
LABEL_COLORS = [pg.intColor(i, 10) for i in range(10)]
ARROWS_SHOWN = 80
GAME_TITLES = ("learned D(x): real vs fake", "mode coverage (ring8 / grid25)", "step")
FGAN_TITLES = ("f-GAN critic as r/(1+r), r = (f')⁻¹(T(x))", "f(u) and its conjugate f*(t)",
               "u (for f) · t = g_f(v) (for f*)")
IMAGE_TITLES = {"rows_a": ("A → G(A) → F(G(A))", "B → F(B) → G(F(B))"),  # what the grids hold, by snapshot key
                "recon_grid": ("samples G(z), fixed noise", "x and G(E(x)), alternate rows")}
DEFAULT_IMAGE_TITLES = ("samples, fixed noise (watch them evolve)", "samples, fresh noise")
JSD_TITLE = "JSD estimates (nats)"
JSD_FGAN_TITLE = "JSD (left) · the f-GAN's bound on its D_f (right)"


class RightAxis:
    """A second y axis on the right of `plot`, sharing its x (step) axis: curves added with `plot()` scale on
    their own, so a bound on D_f is never read on the JSD's axis. Has the plot's legend (for GrowingCurve)."""

    def __init__(self, plot: pg.PlotItem, label: str):
        self.vb = pg.ViewBox()
        self.host, self.legend = plot, plot.legend
        plot.scene().addItem(self.vb)
        axis = plot.getAxis("right")
        axis.linkToView(self.vb)
        axis.setLabel(label)
        self.vb.setXLink(plot)
        plot.vb.sigResized.connect(lambda *_: self.vb.setGeometry(plot.vb.sceneBoundingRect()))
        self.show(False)

    def plot(self, *args, **kw) -> pg.PlotDataItem:
        item = pg.PlotDataItem(*args, **kw)
        self.vb.addItem(item)
        return item

    def show(self, shown: bool) -> None:
        self.host.showAxis("right", shown)
        self.vb.setVisible(shown)


def _image_plot(layout, title: str, levels=(0.0, 1.0), cmap: str | None = None, row=None, col=None):
    """A PlotItem holding one row-major ImageItem with fixed levels (no per-frame min/max scan)."""
    plot = layout.addPlot(title=title, row=row, col=col)
    img = pg.ImageItem(axisOrder="row-major", levels=levels)
    if cmap:
        img.setColorMap(pg.colormap.get(cmap))
    plot.addItem(img)
    plot.setAspectLocked(True)
    return plot, img


def _segments(start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x, y arrays for PlotDataItem(connect='pairs'): one segment per row start -> end."""
    pts = np.empty((2 * len(start), 2), np.float32)
    pts[0::2], pts[1::2] = start, end
    return pts[:, 0], pts[:, 1]


def _grid_lines(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(k, k, 2) manifold -> polylines along rows and columns, separated by NaN (connect='finite')."""
    k = m.shape[0]
    gap = np.full((k, 1, 2), np.nan, np.float32)
    rows = np.concatenate([m, gap], 1).reshape(-1, 2)
    cols = np.concatenate([m.transpose(1, 0, 2), gap], 1).reshape(-1, 2)
    pts = np.concatenate([rows, cols])
    return pts[:, 0], pts[:, 1]


class GANPanel(Panel):
    """Views for 'gan', 'gan_preset', 'dcgan', 'fgan', 'bigan' and 'cyclegan' snapshots."""

    own_metrics = frozenset({"modes", "n_modes", "hq", "jsd_kde", "jsd_d", "jsd_bound", "bound"})

    def __init__(self, parent=None):
        super().__init__(parent)
        self.bbox = (-3.0, 3.0, -3.0, 3.0)
        self._dataset = None  # begin() names it: mode coverage is counted on the benchmarks only
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self._build_controls())
        layout.addWidget(self.tabs)
        self._build_game_tab()
        self._build_translation_tab()
        self._build_images_tab()

    # -- construction -------------------------------------------------------------------------------
    def _build_controls(self) -> QHBoxLayout:
        row = QHBoxLayout()
        row.addWidget(QLabel("players learning:"))
        self.players = QComboBox()
        self.players.addItems(["both", "D", "G"])
        self.players.setToolTip("which player a training step updates: use with Step for slow motion")
        self.players.currentTextChanged.connect(
            lambda v: self.command_issued.emit(("model_set", "train_players", v)))
        row.addWidget(self.players)
        self.show_arrows, self.show_manifold = QCheckBox("gradient arrows"), QCheckBox("G manifold")
        for box in (self.show_arrows, self.show_manifold):
            box.setChecked(True)
            row.addWidget(box)
        self.coverage = QLabel("")
        row.addStretch(1)
        row.addWidget(self.coverage)
        return row

    def _build_game_tab(self) -> None:
        win = pg.GraphicsLayoutWidget()
        self.d_plot, self.d_img = _image_plot(win, "learned D(x): real vs fake", cmap="CET-D1", row=0, col=0)
        self.dstar_plot, self.dstar_img = _image_plot(win, "optimal D* = p_data/(p_data+p_G) (KDE)",
                                                      cmap="CET-D1", row=0, col=1)
        self.real_pts = [pg.ScatterPlotItem(size=2, pen=None, brush=REAL) for _ in range(2)]
        self.fake_pts = [pg.ScatterPlotItem(size=3, pen=None, brush=FAKE) for _ in range(2)]
        for plot, r, f in zip((self.d_plot, self.dstar_plot), self.real_pts, self.fake_pts):
            plot.addItem(r)
            plot.addItem(f)
        self.arrows = pg.PlotDataItem(pen=GRAD_PEN, connect="pairs")
        self.manifold = pg.PlotDataItem(pen=MANIFOLD_PEN, connect="finite")
        self.d_plot.addItem(self.manifold)
        self.d_plot.addItem(self.arrows)
        self.d_bar = colorbar(self.dstar_plot, self.dstar_img, "CET-D1", (0.0, 1.0), "D")  # both maps share it
        self.frame = BoxFrame(self.d_plot, self.dstar_plot)  # framed on the data box, zoomed together
        self.jsd_plot = legend_plot(win, JSD_TITLE, row=1, col=0)
        self.jsd_plot.setLabel("bottom", "step")
        self.jsd_plot.setLabel("left", "JSD (nats)")
        # an f-GAN's bound is on D_f, not on the JSD ('js' gives 2·JSD, 'gan' 2·JSD − log 4, 'kl' a KL): its own
        # axis on the right; where D_f is a function of the JSD the model also sends the bound turned into one
        self.bound_axis = RightAxis(self.jsd_plot, "f-GAN bound on D_f (nats)")
        self.series = {"jsd_kde": GrowingCurve(self.jsd_plot, "JSD (KDE)", "#4fa3ff"),
                       "jsd_d": GrowingCurve(self.jsd_plot, "ln2 + V(D,G)/2 (from D)", "#ff9f43"),
                       "jsd_bound": GrowingCurve(self.jsd_plot,
                                                 "JSD from the bound (js: ½D_f · gan: ½(D_f + log 4))", "#2ed573"),
                       "bound": GrowingCurve(self.bound_axis, "bound E_P[T] − E_Q[f*(T)] on D_f (right axis)",
                                             pg.mkPen("#2ed573", width=2, style=Qt.DashLine))}
        self.side_plot = legend_plot(win, "mode coverage", row=1, col=1)
        self.side_plot.setLabel("bottom", "step")
        self.series["modes_frac"] = GrowingCurve(self.side_plot, "modes captured / K", "#a29bfe")
        self.series["hq"] = GrowingCurve(self.side_plot, "high-quality fraction", "#feca57")
        # modes are counted on the benchmarks with known centres only: elsewhere the plot says so, not blank
        self.coverage_note = pg.TextItem("modes are counted on ring8 and grid25,\nwhose centres are known",
                                         color="#8a8f98", anchor=(0.5, 0.5))
        self.coverage_note.setPos(0.5, 0.5)
        self.side_plot.addItem(self.coverage_note, ignoreBounds=True)
        self.f_curve = self.side_plot.plot([], [], pen=pg.mkPen("#ff6b81", width=2))
        self.fstar_curve = self.side_plot.plot([], [], pen=pg.mkPen("#48dbfb", width=2))
        win.ci.layout.setRowStretchFactor(0, 3)
        win.ci.layout.setRowStretchFactor(1, 2)
        for col in (0, 1):  # the two maps side by side at one size: an f-GAN's longer legend squeezed D* to a strip
            win.ci.layout.setColumnStretchFactor(col, 1)
        self.game_win = win
        self.game_tab = self.tabs.addTab(win, "game")

    def _build_translation_tab(self) -> None:
        win = pg.GraphicsLayoutWidget()
        self.tr_plot = legend_plot(win, "CycleGAN: a → G(a) (orange), G(a) → F(G(a)) back (dashed green)",
                                   columns=4)
        self.tr_plot.setAspectLocked(True)
        self.tr_b = self.tr_plot.plot([], [], pen=None, symbol="o", symbolSize=4, symbolPen=None,
                                      symbolBrush=pg.mkBrush(170, 170, 170, 160), name="domain B")
        self.tr_a = self.tr_plot.plot([], [], pen=None, symbol="o", symbolSize=4, symbolPen=None,
                                      symbolBrush=pg.mkBrush(79, 163, 255, 220), name="a (domain A)")
        self.tr_ab = self.tr_plot.plot([], [], pen=None, symbol="o", symbolSize=4, symbolPen=None,
                                       symbolBrush=FAKE, name="G(a)")
        self.tr_aba = self.tr_plot.plot([], [], pen=None, symbol="o", symbolSize=3, symbolPen=None,
                                        symbolBrush=pg.mkBrush(46, 213, 115, 200), name="F(G(a))")
        self.tr_arrow1 = pg.PlotDataItem(pen=pg.mkPen(255, 140, 50, 170), connect="pairs")
        self.tr_arrow2 = pg.PlotDataItem(pen=pg.mkPen(46, 213, 115, 150, style=Qt.DashLine), connect="pairs")
        self.tr_plot.addItem(self.tr_arrow1)
        self.tr_plot.addItem(self.tr_arrow2)
        self.tr_win = win
        self.translation_tab = self.tabs.addTab(win, "translation")

    def _build_images_tab(self) -> None:
        win = pg.GraphicsLayoutWidget()
        self.grid_a_plot, self.grid_a = _image_plot(win, "fixed noise", row=0, col=0)
        self.grid_b_plot, self.grid_b = _image_plot(win, "fresh noise", row=0, col=1)
        for p in (self.grid_a_plot, self.grid_b_plot):
            p.invertY(True)  # image rows top-down
            p.hideAxis("left")
            p.hideAxis("bottom")
        self.hist_plot = legend_plot(win, "D(x) on real vs fake", row=1, col=0)
        self.hist_plot.setLabel("bottom", "D(x)")
        self.hist_real = self.hist_plot.plot([], [], stepMode="center", fillLevel=0, pen=pg.mkPen("w"),
                                             brush=pg.mkBrush(255, 255, 255, 60), name="real")
        self.hist_fake = self.hist_plot.plot([], [], stepMode="center", fillLevel=0, pen=pg.mkPen("#ff8c32"),
                                             brush=pg.mkBrush(255, 140, 50, 80), name="fake")
        self.hist_plot.setXRange(0, 1, padding=0.02)
        self.emb_plot = win.addPlot(title="BiGAN: E(x) of test images by digit", row=1, col=1)
        self.emb_scatter = pg.ScatterPlotItem(size=4, pen=None)
        self.emb_plot.addItem(self.emb_scatter)
        win.ci.layout.setRowStretchFactor(0, 3)  # the sample grids are the point of this tab
        self.images_win = win
        self.images_tab = self.tabs.addTab(win, "images")

    # -- Panel API ------------------------------------------------------------------------------------
    def begin(self, info: dict) -> None:
        self.kind = info.get("kind", "2d")
        self._dataset = info.get("dataset")
        self.bbox = tuple(info.get("bbox") or self.bbox)
        image = self.kind == "image"
        self._show_views(game=not image, translation=False, images=image)  # the usual views until a snapshot
        self._fgan = None
        self._set_legends(fgan=False)
        self._set_image_views({"d_real": True})
        for s in self.series.values():
            s.clear()
        for item in (self.fake_pts + self.real_pts):
            item.setData([], [])
        for item in (self.arrows, self.manifold, self.f_curve, self.fstar_curve, self.hist_real, self.hist_fake):
            item.setData([], [])
        self.coverage.setText("")
        if info.get("data") is not None:
            self._set_real(info["data"])
        self.frame.set_box(self.bbox)
        self.tr_plot.enableAutoRange()

    def _show_views(self, game: bool, translation: bool, images: bool) -> None:
        show_tabs(self.tabs, {self.game_tab: game, self.translation_tab: translation, self.images_tab: images})
        for box in (self.show_arrows, self.show_manifold):  # these toggle the 2D game view only
            box.setVisible(game)

    def _set_legends(self, fgan: bool) -> None:
        """JSD estimates and mode coverage for GANs; the bound and f, f* for an f-GAN (its snapshots carry 'f')."""
        if fgan == self._fgan:
            return
        self._fgan = fgan
        d_title, side_title, side_x = FGAN_TITLES if fgan else GAME_TITLES
        self.d_plot.setTitle(d_title)
        self.side_plot.setTitle(side_title)
        self.jsd_plot.setTitle(JSD_FGAN_TITLE if fgan else JSD_TITLE)
        self.bound_axis.show(fgan)
        # its own y label, beside the bound's right axis, so that nobody reads f and f* on the bound's scale
        self.side_plot.setLabel("left", "f(u) · f*(t)" if fgan else "")
        from genviz.core.gan.metrics import BENCHMARKS

        self.coverage_note.setVisible(not fgan and self._dataset not in BENCHMARKS)
        # the bound's entries are long: one per row, or the legend's width squeezes the D* map beside it
        self.jsd_plot.legend.setColumnCount(1 if fgan else 2)
        self.side_plot.setLabel("bottom", side_x)
        if fgan:
            self.side_plot.enableAutoRange()
            self.side_plot.legend.addItem(self.f_curve, "f(u)")
            self.side_plot.legend.addItem(self.fstar_curve, "f*(t)")
        else:  # fractions: a fixed [0, 1] axis, so a 0.1 % wobble does not fill the plot
            self.side_plot.enableAutoRange(axis="x")
            self.side_plot.setYRange(0.0, 1.02, padding=0)
            for c in (self.f_curve, self.fstar_curve):
                self.side_plot.legend.removeItem(c)

    def _set_image_views(self, a: dict) -> None:
        first, second = next((t for key, t in IMAGE_TITLES.items() if key in a), DEFAULT_IMAGE_TITLES)
        self.grid_a_plot.setTitle(first)
        self.grid_b_plot.setTitle(second)
        show_plot(self.hist_plot, "d_real" in a)
        self.emb_plot.setVisible("embedding" in a)

    def reset_view(self) -> None:
        self.frame.frame()
        self.tr_plot.enableAutoRange()

    def _set_real(self, pts) -> None:
        pts = np.asarray(pts, np.float32).reshape(-1, 2)
        for item in self.real_pts:
            item.setData(pts[:, 0], pts[:, 1])

    def show_snapshot(self, snap) -> None:
        a = snap.arrays
        views = {"game": "d_grid" in a, "translation": "ab" in a, "images": "fixed_grid" in a or "rows_a" in a}
        if any(views.values()):  # a snapshot with views says which ones this model has
            self._show_views(**views)
            self._set_legends(fgan="f" in a)
        if "data" in a:
            self._set_real(a["data"])
        if "d_grid" in a:
            self._show_game(a)
        if "ab" in a:
            self._show_translation(a)
        if "fixed_grid" in a or "rows_a" in a:
            self._show_images(a)
        if "f" in a:
            self.f_curve.setData(a["f_u"], a["f"])
            self.fstar_curve.setData(a["fstar_t"], a["fstar"])
        self.add_metrics(snap.step, snap.metrics)

    def _show_game(self, a) -> None:
        place_image(self.d_img, a["d_grid"], self.bbox, (0.0, 1.0))
        place_image(self.dstar_img, a["dstar_grid"], self.bbox, (0.0, 1.0))
        s = a["samples"]
        for item in self.fake_pts:
            item.setData(s[:, 0], s[:, 1])
        if self.show_arrows.isChecked():
            g = a["grad"]
            norm = np.linalg.norm(g, axis=1, keepdims=True)
            scale = 0.08 * (self.bbox[1] - self.bbox[0]) / max(float(np.percentile(norm, 95)), 1e-12)
            self.arrows.setData(*_segments(a["grad_at"], a["grad_at"] + np.clip(g * scale, -1e3, 1e3)))
        else:
            self.arrows.setData([], [])
        if self.show_manifold.isChecked():
            self.manifold.setData(*_grid_lines(a["manifold"]))
        else:
            self.manifold.setData([], [])

    def _show_translation(self, a) -> None:
        self.tr_b.setData(a["b"][:, 0], a["b"][:, 1])
        self.tr_a.setData(a["a"][:, 0], a["a"][:, 1])
        self.tr_ab.setData(a["ab"][:, 0], a["ab"][:, 1])
        self.tr_aba.setData(a["aba"][:, 0], a["aba"][:, 1])
        k = ARROWS_SHOWN  # every point is plotted; a subset gets arrows so the picture stays readable
        self.tr_arrow1.setData(*_segments(a["a"][:k], a["ab"][:k]))
        self.tr_arrow2.setData(*_segments(a["ab"][:k], a["aba"][:k]))

    def _show_images(self, a) -> None:
        self._set_image_views(a)
        first = a.get("fixed_grid", a.get("rows_a"))
        second = a.get("recon_grid", a.get("fresh_grid", a.get("rows_b")))
        self.grid_a.setImage(first, levels=(0.0, 1.0), autoLevels=False)
        self.grid_b.setImage(second, levels=(0.0, 1.0), autoLevels=False)
        if "d_real" in a:
            self.hist_real.setData(HIST_BINS, np.histogram(a["d_real"], HIST_BINS, density=True)[0])
            self.hist_fake.setData(HIST_BINS, np.histogram(a["d_fake"], HIST_BINS, density=True)[0])
        if "embedding" in a:
            labels = a.get("embedding_labels", np.zeros(len(a["embedding"])))
            brushes = [LABEL_COLORS[int(k) % 10] for k in labels]
            self.emb_scatter.setData(pos=a["embedding"], brush=brushes)

    def add_metrics(self, step: int, m: dict) -> None:
        for name in ("jsd_kde", "jsd_d", "jsd_bound", "bound", "hq"):
            if name in m:
                self.series[name].add(step, m[name])
        if "modes" in m and m.get("n_modes"):
            self.series["modes_frac"].add(step, m["modes"] / m["n_modes"])
            self.coverage.setText(f"modes {m['modes']:.0f}/{m['n_modes']:.0f} · high quality {100 * m['hq']:.0f}%")
        elif "jsd_kde" in m:
            self.coverage.setText(f"JSD (KDE) {m['jsd_kde']:.3f} nats")
        elif "d_real" in m:
            self.coverage.setText(f"mean D: real {m['d_real']:.2f} · fake {m['d_fake']:.2f}")

    def plots(self) -> dict:
        return {"game": self.game_win.ci, "translation": self.tr_win.ci, "images": self.images_win.ci}
