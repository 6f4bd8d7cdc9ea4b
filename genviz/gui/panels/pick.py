"""Clicks in a plane: a ViewBox that reports left clicks and drags in data coordinates, and a scatter that lets
clicks through to it (the VAE panel's latent plane, its posterior tab's data plane)."""
from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal


class PickViewBox(pg.ViewBox):
    """Left click or left drag reports the point in data coordinates; the right button still zooms."""

    picked = Signal(float, float)

    def mouseClickEvent(self, ev):  # noqa: N802 (pyqtgraph's name)
        if ev.button() == Qt.LeftButton:
            ev.accept()
            self._emit(ev.scenePos())
        else:
            super().mouseClickEvent(ev)

    def mouseDragEvent(self, ev, axis=None):  # noqa: N802
        if ev.button() == Qt.LeftButton:
            ev.accept()
            self._emit(ev.scenePos())
        else:
            super().mouseDragEvent(ev, axis)

    def _emit(self, scene_pos) -> None:
        p = self.mapSceneToView(scene_pos)
        self.picked.emit(float(p.x()), float(p.y()))


class InertScatter(pg.ScatterPlotItem):
    """A scatter whose points never take a click: clicks on the latent cloud must reach the plane."""

    def mouseClickEvent(self, ev):  # noqa: N802
        ev.ignore()
