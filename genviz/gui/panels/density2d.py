"""2D density models: the model's density as a heatmap with the training points, and its samples.

Arrays read from a snapshot: 'log_density' (res, res) row-major over the view bbox (row i = y, ascending),
'samples' (n, 2), 'data' (m, 2; sent once per run). Subclasses (FlowsPanel, EBMPanel, ...) put plots before
the density (`lead_plots`), rows of controls under it (`density_page`), add tabs with `add_tab` and extend
`show_snapshot`. Every 2D plot of the first tab shares one data box: framed on it, re-framed on resize.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

from genviz.gui.panels.base import Panel
from genviz.gui.panels.toolkit import BoxFrame, Dots, Heatmap, LazyPage, density_levels, lazy_tab

DATA_BRUSH = pg.mkBrush(255, 255, 255, 70)
DATA_GREY = pg.mkBrush(150, 150, 150, 90)
SAMPLE_BRUSH = pg.mkBrush(255, 120, 60, 200)
SAMPLES_TITLE = "model samples (orange) over the data (grey)"
DENSITY_TITLE = "model density p(x)"


def plane(plot: pg.PlotItem) -> pg.PlotItem:
    """An aspect-locked data plane with x₁, x₂ axes."""
    plot.setAspectLocked(True)
    plot.setLabel("bottom", "x₁")
    plot.setLabel("left", "x₂")
    return plot


class Density2DPanel(Panel):
    """Density heatmap + data overlay and samples over grey data, in the first tab ('density · samples')."""

    colormap = "inferno"
    samples_title = SAMPLES_TITLE

    def __init__(self, parent=None):
        super().__init__(parent)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tabs)
        self.bbox = (-3.0, 3.0, -3.0, 3.0)
        self._build_density_tab()

    def _build_density_tab(self) -> None:
        win = pg.GraphicsLayoutWidget()
        self.graphics = win
        lead = self.lead_plots(win)
        self.density_plot = plane(win.addPlot(title=DENSITY_TITLE))
        self.samples_plot = plane(win.addPlot(title=self.samples_title))
        self.heatmap = Heatmap(self.density_plot, self.colormap, "p(x)")
        self.image = self.heatmap.img
        # Dots, not ScatterPlotItems: thousands of points redrawn at every snapshot (toolkit.Dots)
        self.data_scatter = Dots(size=2, brush=DATA_BRUSH)
        self.density_plot.addItem(self.data_scatter)
        self.data_grey = Dots(size=3, brush=DATA_GREY)
        self.sample_scatter = Dots(size=3, brush=SAMPLE_BRUSH)
        self.samples_plot.addItem(self.data_grey)
        self.samples_plot.addItem(self.sample_scatter)
        # the data box frames every plane, far-off samples never rescale it; a zoom by hand moves them all
        self.frame = BoxFrame(*lead, self.density_plot, self.samples_plot)
        self.density_page = QWidget()
        v = QVBoxLayout(self.density_page)
        v.setContentsMargins(0, 0, 0, 0)
        v.addWidget(win, 1)
        self.density_index = self.add_tab(self.density_page, "density · samples")

    def lead_plots(self, win: pg.GraphicsLayoutWidget) -> list:
        """Plots a subclass puts left of the density (they share its data box); none here."""
        return []

    def add_tab(self, widget, title: str) -> int:
        """Add a view to the panel (subclasses: flows' layer-by-layer tab, ...)."""
        return self.tabs.addTab(widget, title)

    def add_lazy_tab(self, build, title: str) -> LazyPage:
        """A tab whose view `build()` makes when it is first shown (or its page's `ensure()` is called)."""
        return lazy_tab(self.tabs, build, title)

    # -- Panel API ---------------------------------------------------------------------------------
    def begin(self, info: dict) -> None:
        self.bbox = tuple(info.get("bbox") or self.bbox)
        self.heatmap.clear()
        self.sample_scatter.setData([], [])
        data = info.get("data")
        self.set_data_points(np.empty((0, 2)) if data is None else data)
        self.frame.set_box(self.bbox)

    def reset_view(self) -> None:
        self.frame.frame()

    def set_box(self, bbox) -> None:
        """The data box changed (e.g. a planar flow fits its target's box): draw and frame on the new one."""
        self.bbox = tuple(float(v) for v in bbox)
        self.frame.set_box(self.bbox)

    def set_data_points(self, pts: np.ndarray) -> None:
        pts = np.asarray(pts, np.float32).reshape(-1, 2)
        self.data_scatter.setData(pts[:, 0], pts[:, 1])
        self.data_grey.setData(pts[:, 0], pts[:, 1])

    def show_snapshot(self, snap) -> None:
        a = snap.arrays
        if "data" in a:
            self.set_data_points(a["data"])
        if "log_density" in a:
            self.show_density(a["log_density"])
        if "samples" in a and np.ndim(a["samples"]) == 2 and np.shape(a["samples"])[1] == 2:
            s = np.asarray(a["samples"])
            self.sample_scatter.setData(s[:, 0], s[:, 1])

    def show_density(self, logp: np.ndarray) -> None:
        """exp(log p) on the bbox, levels fixed per frame at [0, 99.5th percentile] so a spike cannot wash it out."""
        p = np.exp(np.clip(logp, -50.0, 20.0)).astype(np.float32)
        self.heatmap.show(p, self.bbox, density_levels(p))

    def plots(self) -> dict:
        return {"density": self.density_plot, "samples": self.samples_plot}
