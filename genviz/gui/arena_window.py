"""The Arena: every family on the same 2D data, side by side, with one live scoreboard (View → Arena…).

Pick a dataset and the models (a checkable list: one per family by default, any 2D registry model); Play all,
Pause all, or one model's own Play/Pause; checking or unchecking a model adds or removes its column while the
others keep training; draw or load points to train them all on your own data. Each column is an ArenaColumn
(its own TrainingController and worker); the scoreboard under the grid is a ScoreboardPanel (arena_board.py).
"""
from __future__ import annotations

import time
from pathlib import Path

import torch
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QFormLayout, QHBoxLayout, QLabel, QListWidget,
                               QListWidgetItem, QPushButton, QScrollArea, QSpinBox, QSplitter, QVBoxLayout, QWidget)

from genviz.core import arena, registry
from genviz.core import data as data_mod
from genviz.core.config import ConfigError
from genviz.gui.arena_board import ScoreboardPanel
from genviz.gui.arena_column import ARENA_VIEW, SNAPSHOT_EVERY, ArenaColumn
from genviz.gui.panels.toolkit import BoxFrame
from genviz.gui.theme import stylesheet

REDRAW_MS = 100  # 10 Hz
DRAWN_PER_TICK = 2  # columns redrawn per tick: a column's new picture waits at most ~0.3 s with five


