"""A concept lab tab: the formula it illustrates (rich text), a row of live controls, pyqtgraph plots and an
export-PNG button. Subclasses build controls and plots in `build()` and redraw in `refresh()`; every computation
is a pure function of genviz.core.labs, small enough to run on the GUI thread."""
from __future__ import annotations

import pyqtgraph as pg
import pyqtgraph.exporters  # noqa: F401  (registers ImageExporter)
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QFileDialog, QHBoxLayout, QLabel, QPushButton,
                               QSlider, QSpinBox, QVBoxLayout, QWidget)

ORANGE, BLUE, GREEN, PINK, GREY = "#ff9f43", "#4fa3ff", "#2ed573", "#ff6b81", "#8a8f98"
# the course's order: the navigation lists labs under these headings, in this order
FAMILIES = ("Basics", "Autoregressive", "VAE", "Flows", "GAN", "EBM")


class LabTab(QWidget):
    """One lab. `graphics` (a GraphicsLayoutWidget) is what `export_png` writes."""

    title = ""
    family = "Basics"  # the group it sits in, in the labs window's navigation (one of FAMILIES)
    formula = ""  # HTML shown above the plots

    def __init__(self, parent=None):
        super().__init__(parent)
        v = QVBoxLayout(self)
        self.formula_label = QLabel(self.formula)
        self.formula_label.setTextFormat(Qt.RichText)
        self.formula_label.setWordWrap(True)
        v.addWidget(self.formula_label)
        self.controls = QHBoxLayout()
        v.addLayout(self.controls)
        self.graphics = pg.GraphicsLayoutWidget()
        v.addWidget(self.graphics, 1)
        bottom = QHBoxLayout()
        self.status = QLabel("")
        self.status.setTextFormat(Qt.RichText)
        self.status.setWordWrap(True)
        self.export_button = QPushButton("Export PNG…")
        self.export_button.clicked.connect(self._export_dialog)
        bottom.addWidget(self.status, 1)
        bottom.addWidget(self.export_button)
        v.addLayout(bottom)
        self._ready = False  # controls set up in build() must not refresh before every plot exists
        self.build()
        self._ready = True
        self.controls.addStretch(1)
        self.refresh()

    def build(self) -> None:
        raise NotImplementedError

    def refresh(self) -> None:
        raise NotImplementedError

    # -- control helpers (each change triggers refresh) ---------------------------------------------------
    def spin(self, label: str, lo: int, hi: int, value: int, tip: str = "") -> QSpinBox:
        w = QSpinBox()
        w.setRange(lo, hi)
        w.setValue(value)
        return self._add(label, w, tip, w.valueChanged)

    def dspin(self, label: str, lo: float, hi: float, value: float, step: float, tip: str = "") -> QDoubleSpinBox:
        w = QDoubleSpinBox()
        w.setRange(lo, hi)
        w.setSingleStep(step)
        w.setDecimals(3)
        w.setValue(value)
        return self._add(label, w, tip, w.valueChanged)

    def slider(self, label: str, lo: int, hi: int, value: int, tip: str = "") -> QSlider:
        w = QSlider(Qt.Horizontal)
        w.setRange(lo, hi)
        w.setValue(value)
        w.setMinimumWidth(90)
        return self._add(label, w, tip, w.valueChanged)

    def combo(self, label: str, items, tip: str = "") -> QComboBox:
        w = QComboBox()
        w.addItems(list(items))
        return self._add(label, w, tip, w.currentIndexChanged)

    def button(self, text: str, slot, tip: str = "") -> QPushButton:
        b = QPushButton(text)
        b.setToolTip(tip)
        b.clicked.connect(slot)
        self.controls.addWidget(b)
        return b

    def _add(self, label, w, tip, signal):
        if label:
            self.controls.addWidget(QLabel(label))
        w.setToolTip(tip)
        self.controls.addWidget(w)
        signal.connect(lambda *_: self.refresh() if self._ready else None)
        return w

    # -- export ---------------------------------------------------------------------------------------
    def export_png(self, path: str) -> None:
        pg.exporters.ImageExporter(self.graphics.ci).export(str(path))

    def _export_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, f"Export {self.title}", f"{self.title}.png", "PNG (*.png)")
        if path:
            self.export_png(path)


def pen(color: str, width: float = 2, style=None):
    return pg.mkPen(color, width=width, style=style or Qt.SolidLine)
