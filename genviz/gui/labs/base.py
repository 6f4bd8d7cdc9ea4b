"""A concept lab tab: the formula it illustrates (rich text), a row of live controls, pyqtgraph plots and an
export-PNG button. Subclasses build controls and plots in `build()` and redraw in `refresh()`; every computation
is a pure function of genviz.core.labs, small enough to run on the GUI thread."""
from __future__ import annotations

import pyqtgraph as pg
import pyqtgraph.exporters  # noqa: F401  (registers ImageExporter)
from PySide6.QtCore import QObject, QThread, Qt
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QFileDialog, QHBoxLayout, QLabel, QPushButton,
                               QSlider, QSpinBox, QVBoxLayout, QWidget)

from genviz.gui.panels.toolkit import rich_label

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
        self.formula_label = rich_label(self.formula)
        v.addWidget(self.formula_label)
        self.controls = QHBoxLayout()
        v.addLayout(self.controls)
        self.graphics = pg.GraphicsLayoutWidget()
        v.addWidget(self.graphics, 1)
        bottom = QHBoxLayout()
        self.status = rich_label()
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


class WorkerLab(LabTab):
    """A lab whose computation is too slow for the GUI thread: a QObject worker (a `run` slot, an `abort`
    threading.Event, `progressed(str)` shown in the status line, `finished` at the end) runs on a QThread.
    `thread` is not None while it runs; Run is disabled and Stop enabled meanwhile; Stop sets the worker's abort
    and closing the lab stops it and waits. Subclasses make the buttons with `run_stop_buttons` and a connected
    worker in `new_worker`."""

    def __init__(self, parent=None):
        self.thread, self.worker = None, None  # set before build() and refresh() run, which may read them
        super().__init__(parent)

    def run_stop_buttons(self, text: str, tip: str = "") -> None:
        self.run_button = self.button(text, self.start, tip)
        self.stop_button = self.button("Stop", self.stop)
        self.stop_button.setEnabled(False)

    def new_worker(self) -> QObject:
        """A fresh worker with the subclass's result signals connected (and any other signal that ends the run
        connected to `_done`)."""
        raise NotImplementedError

    def run_ended(self) -> None:
        """Called once the worker's thread has ended and the buttons are back."""

    def start(self) -> None:
        if self.thread is not None:
            return
        self.worker = self.new_worker()
        self.thread = QThread(self)
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.run)
        self.worker.progressed.connect(self.status.setText)
        self.worker.finished.connect(self._done)  # after new_worker's own connections: results drawn first
        self.run_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.thread.start()

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.abort.set()

    def _done(self, *_) -> None:
        self.thread.quit()
        self.thread.wait()
        self.thread, self.worker = None, None
        self.run_button.setEnabled(True)
        self.stop_button.setEnabled(False)
        self.run_ended()

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if self.thread is not None:
            self.stop()
            self.thread.quit()
            self.thread.wait()
        super().closeEvent(event)


def pen(color: str, width: float = 2, style=None):
    return pg.mkPen(color, width=width, style=style or Qt.SolidLine)