class ArenaWindow(QWidget):
    """Controls on the left; on the right the grid of columns over the scoreboard (`board_area`)."""

    def __init__(self, parent=None, models=None, model_config: dict | None = None,
                 snapshot_every: int = SNAPSHOT_EVERY):
        """`models`: the line-up to start with (default arena.DEFAULT_MODELS); `model_config`: model name ->
        config overrides (tests use tiny models); `snapshot_every`: steps between a model's snapshots."""
        super().__init__(parent)
        self.setWindowTitle("genviz — Arena")
        self.setStyleSheet(stylesheet())  # a window of its own: the main window's sheet does not reach it
        self.lineup = tuple(arena.DEFAULT_MODELS if models is None else models)
        self.model_config = dict(model_config or {})
        self.snapshot_every = snapshot_every
        self.columns: dict[str, ArenaColumn] = {}
        self.frames: dict[str, BoxFrame] = {}
        self.dataset = None
        self.points = None  # drawn or loaded (n, 2) points: the 'custom' dataset
        self._retired: list[ArenaColumn] = []  # removed columns whose worker is still finishing a step
        self.closed = False
        self._drawn_from = 0  # the column the next redraw starts from
        self._build()
        self.timer = QTimer(self, interval=REDRAW_MS, timeout=self.redraw)
        self.timer.start()
        self.set_dataset(self.dataset_box.currentText())

    # -- widgets ------------------------------------------------------------------------------------
    def _build(self) -> None:
        side = QWidget()
        side.setFixedWidth(180)
        form = QFormLayout()
        self.dataset_box = QComboBox()
        self.dataset_box.addItems([n for n in data_mod.TOY2D])
        self.dataset_box.setCurrentText("8gaussians")
        self.dataset_box.currentTextChanged.connect(self.set_dataset)
        self.steps_box = QSpinBox(minimum=0, maximum=10_000_000, singleStep=1000)
        self.steps_box.setSpecialValueText("model's own")
        self.steps_box.setToolTip("steps each model trains; 0: each model's default")
        form.addRow("dataset", self.dataset_box)
        form.addRow("steps", self.steps_box)
        self.draw_btn = QPushButton("Draw…")
        self.draw_btn.setToolTip("draw your own 2D points; every model starts over on them")
        self.draw_btn.clicked.connect(self._draw)
        self.load_btn = QPushButton("Load CSV…")
        self.load_btn.setToolTip("load x,y points from a CSV file; every model starts over on them")
        self.load_btn.clicked.connect(self._load_csv)
        self.play_btn = QPushButton("Play all")
        self.pause_btn = QPushButton("Pause all")
        self.play_btn.clicked.connect(self.play_all)
        self.pause_btn.clicked.connect(self.pause_all)
        self.model_list = QListWidget()
        self.model_list.setSelectionMode(QAbstractItemView.NoSelection)
        for name in arena.candidates():
            item = QListWidgetItem(name)
            item.setFlags(Qt.ItemIsEnabled | Qt.ItemIsUserCheckable)
            item.setCheckState(Qt.Checked if name in self.lineup else Qt.Unchecked)
            item.setToolTip(f"{registry.get(name).title}: {registry.get(name).summary}")
            self.model_list.addItem(item)
        self.model_list.itemChanged.connect(self._on_item)
        self.notice = QLabel()  # why a model could not join
        self.notice.setWordWrap(True)
        self.notice.setStyleSheet("color:#ff6b81")
        note = QLabel("Check a model to add it, uncheck to remove it: the others keep training.")
        note.setWordWrap(True)
        note.setStyleSheet("color:#8a8f98")
        v = QVBoxLayout(side)
        v.setContentsMargins(4, 4, 4, 4)
        v.addLayout(form)
        points = QHBoxLayout()
        points.addWidget(self.draw_btn)
        points.addWidget(self.load_btn)
        v.addLayout(points)
        buttons = QHBoxLayout()
        buttons.addWidget(self.play_btn)
        buttons.addWidget(self.pause_btn)
        v.addLayout(buttons)
        v.addWidget(QLabel("models"))
        v.addWidget(self.model_list, 1)
        v.addWidget(self.notice)
        v.addWidget(note)
        self.grid = QWidget()
        self.grid_layout = QHBoxLayout(self.grid)
        self.grid_layout.setContentsMargins(0, 0, 0, 0)
        self.grid_layout.setSpacing(3)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.grid)
        self.scroll = scroll
        self.scoreboard = ScoreboardPanel(self.columns)
        self.board_area = QSplitter(Qt.Vertical)
        self.board_area.setChildrenCollapsible(False)
        self.board_area.addWidget(scroll)
        self.board_area.addWidget(self.scoreboard)
        self.board_area.setStretchFactor(0, 1)
        self.board_area.setStretchFactor(1, 0)
        h = QHBoxLayout(self)
        h.setContentsMargins(2, 2, 2, 2)
        h.addWidget(side)
        h.addWidget(self.board_area, 1)

    # -- the line-up ------------------------------------------------------------------------------------
    def checked_models(self) -> list[str]:
        return [self.model_list.item(i).text() for i in range(self.model_list.count())
                if self.model_list.item(i).checkState() == Qt.Checked]

    def _on_item(self, item: QListWidgetItem) -> None:
        if item.checkState() == Qt.Checked:
            self.add_model(item.text())
        else:
            self.remove_model(item.text())

    def _check(self, name: str, on: bool) -> None:
        """Tick or untick a model in the list without adding or removing a column."""
        self.model_list.blockSignals(True)
        for i in range(self.model_list.count()):
            if self.model_list.item(i).text() == name:
                self.model_list.item(i).setCheckState(Qt.Checked if on else Qt.Unchecked)
        self.model_list.blockSignals(False)

    def use_points(self, points) -> None:
        """Every model starts over on these (n, 2) points, the 'custom' dataset (DataError if unusable)."""
        data_mod.load("custom", seed=0, points=points)  # refuse bad points before anything changes
        self.points = points
        self.dataset_box.blockSignals(True)
        if self.dataset_box.findText("custom") < 0:
            self.dataset_box.addItem("custom")
        self.dataset_box.setCurrentText("custom")
        self.dataset_box.blockSignals(False)
        self.set_dataset("custom")

    def _draw(self) -> None:
        from PySide6.QtWidgets import QDialog

        from genviz.gui.draw import DrawDialog

        dlg = DrawDialog(self.points, self)
        if dlg.exec() == QDialog.Accepted:
            self._try_points(dlg.points)

    def _load_csv(self) -> None:
        from PySide6.QtWidgets import QFileDialog

        from genviz.gui.draw import load_points

        path, _ = QFileDialog.getOpenFileName(self, "Load points", "", "CSV files (*.csv *.txt);;All files (*)")
        if path:
            self._try_points(lambda: load_points(path))

    def _try_points(self, get) -> None:
        from PySide6.QtWidgets import QMessageBox

        try:
            self.use_points(get())
        except data_mod.DataError as e:
            QMessageBox.critical(self, "Cannot use these points", str(e))

    def set_dataset(self, name: str) -> None:
        """Every model starts over on `name` (a 2D toy dataset, or 'custom': the drawn or loaded points)."""
        for col in list(self.columns.values()):
            self._drop(col)
        self.dataset = data_mod.load(name, seed=0, points=self.points if name == "custom" else None)
        self.scoreboard.start_over(name, self.dataset)
        order = {m: i for i, m in enumerate(self.lineup)}  # the line-up's order, then the others' registry order
        for m in sorted(self.checked_models(), key=lambda m: order.get(m, len(order))):
            self.add_model(m, play=False)

    def add_model(self, name: str, play: bool | None = None) -> ArenaColumn | None:
        """A new column for `name`, fresh on the current dataset; it plays if the others are playing."""
        if name in self.columns:
            return self.columns[name]
        playing = any(c.playing() for c in self.columns.values()) if play is None else play
        col = self._new_column(name)
        train = {"seed": 0, "snapshot_every": self.snapshot_every}
        if self.steps_box.value():
            train["steps"] = self.steps_box.value()
        # a few drawn points: batches no larger than the training split
        train["batch_size"] = min(registry.train_config(name, kind=self.dataset.kind).batch_size,
                                  len(self.dataset.train))
        try:
            col.controller.prepare(name, self.dataset, self.model_config.get(name, {}),
                                   registry.train_config(name, train, kind=self.dataset.kind))
        except (ConfigError, ValueError) as e:  # refused: say why, leave no column behind
            self._drop(col)
            self._check(name, False)
            self.notice.setText(f"{name}: {e}")
            return None
        self.notice.setText("")
        self._begin(col)
        if playing:
            col.play()
        return col

    def _new_column(self, name: str) -> ArenaColumn:
        col = ArenaColumn(name)
        col.remove_requested.connect(lambda n: self._check(n, False) or self.remove_model(n))
        self.columns[name] = col
        self.frames[name] = BoxFrame(col.heat_plot, col.samples_plot)
        self.grid_layout.addWidget(col, 1)
        self._check(name, True)
        return col

    def _begin(self, col: ArenaColumn) -> None:
        col.begin(col.controller.info(), arena.true_entropy(col.controller.dataset.name))
        col.controller.send(("view", dict(ARENA_VIEW)))
        self.frames[col.name].set_box(self.dataset.bbox())  # one data box for every column: shared axes
        self._relink()
        self.scoreboard.refresh()

    def _relink(self) -> None:
        """Loss plots share the step axis with the first column's."""
        cols = list(self.columns.values())
        for c in cols[1:]:
            c.loss_plot.setXLink(cols[0].loss_plot)
        if cols:
            cols[0].loss_plot.setXLink(None)

    def remove_model(self, name: str) -> None:
        col = self.columns.get(name)
        if col is not None:
            self._drop(col)
            self._relink()
            self.scoreboard.refresh()

    def _drop(self, col: ArenaColumn) -> None:
        if not col.stop():  # still inside a long step: keep it (hidden) until its thread has ended
            self._retired.append(col)
            col.controller.finished.connect(lambda _s, c=col: self._retired.remove(c) if c in self._retired else None)
        self.columns.pop(col.name, None)
        self.frames.pop(col.name, None)
        self.scoreboard.forget(col.name)
        self.grid_layout.removeWidget(col)
        col.hide()
        if col not in self._retired:
            col.setParent(None)
            col.deleteLater()

    # -- running ------------------------------------------------------------------------------------------
    def play_all(self) -> None:
        for col in self.columns.values():
            col.play()

    def pause_all(self) -> None:
        for col in self.columns.values():
            col.pause()

    def redraw(self, all_columns: bool = False) -> None:
        """Redraw up to DRAWN_PER_TICK columns that changed, round-robin (all with `all_columns`): five columns
        redrawn in one tick would stall the event loop for their sum."""
        now = time.perf_counter()
        dt, self._tick = now - getattr(self, "_tick", now), now
        cols = list(self.columns.values())
        for col in cols:
            if col.playing():
                col.wall_s += dt
        drawn, start = 0, self._drawn_from  # fixed for this pass: moving it mid-loop skipped columns
        for i in range(len(cols)):
            col = cols[(start + i) % len(cols)]
            if col.dirty and (all_columns or drawn < DRAWN_PER_TICK):
                col.redraw()
                drawn += 1
                self._drawn_from = (start + i + 1) % len(cols)
            elif not col.dirty:
                col.redraw()  # keeps its layout fitted; nothing is drawn
        self._fit_steps(cols)
        self.scoreboard.refresh_live()

    def _fit_steps(self, cols: list) -> None:
        """The linked step axis spans the longest run (a linked axis follows the first column's own data, which
        cut a 20,000-step VAE curve at MADE's 2,000) until the user zooms or pans it: then it is theirs."""
        if not cols:
            return
        vb = cols[0].loss_plot.getViewBox()
        if vb is not getattr(self, "_span_vb", None):  # a new first column: follow the runs again
            self._span_vb, self._span, self._span_mine = vb, None, False
            vb.sigRangeChangedManually.connect(lambda *_: setattr(self, "_span_mine", True))
        last = [s.data()[0][-1] for c in cols for s in c.series.values() if len(s.data()[0])]
        if last and not self._span_mine and max(last) != self._span:
            self._span = max(last)
            vb.setXRange(0, self._span, padding=0.02)

    # -- opening an arena folder ------------------------------------------------------------------------------
    def open_folder(self, folder) -> None:
        """Show an `genviz arena --out` folder: each run at its last checkpoint (Play continues it) and the
        scoreboard it wrote."""
        from genviz.arena_cli import read_arena

        folder = Path(folder)
        meta = read_arena(folder)
        for col in list(self.columns.values()):
            self._drop(col)
        self.dataset_box.blockSignals(True)
        self.dataset_box.setCurrentText(meta["dataset"])
        self.dataset_box.blockSignals(False)
        self.model_list.blockSignals(True)
        for i in range(self.model_list.count()):
            self.model_list.item(i).setCheckState(Qt.Unchecked)
        self.model_list.blockSignals(False)
        self.set_dataset(meta["dataset"])
        for name in meta["models"]:
            col = self._new_column(name)
            opened = col.controller.open(folder / name)
            self.dataset = self.scoreboard.dataset = col.controller.dataset  # the runs' own data for the scorer
            self._begin(col)
            col.add_history(opened.history)
            col.controller.preview()  # one snapshot of the stored model: its density and samples
            if not len(col.arrays.get("samples", col.arrays.get("negatives", ()))):
                gen = torch.Generator().manual_seed(0)
                col.arrays["samples"] = arena.draw_samples(col.controller.model, ARENA_VIEW["n_samples"], gen)
        rows = arena.read_csv(folder / "scoreboard.csv") if (folder / "scoreboard.csv").is_file() else []
        for r in rows:
            if r.model in self.columns:
                self.columns[r.model].wall_s = r.wall_s
        self.scoreboard.load(rows)

    def closeEvent(self, event) -> None:  # noqa: N802
        self.closed = True  # its workers and scorer are gone: View → Arena… makes a new window
        self.timer.stop()
        for col in [*self.columns.values(), *self._retired]:
            col.stop()
        self.scoreboard.stop()
        super().closeEvent(event)
