"""The concept labs window: five small live labs as tabs (imported lazily by the main window's menu)."""
from __future__ import annotations

from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

from genviz.gui.labs.counts_lab import CountsLab
from genviz.gui.labs.gap_lab import LikelihoodGapLab
from genviz.gui.labs.kl_lab import KLLab
from genviz.gui.labs.mc_lab import MonteCarloLab
from genviz.gui.labs.twosample_lab import TwoSampleLab
from genviz.gui.panels.toolkit import plain_axes
from genviz.gui.theme import stylesheet

LABS = (CountsLab, KLLab, MonteCarloLab, LikelihoodGapLab, TwoSampleLab)


class LabsWindow(QWidget):
    """Concept labs: parameter counts, KL asymmetry, Monte Carlo, likelihood vs samples, two-sample tests."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("genviz — concept labs")
        self.setStyleSheet(stylesheet())  # a top-level window of its own: the app's dark theme, no white frame
        self.tabs = QTabWidget()
        self.labs = [cls() for cls in LABS]
        for lab in self.labs:
            self.tabs.addTab(lab, lab.title)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.tabs)
        plain_axes(self)  # titles that fit their plots, plain axis numbers
        self.resize(1200, 720)

    def lab(self, cls):
        return next(lab for lab in self.labs if isinstance(lab, cls))
