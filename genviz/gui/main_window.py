"""The main window: setup dock (pickers, forms, run controls), the family panel, the loss dock, status.

Snapshots arrive from the worker by queued signal and are only queued here; a ~30 Hz timer merges
everything received since the last frame (every loss value kept, the latest arrays) into one redraw.
"""
from __future__ import annotations

import dataclasses
import json

import numpy as np
from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QDockWidget, QGroupBox, QMainWindow, QScrollArea, QVBoxLayout, QWidget

from genviz.core import config as config_mod
from genviz.core import data as data_mod
from genviz.core import registry
from genviz.core.session import LIVE_TRAIN_FIELDS
from genviz.gui import file_menu
from genviz.gui.config_form import ConfigForm
from genviz.gui.controller import TrainingController
from genviz.gui.controls import ModelPicker, RunControls
from genviz.gui.loss_plot import LossPanel
from genviz.gui.panels import panel_class
from genviz.gui.panels.base import Panel
from genviz.gui.status import TrainingStatus
from genviz.gui.theme import configure_pyqtgraph, stylesheet

REDRAW_MS = 33
TRAIN_FORM_EXCLUDE = ("device", "snapshot_every")  # these have their own controls in the run box


def default_settings() -> QSettings:
    return QSettings(QSettings.IniFormat, QSettings.UserScope, "genviz", "genviz")


