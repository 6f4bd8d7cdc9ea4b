"""Draw a 2D dataset with the mouse (a Gaussian brush, core.data.brush) or load it from a CSV file."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QDoubleSpinBox, QFileDialog, QHBoxLayout, QLabel,
                               QMessageBox, QPushButton, QSpinBox, QVBoxLayout)

from genviz.core import data as data_mod


class BrushViewBox(pg.ViewBox):
    """A ViewBox where the left button paints (drag or click) instead of panning; right button zooms."""

    painted = Signal(float, float)

    def mouseDragEvent(self, ev, axis=None):
        if ev.button() == Qt.LeftButton:
            ev.accept()
            p = self.mapSceneToView(ev.scenePos())
            self.painted.emit(p.x(), p.y())
        else:
            super().mouseDragEvent(ev, axis)

    def mouseClickEvent(self, ev):
        if ev.button() == Qt.LeftButton:
            ev.accept()
            p = self.mapSceneToView(ev.scenePos())
            self.painted.emit(p.x(), p.y())
        else:
            super().mouseClickEvent(ev)


class DrawDialog(QDialog):
    """Paint points; `points()` -> float32 (n, 2). Starts from `points` when given (edit a drawing)."""

    def __init__(self, points: np.ndarray | None = None, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Draw a 2D dataset")
        self.resize(640, 680)
        self._chunks: list[np.ndarray] = [] if points is None else [np.asarray(points, np.float32)]
        self._seed = 0
        self.view = BrushViewBox()
        self.view.setAspectLocked(True)
        self.view.setRange(xRange=(-4, 4), yRange=(-4, 4), padding=0)
        plot = pg.PlotWidget(viewBox=self.view)
        plot.getPlotItem().showGrid(x=True, y=True, alpha=0.15)
        self.scatter = pg.ScatterPlotItem(size=3, pen=None, brush=pg.mkBrush(79, 163, 255, 160))
        self.view.addItem(self.scatter)
        self.spread = QDoubleSpinBox()
        self.spread.setRange(0.01, 2.0)
        self.spread.setSingleStep(0.05)
        self.spread.setValue(0.15)
        self.spread.setToolTip("standard deviation of the brush (data units)")
        self.per_dab = QSpinBox()
        self.per_dab.setRange(1, 200)
        self.per_dab.setValue(12)
        self.per_dab.setToolTip("points added at each mouse position while drawing")
        self.count = QLabel()
        self._build_layout(plot)
        self.view.painted.connect(self.add_stroke)
        self._refresh()

    def _build_layout(self, plot) -> None:
        clear = QPushButton("Clear")
        clear.clicked.connect(self.clear)
        load = QPushButton("Load CSV…")
        load.clicked.connect(self._ask_csv)
        row = QHBoxLayout()
        for w in (QLabel("spread"), self.spread, QLabel("points per dab"), self.per_dab, clear, load):
            row.addWidget(w)
        row.addStretch(1)
        row.addWidget(self.count)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.button(QDialogButtonBox.Ok).setText("Train on these points")
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        hint = QLabel("left button: paint · right drag: zoom · need ≥ 10 points")
        hint.setObjectName("hint")
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(plot, 1)
        layout.addWidget(hint)
        layout.addWidget(buttons)

    def add_stroke(self, x: float, y: float) -> None:
        self._seed += 1  # each dab its own seed: reproducible, yet not the same offsets every time
        self._chunks.append(data_mod.brush((x, y), self.per_dab.value(), self.spread.value(), seed=self._seed))
        self._refresh()

    def clear(self) -> None:
        self._chunks = []
        self._refresh()

    def points(self) -> np.ndarray:
        return np.concatenate(self._chunks) if self._chunks else np.empty((0, 2), np.float32)

    def load_csv(self, path) -> bool:
        """Replace the points with a CSV's; a bad file is explained in a dialog (with its line number)."""
        try:
            pts = load_points(path)
        except data_mod.DataError as e:
            QMessageBox.critical(self, "Cannot load points", str(e))
            return False
        self._chunks = [pts]
        self._refresh()
        self.view.autoRange(padding=0.1)
        return True

    def _ask_csv(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load points", "", "CSV files (*.csv *.txt);;All files (*)")
        if path:
            self.load_csv(path)

    def _refresh(self) -> None:
        p = self.points()
        self.scatter.setData(p[:, 0], p[:, 1])
        self.count.setText(f"{len(p):,} points")

    def _accept(self) -> None:
        if len(self.points()) < 10:
            QMessageBox.information(self, "Too few points", "Draw at least 10 points (or load a CSV).")
            return
        self.accept()


def load_points(path):
    """(n, 2) points from a CSV of x,y rows; DataError (saying what to do) for anything else."""
    points = data_mod.load_points_csv(path)
    widest = _widest_numeric_row(path)
    if widest > 2:
        raise data_mod.DataError(f"{Path(path).name} has {widest} columns; genviz reads 2D points as two "
                                 "columns x,y — save only those two and load it again")
    return points


def _widest_numeric_row(path) -> int:
    """How many non-empty cells the widest data row has (a header line does not count)."""
    with open(path, encoding="utf-8") as fh:
        rows = [[c for c in r if c.strip()] for r in csv.reader(fh) if r and not r[0].lstrip().startswith("#")]
    return max((len(r) for r in rows if r and _is_number(r[0])), default=0)


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False
