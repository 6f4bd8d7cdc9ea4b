"""The concept labs window: small live labs, listed by model family on the left, one page shown at a time
(imported lazily by the main window's menu). A new lab is a `LabTab` subclass with a `family`, appended to LABS."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QStackedWidget, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from genviz.gui.labs.base import FAMILIES
from genviz.gui.labs.change_of_variables_lab import ChangeOfVariablesLab, LinearMapLab
from genviz.gui.labs.coding_lab import CodingLab
from genviz.gui.labs.counts_lab import CountsLab
from genviz.gui.labs.ebm_lab import EBMNormalizerLab
from genviz.gui.labs.fenchel_lab import FenchelLab
from genviz.gui.labs.gap_lab import LikelihoodGapLab
from genviz.gui.labs.jsd_lab import JSDLab
from genviz.gui.labs.kl_lab import KLLab
from genviz.gui.labs.mc_lab import MonteCarloLab
from genviz.gui.labs.memorization_lab import MemorizationLab
from genviz.gui.labs.probe_lab import ProbeLab
from genviz.gui.labs.recap_lab import RecapLab
from genviz.gui.labs.svi_lab import SVILab
from genviz.gui.labs.twosample_lab import TwoSampleLab
from genviz.gui.panels.toolkit import plain_axes
from genviz.gui.theme import stylesheet

LABS = (CountsLab, KLLab, CodingLab, MonteCarloLab, RecapLab, LikelihoodGapLab, MemorizationLab, JSDLab, TwoSampleLab, ProbeLab, ChangeOfVariablesLab, LinearMapLab,
        EBMNormalizerLab, SVILab, FenchelLab)


class LabsWindow(QWidget):
    """Concept labs grouped by family: a navigation tree (family → lab) beside a stack of lab pages.

    A lab is built the first time its page is shown (or asked for with `lab(cls)`): the window opens at once
    however many labs there are, and labs nobody opens never compute or animate."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("genviz — concept labs")
        self.setStyleSheet(stylesheet())  # a top-level window of its own: the app's dark theme, no white frame
        self._built = {}  # lab class -> its LabTab, once built
        self._pages = {}  # lab class -> the page (an empty holder until the lab is built)
        self.pages = QStackedWidget()
        self.nav = QTreeWidget()
        self.nav.setHeaderHidden(True)
        self.nav.setRootIsDecorated(False)
        self.nav.setFixedWidth(210)
        self._items = {}
        for family in FAMILIES + tuple(sorted({cls.family for cls in LABS} - set(FAMILIES))):
            members = [cls for cls in LABS if cls.family == family]
            if not members:
                continue
            head = QTreeWidgetItem(self.nav, [family])
            head.setFlags(Qt.ItemIsEnabled)  # a heading: not selectable
            font = head.font(0)
            font.setBold(True)
            head.setFont(0, font)
            for cls in members:
                page = QWidget()
                QVBoxLayout(page).setContentsMargins(0, 0, 0, 0)
                page.lab_class = cls
                item = QTreeWidgetItem(head, [cls.title])
                item.setData(0, Qt.UserRole, self.pages.addWidget(page))
                self._pages[cls], self._items[cls] = page, item
        self.nav.expandAll()
        self.nav.currentItemChanged.connect(self._item_chosen)
        self.pages.currentChanged.connect(self._page_shown)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.nav)
        layout.addWidget(self.pages, 1)
        self._page_shown(self.pages.currentIndex())
        self.resize(1300, 760)

    def lab(self, cls):
        """The lab of class `cls`, built (into its page) if it was not yet."""
        if cls not in self._built:
            lab = self._built[cls] = cls()
            self._pages[cls].layout().addWidget(lab)
            lab.show()  # a child added to a page already on screen stays hidden until shown
            plain_axes(lab)  # titles that fit their plots, plain axis numbers
        return self._built[cls]

    @property
    def labs(self) -> list:
        """Every lab, in LABS order (builds those not built yet)."""
        return [self.lab(cls) for cls in LABS]

    def built_labs(self) -> list:
        return list(self._built.values())

    def current_lab(self):
        return self.lab(self.pages.currentWidget().lab_class)

    def show_lab(self, cls):
        """Bring one lab's page forward (and select it in the navigation); returns the lab."""
        lab = self.lab(cls)
        self.pages.setCurrentWidget(self._pages[cls])
        return lab

    def _item_chosen(self, item, _previous=None) -> None:
        index = item.data(0, Qt.UserRole) if item is not None else None
        if index is not None:
            self.pages.setCurrentIndex(index)

    def _page_shown(self, index: int) -> None:
        page = self.pages.widget(index)
        if page is None:
            return
        self.lab(page.lab_class)
        item = self._items[page.lab_class]
        if self.nav.currentItem() is not item:
            self.nav.setCurrentItem(item)
