"""The Runs dock: the run folders under a root (default ./runs), with model, dataset, step, status and final
metrics; tick several to overlay their curves (one colour and legend entry per run, the loss plot's smoothing
and log-y) and to see their config differences; double-click one to open it (a live one is followed).

New folders appear while the app runs: the list is polled every few seconds while the dock is visible, and
ticked runs that are still being written grow their curves (only new bytes are read). Reads only
(core.run_reader); needs no torch.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QComboBox, QDockWidget, QFileDialog, QHBoxLayout, QLabel, QPushButton, QSplitter,
                               QTableWidget, QTableWidgetItem, QTabWidget, QTreeWidget, QTreeWidgetItem,
                               QVBoxLayout, QWidget)

from genviz.core import run_reader
from genviz.gui.loss_plot import LossPanel, curve_color

POLL_MS = 2000
COLUMNS = ("run", "model", "dataset", "step", "status", "final metrics")


class RunsPanel(QWidget):
    """The dock's content. Verbs: set_root, refresh, tick(name), ticked(); `open_requested(path)` on double-click."""

    open_requested = Signal(Path)

    def __init__(self, root, parent=None):
        super().__init__(parent)
        self.root = Path(root)
        self.infos: dict[Path, run_reader.RunInfo] = {}
        self.items: dict[Path, QTreeWidgetItem] = {}
        self.tails: dict[Path, run_reader.MetricsTail] = {}  # ticked runs: their metrics, read as they grow
        self.cols: dict[Path, dict] = {}
        self.color_of: dict[Path, object] = {}
        self._build()
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.refresh)

    def _build(self) -> None:
        self.root_label = QLabel()
        self.root_btn = QPushButton("Root…")
        self.root_btn.setToolTip("the folder whose run folders are listed")
        self.root_btn.clicked.connect(self._ask_root)
        top = QHBoxLayout()
        top.addWidget(self.root_label, 1)
        top.addWidget(self.root_btn)
        self.table = QTreeWidget()
        self.table.setHeaderLabels(list(COLUMNS))
        self.table.setRootIsDecorated(False)
        self.table.setUniformRowHeights(True)
        self.table.setToolTip("tick runs to compare them; double-click one to open it (a live one is followed)")
        self.table.itemChanged.connect(self._on_item_changed)
        self.table.itemDoubleClicked.connect(lambda item, _col: self.open_requested.emit(item.data(0, Qt.UserRole)))
        self.overlay = LossPanel(raw=False, hint="tick runs above to overlay their curves")
        self.overlay.item.setLabel("left", "loss")
        self.column = QComboBox()
        self.column.setToolTip("the metrics.csv column drawn for every ticked run")
        self.column.addItem("loss")
        self.column.currentTextChanged.connect(lambda _t: self.rebuild_overlay())
        self.overlay.add_control(self.column)
        self.overlay.add_control(QLabel("curve"))
        self.diff = QTableWidget()
        self.diff.setEditTriggers(QTableWidget.NoEditTriggers)
        self.diff_note = QLabel()
        self.diff_note.setWordWrap(True)
        diff_page = QWidget()
        col = QVBoxLayout(diff_page)
        col.setContentsMargins(0, 0, 0, 0)
        col.addWidget(self.diff_note)
        col.addWidget(self.diff, 1)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.overlay, "Curves")
        self.tabs.addTab(diff_page, "Config differences")
        split = self.split = QSplitter(Qt.Vertical)
        split.addWidget(self.table)
        split.addWidget(self.tabs)
        split.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(top)
        layout.addWidget(split, 1)
        self._show_root()
        self.show_diff()

    # -- the list -------------------------------------------------------------------------------------------
    def set_root(self, root) -> None:
        self.root = Path(root)
        self.table.clear()
        self.infos, self.items, self.tails, self.cols = {}, {}, {}, {}
        self._show_root()
        self.refresh()
        self.rebuild_overlay()
        self.show_diff()

    def _show_root(self) -> None:
        self.root_label.setText(f"runs in {self.root.resolve()}")
        self.root_label.setToolTip(str(self.root.resolve()))

    def _ask_root(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Folder holding run folders", str(self.root))
        if path:
            self.set_root(path)

    def refresh(self) -> None:
        """Re-list the root (new folders appear, changed ones update) and grow the ticked runs' curves."""
        found = {r.path: r for r in run_reader.list_runs(self.root)}
        self.table.blockSignals(True)
        for path in [p for p in self.items if p not in found]:
            self.table.takeTopLevelItem(self.table.indexOfTopLevelItem(self.items.pop(path)))
            self.tails.pop(path, None)
            self.cols.pop(path, None)
        for path, info in found.items():
            item = self.items.get(path)
            if item is None:
                item = self.items[path] = QTreeWidgetItem()
                item.setData(0, Qt.UserRole, path)
                item.setFlags(item.flags() | Qt.ItemIsUserCheckable)
                item.setCheckState(0, Qt.Unchecked)
                self.table.addTopLevelItem(item)
            for i, text in enumerate((info.name, info.model, info.dataset, f"{info.step:,}", info.status,
                                      info.final_text())):
                item.setText(i, text)
            item.setToolTip(0, str(path))
        self.table.blockSignals(False)
        for i in range(len(COLUMNS) - 1):
            self.table.resizeColumnToContents(i)
        changed = {p for p in self.infos if p in found and found[p].config != self.infos[p].config}
        self.infos = found
        if self._grow() or changed & set(self.tails):
            self.show_diff()

    def names(self) -> list[str]:
        return [self.table.topLevelItem(i).text(0) for i in range(self.table.topLevelItemCount())]

    def item(self, name: str) -> QTreeWidgetItem:
        return next(it for it in self.items.values() if it.text(0) == name)

    def tick(self, name: str, on: bool = True) -> None:
        """What a click on the run's check box does."""
        self.item(name).setCheckState(0, Qt.Checked if on else Qt.Unchecked)

    def ticked(self) -> list[Path]:
        """The ticked runs in the order they were ticked (the overlay's legend and the table's columns)."""
        return list(self.tails)

    def _on_item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        if column != 0:
            return
        path = item.data(0, Qt.UserRole)
        if item.checkState(0) == Qt.Checked and path not in self.tails:
            self.tails[path] = run_reader.MetricsTail(path / "metrics.csv")
            self.cols[path] = {}
            self.color_of.setdefault(path, curve_color(len(self.color_of)))
            self._grow()  # reads the new run's file and adds its curve; the others' stay as they are
        elif item.checkState(0) != Qt.Checked and path in self.tails:
            self.tails.pop(path)
            self.cols.pop(path)
            self.rebuild_overlay()
        self.show_diff()

    # -- the overlay ------------------------------------------------------------------------------------------
    def _grow(self) -> bool:
        """Read what the ticked runs appended; True if a file was replaced (the overlay was rebuilt)."""
        grown, rebuilt = {}, False
        for path, tail in self.tails.items():
            chunk = tail.poll()
            if chunk.reset:
                self.cols[path], rebuilt = {}, True
            if len(chunk):
                old = self.cols[path]
                self.cols[path] = {k: np.concatenate([old.get(k, np.full(len(old.get("step", ())), np.nan)), v])
                                   for k, v in chunk.columns.items()}
                grown[path] = chunk.columns
        self._offer_columns()
        if rebuilt:
            self.rebuild_overlay()
        elif grown:
            for path, cols in grown.items():
                self._append(path, cols)
            self.overlay.redraw()
        return rebuilt

    def _append(self, path: Path, cols: dict) -> None:
        y = cols.get(self.column.currentText())
        if y is None or "step" not in cols:
            return
        ok = np.isfinite(y)
        name = self.infos[path].name if path in self.infos else path.name
        self.overlay.colors[name] = self.color_of[path]
        self.overlay.append(cols["step"][ok], {name: y[ok]})

    def rebuild_overlay(self) -> None:
        """Every ticked run's chosen column, one curve each (after a tick, a column change, a replaced file)."""
        self.overlay.clear()
        self.overlay.colors = {}
        for path in self.ticked():
            if path in self.cols:
                self._append(path, self.cols[path])
        self.overlay.item.setLabel("left", self.column.currentText())
        self.overlay.redraw()

    def _offer_columns(self) -> None:
        names = list(dict.fromkeys(k for c in self.cols.values() for k in c if k != "step"))
        have = [self.column.itemText(i) for i in range(self.column.count())]
        for n in names:
            if n not in have:
                self.column.addItem(n)

    # -- config differences -----------------------------------------------------------------------------------
    def show_diff(self) -> None:
        runs = [p for p in self.ticked() if p in self.infos]
        diff = run_reader.config_diff({self.infos[p].name: self.infos[p].config for p in runs}) if len(runs) > 1 else {}
        self.diff.clear()
        self.diff.setRowCount(len(diff))
        self.diff.setColumnCount(len(runs) if diff else 0)
        self.diff.setHorizontalHeaderLabels([self.infos[p].name for p in runs] if diff else [])
        self.diff.setVerticalHeaderLabels(list(diff))
        for r, values in enumerate(diff.values()):
            for c, v in enumerate(values.values()):
                self.diff.setItem(r, c, QTableWidgetItem(_fmt(v)))
        self.diff.resizeColumnsToContents()
        if len(runs) < 2:
            self.diff_note.setText("tick two or more runs to see the settings in which they differ")
        elif not diff:
            self.diff_note.setText(f"the {len(runs)} ticked runs have the same settings")
        else:
            self.diff_note.setText(f"{len(diff)} setting{'s' if len(diff) > 1 else ''} differ between the "
                                   f"{len(runs)} ticked runs (– : not set)")

    def diff_rows(self) -> dict[str, list[str]]:
        """What the differences table shows: {setting: [cell per run]}."""
        return {self.diff.verticalHeaderItem(r).text(): [self.diff.item(r, c).text()
                                                         for c in range(self.diff.columnCount())]
                for r in range(self.diff.rowCount())}


def _fmt(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.6g}" if math.isfinite(v) else str(v)
    return v if isinstance(v, str) else json.dumps(v)


class RunsDock(QDockWidget):
    """View → Runs. Lists `runs_root` (stored in the window's settings; default ./runs) and polls it while
    visible. Double-click opens a run in the window (`open_path`: a live one is followed)."""

    def __init__(self, window):
        super().__init__("Runs")
        self.setObjectName("dock_runs")  # saveState/restoreState need names
        self.w = window
        root = window.settings.value("runs_root", None) or (Path.cwd() / "runs")
        self.panel = RunsPanel(root)
        self.setWidget(self.panel)
        self.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetFloatable |
                         QDockWidget.DockWidgetClosable)
        self.panel.open_requested.connect(self._open)
        window.addDockWidget(Qt.RightDockWidgetArea, self)
        self.hide()  # until View → Runs (or a stored layout) shows it
        self.visibilityChanged.connect(self._on_visible)
        self._sized = False

    def _open(self, path: Path) -> None:
        if self.w.is_ready():
            self.w.open_path(path)

    def _on_visible(self, visible: bool) -> None:
        if visible and not self._sized:
            self._sized = True
            QTimer.singleShot(0, self._first_size)
        if visible:
            self.panel.refresh()
            self.panel.timer.start()
        else:
            self.panel.timer.stop()

    def _first_size(self) -> None:
        """Shown the first time: a third of the window's width at most (docked beside the family panel it took
        half of a 1280 px window, squeezing the panel's plots to slivers), and the curves twice the list's height."""
        if not self.isFloating() and self.width() > 0.34 * self.w.width():
            self.w.resizeDocks([self], [int(0.3 * self.w.width())], Qt.Horizontal)
        h = self.panel.split.height()
        if h > 0:
            self.panel.split.setSizes([h // 3, h - h // 3])

    def close_dock(self) -> None:
        self.panel.timer.stop()
        if self.w.persist:
            self.w.settings.setValue("runs_root", str(self.panel.root))