class MainWindow(QMainWindow):
    """genviz's window. `settings=None` uses the user's settings file; `persist=False` never writes it."""

    def __init__(self, settings: QSettings | None = None, persist: bool = True, model: str | None = None,
                 dataset: str | None = None):
        super().__init__()
        configure_pyqtgraph()
        self.setStyleSheet(stylesheet())
        self.setWindowTitle("genviz — deep generative models, live")
        self.settings = settings or default_settings()
        self.persist = persist
        self.controller = TrainingController(self)
        self.custom_points: np.ndarray | None = None
        self.latest = None  # the last merged snapshot drawn (arrays for export)
        self._pending: list = []
        self._panel_due = None  # the merged snapshot the panel draws on the next tick
        self.last_error: Exception | None = None  # why the last reset() was refused
        self._family = None
        self.panel: Panel | None = None
        self.model_form: ConfigForm | None = None
        self._build_widgets()
        self._build_docks()
        file_menu.build_menus(self)
        self._connect()
        self._restore(model, dataset)
        self.timer = QTimer(self)
        self.timer.setInterval(REDRAW_MS)
        self.timer.timeout.connect(self.redraw)
        self.timer.start()

    # -- construction -----------------------------------------------------------------------------
    def _build_widgets(self) -> None:
        self.picker = ModelPicker()
        self.train_form = ConfigForm(config_mod.TrainConfig, exclude=TRAIN_FORM_EXCLUDE)
        self.run = RunControls()
        self.loss = LossPanel()
        self.status = TrainingStatus()
        self.setStatusBar(self.status)
        self.model_box = QGroupBox("Hyperparameters")
        QVBoxLayout(self.model_box)

    def _build_docks(self) -> None:
        boxes = [("Model", self.picker), ("Run", self.run), ("Training", self.train_form)]
        setup = QWidget()
        col = QVBoxLayout(setup)
        for title, w in boxes[:2]:
            col.addWidget(_boxed(title, w))
        col.addWidget(self.model_box)
        col.addWidget(_boxed(*boxes[2]))
        col.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(setup)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(360)
        self.setup_dock = _dock("Setup", "setup", scroll)
        self.loss_dock = _dock("Loss", "loss", self.loss)
        self.setCorner(Qt.BottomLeftCorner, Qt.LeftDockWidgetArea)  # setup runs the full height
        self.addDockWidget(Qt.LeftDockWidgetArea, self.setup_dock)
        self.addDockWidget(Qt.BottomDockWidgetArea, self.loss_dock)
        self.resize(1400, 900)
        self.resizeDocks([self.loss_dock], [280], Qt.Vertical)

    def _connect(self) -> None:
        c, r = self.controller, self.run
        c.snapshot_ready.connect(self._pending.append)
        c.finished.connect(self._on_finished)
        c.failed.connect(lambda msg: self.status.say(f"training failed: {msg}", error=True))
        self.picker.model_changed.connect(self._on_model_changed)
        self.picker.dataset_changed.connect(lambda _: self.reset())
        self.picker.draw_requested.connect(lambda: file_menu.draw_points(self))
        self.train_form.value_changed.connect(self._on_train_field)
        r.play.connect(self.play)
        r.pause.connect(self.pause)
        r.step.connect(self.step_once)
        r.reset.connect(self.reset)
        r.delay_changed.connect(c.set_delay)
        r.snapshot_every_changed.connect(lambda n: self._on_train_field("snapshot_every", n))
        r.device_changed.connect(lambda _: self._on_structural_change())
        self.space_shortcut = QShortcut(QKeySequence(Qt.Key_Space), self, self.toggle_play)

    # -- model / form changes ---------------------------------------------------------------------
    def _on_model_changed(self, name: str, reset: bool = True) -> None:
        spec = registry.get(name)
        if self.model_form is not None:
            self.model_form.setParent(None)
            self.model_form.deleteLater()
        stored = self._stored_json(f"model_cfg/{name}")
        self.model_form = ConfigForm(spec.config_class(), stored)
        self.model_form.value_changed.connect(lambda *_: self._on_structural_change())
        self.model_box.layout().addWidget(self.model_form)
        self.model_box.setTitle(f"{spec.title or name} hyperparameters")
        self.train_form.set_values(dict(spec.train_defaults))
        if spec.family != self._family:
            self._set_panel(spec.family)
        if reset:
            self.reset()

    def _set_panel(self, family: str) -> None:
        try:
            panel = panel_class(family)()
        except Exception as e:  # a family's panel failing to build must not take the window down
            self.status.say(f"the {family} panel could not be built ({type(e).__name__}: {e}); "
                            "the loss plot still works", error=True)
            panel = Panel()
        panel.command_issued.connect(self.controller.send)
        self.setCentralWidget(panel)
        self.panel, self._family = panel, family

    def _on_structural_change(self) -> None:
        """A model field, seed, batch size or device changed: rebuild now if nothing was trained yet."""
        if self.controller.step == 0 and not self.controller.running():
            self.reset()
        else:
            self.status.say("changed settings apply when you press Reset")

    def _on_train_field(self, name: str, value) -> None:
        if name not in LIVE_TRAIN_FIELDS:
            self._on_structural_change()
            return
        try:
            self.train_config()
        except config_mod.ConfigError as e:
            self.status.say(f"refused — {e}", error=True)
            return
        self.controller.set_live(name, value)

    def train_config(self) -> config_mod.TrainConfig:
        extra = {"device": self.run.device.currentText(), "snapshot_every": self.run.snapshot_every.value()}
        return self.train_form.config(extra)

    # -- run verbs ----------------------------------------------------------------------------------
    def reset(self) -> bool:
        """A fresh model from the current choices; False (with the reason in the status bar) if refused."""
        self.controller.stop()
        self._pending.clear()
        self._panel_due = None
        name, ds_name = self.picker.current_model(), self.picker.current_dataset()
        try:
            model_cfg = self.model_form.config()
            train = self.train_config()
            dataset = data_mod.load(ds_name, seed=train.seed, points=self.custom_points)
            self.controller.prepare(name, dataset, config_mod.to_dict(model_cfg), train)
        except (config_mod.ConfigError, data_mod.DataError) as e:
            self.status.say(f"refused — {e}", error=True)
            self.run.set_running(False)
            self.last_error = e
            return False
        self.last_error = None
        self.begin_view()
        self.status.say(f"{registry.get(name).title or name} on {ds_name}: ready — press Play (Space)")
        return True

    def begin_view(self) -> None:
        """Clear plots and start the panel on the controller's model/data."""
        self.loss.clear()
        self.latest = None
        self.panel.begin(self.controller.info())
        self.status.show_numbers(self.controller.step, self.controller.train.steps, 0.0, None, float("inf"))
        self.run.set_running(False)

    def _ready_to_train(self) -> bool:
        """Validate the forms; refuse (naming the field) before anything trains."""
        try:
            self.model_form.config()
            train = self.train_config()
        except config_mod.ConfigError as e:
            self.status.say(f"refused — {e}", error=True)
            return False
        if self.controller.model is None:
            return self.reset()
        if not self.controller.running():
            self.controller.train = train
        return True

    def _start(self, verb) -> bool:
        try:
            verb()
        except (config_mod.ConfigError, data_mod.DataError) as e:
            self.status.say(f"refused — {e}", error=True)
            return False
        return True

    def play(self) -> None:
        if self._ready_to_train() and self._start(self.controller.play):
            self.run.set_running(True)
            self.status.say("training…")

    def pause(self) -> None:
        self.controller.pause()
        self.run.set_running(False)

    def step_once(self) -> None:
        if self._ready_to_train() and self._start(self.controller.step_once):
            self.run.set_running(False)

    def toggle_play(self) -> None:
        if self.run.pause_btn.isEnabled():
            self.pause()
        else:
            self.play()

    def _on_finished(self, status: str) -> None:
        self.flush()
        self.run.set_running(False)
        if status == "done":
            self.status.say(f"finished at step {self.controller.step:,} — Play trains "
                            f"{self.controller.train.steps:,} more steps, Reset starts over")
        elif status == "stopped":
            self.status.say(f"stopped at step {self.controller.step:,}")

    # -- drawing ------------------------------------------------------------------------------------
    def redraw(self) -> None:
        """One frame (the ~30 Hz timer): merge the queued snapshots into the loss plot and status now and
        the family panel on the next tick, so one event-loop pass never paints both big views."""
        if self._panel_due is not None:
            snap, self._panel_due = self._panel_due, None
            if self.panel is not None:
                self.panel.show_snapshot(snap)
            return
        if not self._pending:
            return
        snaps, self._pending[:] = list(self._pending), []
        arrays: dict = {}
        own = self.panel.own_metrics if self.panel is not None else ()
        for i, s in enumerate(snaps):
            self.loss.append(s.steps, s.losses)
            if s.metrics and s.status != "error":
                self.loss.add_metrics(s.step, {k: v for k, v in s.metrics.items() if k not in own})
                if self.panel is not None and i < len(snaps) - 1:  # the last comes with show_snapshot
                    self.panel.add_metrics(s.step, s.metrics)
            arrays.update(s.arrays)
        self.loss.redraw()
        last = snaps[-1]
        merged = dataclasses.replace(last, arrays=arrays, steps=np.concatenate([s.steps for s in snaps]),
                                     losses=_merge_losses(snaps))
        self._panel_due = merged
        self.latest = dataclasses.replace(merged, arrays={**(self.latest.arrays if self.latest else {}), **arrays})
        self._show_status(snaps)

    def flush(self) -> None:
        """Draw everything queued now (render, end of a run)."""
        while self._pending or self._panel_due is not None:
            self.redraw()

    def _show_status(self, snaps) -> None:
        last = snaps[-1]
        loss = next((float(v[-1]) for s in reversed(snaps) for v in s.losses.values() if len(v)), None)
        self.status.show_numbers(last.step, last.total_steps, last.steps_per_s, loss, last.eta_s)
        message = next((s.message for s in reversed(snaps) if s.message), "")
        if last.status == "error":
            self.status.say(last.message or "training stopped on an error", error=True)
        elif message:
            self.status.say(message)
        elif last.status == "paused":
            self.status.say(f"paused at step {last.step:,}")

    # -- persistence --------------------------------------------------------------------------------
    def _stored_json(self, key: str) -> dict:
        try:
            return json.loads(self.settings.value(key, "{}") or "{}")
        except (TypeError, ValueError):
            return {}

    def _restore(self, model: str | None, dataset: str | None) -> None:
        s = self.settings
        if s.value("geometry") is not None:
            self.restoreGeometry(s.value("geometry"))
        if s.value("windowState") is not None:
            self.restoreState(s.value("windowState"))
        self.run.blockSignals(True)
        self.run.snapshot_every.setValue(int(s.value("snapshot_every", 25)))
        self.run.device.setCurrentText(str(s.value("device", "cpu")))
        self.run.blockSignals(False)
        self.picker.blockSignals(True)
        self.picker.select(model or s.value("model", "realnvp"), dataset or s.value("dataset", None))
        self.picker.blockSignals(False)
        self._on_model_changed(self.picker.current_model(), reset=False)
        self.train_form.set_values(self._stored_json("train"))  # user's values over the model's defaults
        self.reset()

    def save_settings(self) -> None:
        if not self.persist:
            return
        s = self.settings
        s.setValue("geometry", self.saveGeometry())
        s.setValue("windowState", self.saveState())
        s.setValue("model", self.picker.current_model())
        s.setValue("dataset", self.picker.current_dataset())
        s.setValue(f"model_cfg/{self.picker.current_model()}", json.dumps(self.model_form.values()))
        s.setValue("train", json.dumps(self.train_form.values()))
        s.setValue("snapshot_every", self.run.snapshot_every.value())
        s.setValue("device", self.run.device.currentText())
        s.sync()

    def closeEvent(self, event) -> None:
        self.save_settings()
        self.timer.stop()
        if getattr(self, "_labs", None) is not None:
            self._labs.close()  # a separate top-level window: it must not outlive the app's main window
        if not self.controller.stop(timeout_s=1.0):
            self.controller.stop(timeout_s=5.0)  # a long op in flight: never leave a thread running
        super().closeEvent(event)


def _merge_losses(snaps) -> dict:
    names = dict.fromkeys(k for s in snaps for k in s.losses)
    return {k: np.concatenate([s.losses[k] for s in snaps if k in s.losses]) for k in names}


def _boxed(title: str, widget: QWidget) -> QGroupBox:
    box = QGroupBox(title)
    QVBoxLayout(box).addWidget(widget)
    return box


def _dock(title: str, name: str, widget: QWidget) -> QDockWidget:
    dock = QDockWidget(title)
    dock.setObjectName(f"dock_{name}")  # saveState/restoreState need names
    dock.setWidget(widget)
    dock.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetFloatable)
    return dock
