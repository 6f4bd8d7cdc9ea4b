"""The concept labs window: small live labs, listed by model family on the left, one page shown at a time
(imported lazily by the main window's menu). A new lab is a `LabTab` subclass with a `family`, appended to LABS."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QStackedWidget, QTreeWidget, QTreeWidgetItem, QWidget

from genviz.gui.labs.base import FAMILIES
from genviz.gui.labs.change_of_variables_lab import ChangeOfVariablesLab, LinearMapLab
from genviz.gui.labs.coding_lab import CodingLab
from genviz.gui.labs.counts_lab import CountsLab
from genviz.gui.labs.ebm_lab import EBMNormalizerLab
from genviz.gui.labs.gap_lab import LikelihoodGapLab
from genviz.gui.labs.jsd_lab import JSDLab
from genviz.gui.labs.kl_lab import KLLab
from genviz.gui.labs.mc_lab import MonteCarloLab
from genviz.gui.labs.memorization_lab import MemorizationLab
from genviz.gui.labs.probe_lab import ProbeLab
from genviz.gui.labs.twosample_lab import TwoSampleLab
from genviz.gui.panels.toolkit import plain_axes
from genviz.gui.theme import stylesheet

LABS = (CountsLab, KLLab, CodingLab, MonteCarloLab, LikelihoodGapLab, MemorizationLab, JSDLab, TwoSampleLab, ProbeLab, ChangeOfVariablesLab, LinearMapLab,
        EBMNormalizerLab)


class LabsWindow(QWidget):
    """Concept labs grouped by family: a navigation tree (family → lab) beside a stack of lab pages."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("genviz — concept labs")
        self.setStyleSheet(stylesheet())  # a top-level window of its own: the app's dark theme, no white frame
        self.labs = [cls() for cls in LABS]
        self.pages = QStackedWidget()
        self.tabs = self.pages  # the pages answer count/setCurrentIndex/setCurrentWidget as the tabs once did
        self.nav = QTreeWidget()
        self.nav.setHeaderHidden(True)
        self.nav.setRootIsDecorated(False)
        self.nav.setFixedWidth(210)
        self._items = {}
        for family in FAMILIES + tuple(sorted({lab.family for lab in self.labs} - set(FAMILIES))):
            members = [lab for lab in self.labs if lab.family == family]
            if not members:
                continue
            head = QTreeWidgetItem(self.nav, [family])
            head.setFlags(Qt.ItemIsEnabled)  # a heading: not selectable
            font = head.font(0)
            font.setBold(True)
            head.setFont(0, font)
            for lab in members:
                item = QTreeWidgetItem(head, [lab.title])
                item.setData(0, Qt.UserRole, self.pages.addWidget(lab))
                self._items[id(lab)] = item
        self.nav.expandAll()
        self.nav.currentItemChanged.connect(self._item_chosen)
        self.pages.currentChanged.connect(self._page_shown)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.nav)
        layout.addWidget(self.pages, 1)
        plain_axes(self)  # titles that fit their plots, plain axis numbers
        self._page_shown(self.pages.currentIndex())
        self.resize(1300, 760)

    def lab(self, cls):
        return next(lab for lab in self.labs if isinstance(lab, cls))

    def show_lab(self, cls):
        """Bring one lab's page forward (and select it in the navigation); returns the lab."""
        lab = self.lab(cls)
        self.pages.setCurrentWidget(lab)
        return lab

    def _item_chosen(self, item, _previous=None) -> None:
        index = item.data(0, Qt.UserRole) if item is not None else None
        if index is not None:
            self.pages.setCurrentIndex(index)

    def _page_shown(self, index: int) -> None:
        item = self._items.get(id(self.pages.widget(index)))
        if item is not None and self.nav.currentItem() is not item:
            self.nav.setCurrentItem(item)
