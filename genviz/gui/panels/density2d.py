"""2D density models: the model's density as a heatmap with the training points, and its samples.

Arrays read from a snapshot: 'log_density' (res, res) row-major over the view bbox (row i = y, ascending),
'samples' (n, 2), 'data' (m, 2; sent once per run). Subclasses (FlowsPanel, ...) add tabs with `add_tab`
and extend `show_snapshot`.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QTabWidget, QVBoxLayout

from genviz.gui.panels.base import Panel
from genviz.gui.panels.toolkit import density_levels, place_image

DATA_BRUSH = pg.mkBrush(255, 255, 255, 70)
DATA_GREY = pg.mkBrush(150, 150, 150, 90)
SAMPLE_BRUSH = pg.mkBrush(255, 120, 60, 200)
SAMPLES_TITLE = "model samples (orange) over the data (grey)"


class Density2DPanel(Panel):
    """Density heatmap + data overlay (left) and samples over grey data (right), in the first tab."""

    colormap = "inferno"

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
        self.density_plot = win.addPlot(title="model density p(x)")
        self.samples_plot = win.addPlot(title=SAMPLES_TITLE)
        for it in (self.density_plot, self.samples_plot):
            it.setAspectLocked(True)
            it.setLabel("bottom", "x₁")
            it.setLabel("left", "x₂")
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(pg.colormap.get(self.colormap))
        self.density_plot.addItem(self.image)
        self.data_scatter = pg.ScatterPlotItem(size=2, pen=None, brush=DATA_BRUSH)
        self.density_plot.addItem(self.data_scatter)
        self.data_grey = pg.ScatterPlotItem(size=3, pen=None, brush=DATA_GREY)
        self.sample_scatter = pg.ScatterPlotItem(size=3, pen=None, brush=SAMPLE_BRUSH)
        self.samples_plot.addItem(self.data_grey)
        self.samples_plot.addItem(self.sample_scatter)
        self.samples_plot.setXLink(self.density_plot)
        self.samples_plot.setYLink(self.density_plot)
        # the density plot frames the bbox (image + data) and the samples plot follows it, so far-off
        # samples never rescale the view; zooming by hand turns auto-range off until the 'A' button
        self.samples_plot.disableAutoRange()
        self.graphics = win
        self.add_tab(win, "density · samples")

    def add_tab(self, widget, title: str) -> int:
        """Add a view to the panel (subclasses: flows' layer-by-layer tab, ...)."""
        return self.tabs.addTab(widget, title)

    # -- Panel API ---------------------------------------------------------------------------------
    def begin(self, info: dict) -> None:
        self.bbox = tuple(info.get("bbox") or self.bbox)
        self.image.clear()
        self.sample_scatter.setData([], [])
        data = info.get("data")
        self.set_data_points(np.empty((0, 2)) if data is None else data)
        self.reset_view()

    def reset_view(self) -> None:
        self.density_plot.enableAutoRange()

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
        if "samples" in a:
            s = np.asarray(a["samples"]).reshape(-1, 2)
            self.sample_scatter.setData(s[:, 0], s[:, 1])

    def show_density(self, logp: np.ndarray) -> None:
        """exp(log p) on the bbox, levels fixed per frame at [0, 99.5th percentile] so a spike cannot wash it out."""
        p = np.exp(np.clip(logp, -50.0, 20.0)).astype(np.float32)
        place_image(self.image, p, self.bbox, density_levels(p))

    def plots(self) -> dict:
        return {"density": self.density_plot, "samples": self.samples_plot}
