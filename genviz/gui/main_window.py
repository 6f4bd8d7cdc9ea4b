"""The main window: setup dock (pickers, forms, run controls), the family panel, the loss dock, status.

The window is a view of its TrainingController: every new run (`prepared`) gets a new family panel, an empty
loss plot and fresh status numbers, so nothing of a previous run stays on screen. Its public verbs (select,
reset, play, pause, step_once, open_path, export, use_points, train_headless) are what menus, render and
tests use. Snapshots are only queued on arrival; a ~30 Hz timer merges them into one redraw.

Importing this module imports no torch. `MainWindow(defer=True)` (the app) paints its chrome first and loads
the core on a thread (see startup.py); `ready` says when Play works. Without defer it is ready at once.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QLabel, QMessageBox, QTabWidget, QVBoxLayout, QWidget

from genviz.core import config as config_mod  # torch-free; the rest of the core is imported where used
from genviz.gui import file_menu, startup
from genviz.gui.frames import FrameQueue
from genviz.gui.panels import panel_class
from genviz.gui.runs_dock import RunsDock
from genviz.gui.panels.base import Panel
from genviz.gui.panels.toolkit import on_a_shown_tab, plain_axes
from genviz.gui.window_layout import WindowLayout, default_snapshot_every, fmt_value
from genviz.gui.theme import configure_pyqtgraph, stylesheet
from genviz.gui.worker import FAILED

REDRAW_MS = 33
LOSS_SHARE = 0.3  # the loss dock's share of the height right of the setup dock; the panel keeps >= half


def default_settings() -> QSettings:
    return QSettings(QSettings.IniFormat, QSettings.UserScope, "genviz", "genviz")


class MainWindow(WindowLayout):
    """genviz's window. `settings=None` uses the user's settings file; `persist=False` never writes it.
    `defer=True`: paint first, load the core on a thread, then build the model (`ready` is emitted)."""

    painted = Signal()  # the first paint of the window has reached the screen
    ready = Signal()  # the core is loaded and a model is built: Play works

    def __init__(self, settings: QSettings | None = None, persist: bool = True, model: str | None = None,
                 dataset: str | None = None, defer: bool = False):
        configure_pyqtgraph()
        super().__init__()
        self.setStyleSheet(stylesheet())
        self.setWindowTitle("genviz — deep generative models, live")
        self.settings = settings or default_settings()
        self.persist = persist
        self.controller = None  # a TrainingController once the core is loaded
        self._choices = (model, dataset)
        self._first_paint = True
        self.frames = FrameQueue()
        self.latest = None  # the last merged snapshot drawn (arrays for export)
        self._progress_step = -1  # the last step the status bar showed from a progress report
        self._shown_loss = None  # the last loss the status bar showed: a pause's snapshot brings no new step
        self._panel_due = None  # the merged snapshot the panel draws on the next tick
        self.last_error: Exception | None = None  # why the last reset() was refused
        self.labs = None  # the concept labs window, made on first use
        self.panel: Panel = Panel()
        self._panel_key = self._panel_config = None
        self.central = QWidget()  # one lasting central widget: swapping panels never re-splits the docks
        self.central.setMinimumSize(320, 240)  # explicit: a panel's size hint can never widen the window
        QVBoxLayout(self.central).setContentsMargins(0, 0, 0, 0)
        self.central.layout().addWidget(self.panel)
        self.setCentralWidget(self.central)
        self.build_setup()
        self.follower = None  # a RunFollower once the core is loaded: follows a run folder another process writes
        self.runs_dock = RunsDock(self)  # View → Runs: the run folders under a root, compared
        file_menu.build_menus(self)
        self.restore_layout()
        self.timer = QTimer(self)
        self.timer.setInterval(REDRAW_MS)
        self.timer.timeout.connect(self.redraw)
        self._defer = defer
        if defer:
            self._show_loading()
        else:
            self._on_core_loaded()

    def is_ready(self) -> bool:
        return self.controller is not None

    def _show_loading(self) -> None:
        """What the window shows until the core is loaded: its chrome, greyed controls, a 'loading' note."""
        self.setup_scroll.widget().setEnabled(False)
        self.menuBar().setEnabled(False)
        note = QLabel("loading PyTorch and the models…")
        note.setObjectName("loading")
        note.setAlignment(Qt.AlignCenter)
        QVBoxLayout(self.panel).addWidget(note)
        self.status.say("loading PyTorch and the models…")

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        if self._first_paint:
            self._first_paint = False
            QTimer.singleShot(0, self._after_first_paint)  # runs once this paint pass is on screen

    def _after_first_paint(self) -> None:
        self.painted.emit()
        if self._defer:
            startup.import_in_background(startup.CORE_MODULES, self._on_core_loaded, self)

    def _on_core_loaded(self) -> None:
        """The core is importable at no cost now: the controller, the pickers, the stored choices, a model."""
        from genviz.gui.controller import TrainingController

        startup.leave_a_core_for_the_gui()
        startup.freeze_loaded_objects()
        self.controller = TrainingController(self)
        from genviz.gui.follow import RunFollower

        self.follower = RunFollower(self)
        self.controller.prepared.connect(lambda _info: self.follower.stop())  # another run is shown now
        self.picker.fill()
        self.run.set_devices(startup.available_devices())
        self.restore_device()
        self._connect()
        self._restore(*self._choices)
        self.setup_scroll.widget().setEnabled(True)
        self.menuBar().setEnabled(True)
        self.timer.start()
        if self._defer:
            startup.warm_first_play()
        self.ready.emit()

    def _connect(self) -> None:
        c, r = self.controller, self.run
        c.prepared.connect(self._on_prepared)
        c.snapshot_ready.connect(self.frames.push)
        c.finished.connect(self._on_finished)
        c.progress.connect(self._on_progress)
        c.failed.connect(lambda msg: self.status.say(f"training failed: {msg}", error=True))
        c.folder_changed.connect(self._show_run_folder)
        self.picker.model_changed.connect(self._on_model_changed)
        self.picker.dataset_changed.connect(self._on_dataset_changed)
        self.picker.draw_requested.connect(lambda: file_menu.draw_points(self))
        self.train_form.value_changed.connect(self._on_train_field)
        r.play.connect(self.play)
        r.pause.connect(self.pause)
        r.step.connect(self.step_once)
        r.reset.connect(self.reset)
        r.delay_changed.connect(c.set_delay)
        r.snapshot_every_changed.connect(lambda n: self._on_train_field("snapshot_every", n))
        r.device_changed.connect(lambda v: self._on_structural_change("device", v))
        self.space_shortcut = QShortcut(QKeySequence(Qt.Key_Space), self, self.toggle_play)

    # -- choices ----------------------------------------------------------------------------------
    def select(self, model: str, dataset: str | None = None) -> None:
        """Pick a model (and dataset) as the pickers would: a fresh run of it, ready to Play."""
        self.picker.select(model, dataset)

    def _on_model_changed(self, name: str, reset: bool = True) -> None:
        from genviz.core import data as data_mod
        from genviz.core import registry

        self.show_model_form(name, self.stored_json(f"model_cfg/{name}"))
        dataset = self.picker.current_dataset() or None  # kept from the last model when this one takes it
        kind = data_mod.kind_of(dataset) if dataset else None
        self.train_form.set_values(config_mod.to_dict(registry.train_config(name, kind=kind)))
        self.run.blockSignals(True)
        self.run.snapshot_every.setValue(default_snapshot_every(name, dataset))
        self.run.blockSignals(False)
        if reset:
            self.reset()

    def _on_dataset_changed(self, name: str) -> None:
        self._follow_data_kind(name)
        self.run.blockSignals(True)
        self.run.snapshot_every.setValue(default_snapshot_every(self.picker.current_model(), name))
        self.run.blockSignals(False)
        self.reset()

    def _follow_data_kind(self, dataset: str) -> None:
        """From 2D points to images or back: the training fields still at the model's defaults for the old kind
        take its defaults for the new one (a GAN: batch 256 for points, 64 for digits); a field the user set
        keeps its value."""
        from genviz.core import data as data_mod
        from genviz.core import registry

        old, model = self.controller.dataset, self.picker.current_model()
        new_kind = data_mod.kind_of(dataset)
        if old is None or old.kind == new_kind or self.controller.model_name != model:
            return
        before = config_mod.to_dict(registry.train_config(model, kind=old.kind))
        after = config_mod.to_dict(registry.train_config(model, kind=new_kind))
        now = self.train_form.values()
        self.train_form.set_values({k: v for k, v in after.items() if k in now and now[k] == before[k] != v})

    def _on_structural_change(self, name: str, value) -> None:
        """A model field, seed, batch size or device changed: rebuild now if nothing was trained yet."""
        if self.controller.step == 0 and not self.controller.running():
            if self.reset():
                self.status.say(f"{name} = {fmt_value(value)}: a fresh model is ready — press Play (Space)")
        else:
            self.status.say(f"{name} = {fmt_value(value)} applies when you press Reset")

    def _on_model_field(self, name: str, value) -> None:
        """A field the trained model declares live (a VAE's β, a GAN's d_steps) goes to it as ("model_set", ...),
        kept for every later session of the run; any other field rebuilds the model."""
        model = self.controller.model
        trained = self.controller.running() or self.controller.step > 0
        if model is not None and trained and name in getattr(model, "live_fields", ()):
            self.controller.send(("model_set", name, value))
            where = "the running session" if self.controller.running() else "the next Play"
            self.status.say(f"{name} = {fmt_value(value)} — applies to {where}")
            return
        self._on_structural_change(name, value)

    def _on_train_field(self, name: str, value) -> None:
        """An edit was committed (Enter, focus out, arrows): validate once, then confirm or refuse it."""
        from genviz.core.session import LIVE_TRAIN_FIELDS

        if name == "tensorboard":  # changes no model: the next session's writer reads it
            self.controller.train = dataclasses.replace(self.controller.train, tensorboard=bool(value))
            folder = self.controller.run_folder
            self.status.say(f"tensorboard = {fmt_value(value)} — " + (
                f"from the next Play, scalars go to {folder / 'tb'}" if folder is not None else
                "scalars are written for a run that writes a folder: File → Write run to folder…"))
            return
        if name not in LIVE_TRAIN_FIELDS:
            self._on_structural_change(name, value)
            return
        try:
            self.train_config()
        except config_mod.ConfigError as e:
            self.status.say(f"refused — {e}", error=True)
            return
        self.controller.set_live(name, value)
        where = "the running session" if self.controller.running() else "the next Play"
        self.status.say(f"{name} = {fmt_value(value)} — applies to {where}")

    def train_config(self) -> config_mod.TrainConfig:
        extra = {"device": self.run.device.currentText(), "snapshot_every": self.run.snapshot_every.value()}
        return self.train_form.config(extra)

    # -- run verbs ----------------------------------------------------------------------------------
    def reset(self) -> bool:
        """A fresh model from the current choices; False (with the reason in the status bar) if refused."""
        from genviz.core import data as data_mod
        from genviz.core import registry

        name, ds_name = self.picker.current_model(), self.picker.current_dataset()
        try:
            model_cfg = self.model_form.config()
            train = self.train_config()
            dataset = self.controller.load_dataset(ds_name, train.seed)
            self.controller.prepare(name, dataset, config_mod.to_dict(model_cfg), train)
        except (config_mod.ConfigError, data_mod.DataError) as e:
            same = self.controller.model_name == name and self.controller.dataset is not None and \
                self.controller.dataset.name == ds_name
            self.controller.stop() if same else self.controller.clear()  # never show another model's run
            self.status.say(f"refused — {e}", error=True)
            self.run.set_running(False)
            self.last_error = e
            return False
        self.last_error = None
        self.status.say(f"{registry.get(name).title or name} on {ds_name}: ready — press Play (Space)")
        return True

    def _on_prepared(self, info: dict) -> None:
        """A new run: a new panel, an empty loss plot, fresh numbers. Nothing of the previous run stays."""
        self.frames.clear()
        self._panel_due, self.latest, self._progress_step, self._shown_loss = None, None, -1, None
        self.loss.clear()
        key = (info.get("model"), info.get("dataset"))
        old_tabs = self.panel.findChild(QTabWidget)
        tab = old_tabs.currentIndex() if old_tabs is not None and key == self._panel_key else None
        # Tabs that appear with a model's first snapshot (the VAE's posterior and β · collapse, CycleGAN's
        # translation, MAF's speed): the same model with the same config brings them back at its first
        # snapshot, so Reset keeps them in their place, empty, instead of moving the user off the one they chose.
        kept = ([old_tabs.isTabVisible(i) for i in range(old_tabs.count())]
                if tab is not None and info.get("config") == self._panel_config else None)
        self._set_panel(info.get("family"))
        self._panel_key, self._panel_config = key, info.get("config")
        if info:
            self.panel.begin(info)
        new_tabs = self.panel.findChild(QTabWidget)
        if kept is not None and new_tabs is not None and new_tabs.count() == len(kept):
            for i, shown in enumerate(kept):
                if shown:
                    new_tabs.setTabVisible(i, True)
        if tab is not None and new_tabs is not None and new_tabs.isTabVisible(tab):
            new_tabs.setCurrentIndex(tab)  # Reset keeps the view the user was looking at
        self.status.show_numbers(self.controller.step, self.controller.train.steps, 0.0, None, float("inf"))
        self.run.set_running(False)
        QTimer.singleShot(0, self._fit_views)

    def _set_panel(self, family: str | None) -> None:
        try:
            panel = panel_class(family)() if family else Panel()
        except Exception as e:  # a family's panel failing to build must not take the window down
            self.status.say(f"the {family} panel could not be built ({type(e).__name__}: {e}); "
                            "the loss plot still works", error=True)
            panel = Panel()
        plain_axes(panel)
        panel.command_issued.connect(self.controller.send)
        old, self.panel = self.panel, panel
        self.central.layout().replaceWidget(old, panel)
        old.setParent(None)
        old.deleteLater()

    def _fit_views(self) -> None:
        """Once the new panel has its size: the panel keeps its share, its plots frame their data."""
        self.keep_panel_share()
        self.panel.reset_view()

    def keep_panel_share(self) -> None:
        """The family panel keeps at least half of the height right of the setup dock."""
        if not self.loss_dock.isVisible() or self.loss_dock.isFloating():
            return
        total = self.central.height() + self.loss_dock.height()
        if self.loss_dock.height() > 0.5 * total or self.central.height() < 0.5 * total:
            self.resizeDocks([self.loss_dock], [int(LOSS_SHARE * total)], Qt.Vertical)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        QTimer.singleShot(0, self.keep_panel_share)

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
        from genviz.core import data as data_mod
        from genviz.core import runs

        try:
            verb()
        except (config_mod.ConfigError, data_mod.DataError, runs.RunFolderError) as e:
            self.status.say(f"refused — {e}", error=True)
            return False
        return True

    def play(self) -> None:
        if self.follower is not None and self.follower.following():
            self.follower.detach_and_train("play")  # training here takes the run over, never a silent copy
            return
        if self._ready_to_train() and self._start(self.controller.play):
            self.run.set_running(True)
            self.status.say("training…")

    def pause(self) -> None:
        self.controller.pause()
        self.run.set_running(False)

    def step_once(self) -> None:
        if self.follower is not None and self.follower.following():
            self.follower.detach_and_train("step")
            return
        if self._ready_to_train() and self._start(self.controller.step_once):
            self.run.set_running(False)

    def toggle_play(self) -> None:
        if not self.is_ready():
            return
        if self.run.pause_btn.isEnabled():
            self.pause()
        else:
            self.play()

    def train_headless(self) -> str:
        """Train to the step budget on this thread and draw everything (render); returns the final status."""
        status = self.controller.run_sync(self.frames.push)
        self._on_finished(status)
        return status

    def _on_finished(self, status: str) -> None:
        self.flush()
        self.loss.fit_view()
        self.run.set_running(False)
        if status == "done":
            self.status.say(f"finished at step {self.controller.step:,} — Play trains "
                            f"{self.controller.train.steps:,} more steps, Reset starts over")
        elif status == "stopped" and self.controller.run_folder is not None:  # Pause, when writing a folder
            self.status.say(f"paused at step {self.controller.step:,} — checkpoint and metrics written to "
                            f"{self.controller.run_folder}")
        elif status == "stopped":
            self.status.say(f"stopped at step {self.controller.step:,}")

    def _show_run_folder(self, folder) -> None:
        """The folder this run writes, in the title and the status bar (None: it writes none now)."""
        base = "genviz — deep generative models, live"
        self.setWindowTitle(base if folder is None else f"genviz — writing {folder}")
        if folder is not None:
            self.status.say(f"writing this run to {folder}: metrics at each snapshot, a checkpoint every "
                            f"{self.controller.checkpoint_every:g} s and at Pause")

    # -- files ----------------------------------------------------------------------------------------
    def open_path(self, path, follow: bool = True) -> bool:
        """Open a checkpoint file or run folder: its model, forms and history, its density/samples at once.
        A run folder that another process is writing is followed live (`follow`). False (and a message box)
        if it cannot be opened; nothing changes then."""
        from genviz.core import checkpoint
        from genviz.core import data as data_mod

        is_run = not str(path).endswith(".pt")
        if follow and Path(path).is_dir() and not (Path(path) / "checkpoint.pt").is_file():
            return self.follower.open_before_first_checkpoint(path)  # curves now, the panel at its first checkpoint
        try:
            opened = self.controller.open(path)
        except (checkpoint.CheckpointError, config_mod.ConfigError, data_mod.DataError) as e:
            QMessageBox.critical(self, f"Cannot open {'run folder' if is_run else 'checkpoint'}", str(e))
            return False
        p = opened.payload
        self.show_choices(p["model"], opened.dataset, p["model_config"], config_mod.to_dict(opened.train))
        from genviz.core import run_reader

        live = follow and Path(path).is_dir() and run_reader.is_live(path)
        if not live:  # a followed run's curves are drawn by its follower, which reads metrics.csv from its start
            self.show_history(opened.history)
        self.controller.preview()
        self.flush()
        self.status.say(f"opened {p['model']} at step {p['step']:,} — Play continues training")
        if live:
            self.follower.start(path)  # says what it follows
        return True

    def show_history(self, cols: dict, redraw: bool = True) -> None:
        """A run folder's metrics.csv rows, drawn as if trained here: the loss plot's curves and markers, and the
        panel's own curves over time (a GAN's JSD and mode coverage, a VAE's ELBO terms, an SSVAE's accuracy),
        which an opened run showed empty until it trained again."""
        from genviz.core.session import Snapshot

        parts = self.loss.load_history(cols, redraw=redraw, skip=self.panel.own_metrics)
        if parts is None:  # no rows
            return
        ok, losses, vals = parts
        steps = cols["step"]
        # one add_metrics per snapshot row (~1% of a long run's rows), as live snapshots give them
        held_out = np.any([np.isfinite(v) for v in vals.values()], axis=0) if vals else np.zeros(len(steps), bool)
        for i in np.flatnonzero(held_out):
            self.panel.add_metrics(int(steps[i]), {k: float(v[i]) for k, v in vals.items() if np.isfinite(v[i])})
        if ok.any():
            # the status bar's loss, as live: the first term ('loss', a GAN's loss_d), not '–'
            self._shown_loss = float(next(iter(losses.values()))[ok][-1])
            # per-step terms (a VAE's train Rec and KL); no arrays, so the views keep what they show
            self.panel.show_snapshot(Snapshot(int(steps[-1]), self.controller.train.steps, steps[ok].astype(np.int64),
                                              {k: v[ok] for k, v in losses.items()}, {}, {}, "paused"))

    def use_points(self, points) -> bool:
        """Train on these (n, 2) points as the 'custom' dataset. Everything is checked first; a refusal (a
        DataError naming what to do) leaves the current run untouched."""
        from genviz.core import data as data_mod
        from genviz.core import registry

        pts = np.asarray(points, np.float32)
        if pts.ndim != 2 or pts.shape[1] != 2:
            raise data_mod.DataError(f"points need exactly two columns (x, y); got shape {pts.shape}")
        model = self.picker.current_model() if "2d" in registry.get(self.picker.current_model()).data_kinds \
            else "realnvp"
        batch = self.train_config().batch_size if model == self.picker.current_model() else \
            registry.train_config(model).batch_size
        dataset = self.controller.load_dataset("custom", self.train_config().seed, points=pts)
        if batch > len(dataset.train):
            need = int(np.ceil(len(pts) * batch / max(len(dataset.train), 1)))
            raise data_mod.DataError(f"{len(pts)} points leave {len(dataset.train)} for training, fewer than "
                                     f"the batch size {batch}: use at least {need} points, or lower batch size")
        self.controller.points = pts
        self.picker.blockSignals(True)
        if model != self.picker.current_model():
            self.picker.select(model)
            self._on_model_changed(model, reset=False)
        self.picker.select(model, "custom")
        self.picker.blockSignals(False)
        return self.reset()

    def plots(self) -> dict:
        """The views a user can see (a tab the model does not show, such as an image GAN's 2D game or an
        image VAE's 2D density, is not exported as an empty plot) and the loss plot."""
        return {**{k: v for k, v in self.panel.plots().items() if on_a_shown_tab(v)}, **self.loss.plots()}

    def export(self, kind: str, path) -> list:
        """kind: png | svg (path = a folder) | csv | npz (samples) | checkpoint | metrics. Raises ValueError,
        OSError or CheckpointError with a message for the user, RunFolderError (naming the other process)
        when the target is a run folder that another process is writing."""
        from genviz.gui import export

        with export.one_writer(Path(path) if kind in ("png", "svg") else Path(path).parent):
            return self._write(kind, path)

    def _write(self, kind: str, path) -> list:
        from genviz.gui import export

        if kind in ("png", "svg"):
            return export.export_plots(self.plots(), path, kind)
        if kind in ("csv", "npz"):
            if self.latest is None or not self.latest.arrays:
                raise ValueError("nothing to export yet: train a little first")
            return [export.export_samples(self.latest.arrays, path, kind)]
        if kind == "checkpoint":
            return [self.controller.save_checkpoint(path)]
        if kind == "metrics":
            return [export.export_metrics(self.loss.history(), path)]
        raise ValueError(f"unknown export {kind!r}")

    # -- drawing ------------------------------------------------------------------------------------
    def redraw(self) -> None:
        """One frame (the ~30 Hz timer): merge the queued snapshots into the loss plot and status now and
        the family panel on the next tick, so one event-loop pass never paints both big views."""
        if self._panel_due is not None:
            snap, self._panel_due = self._panel_due, None
            self.panel.show_snapshot(snap)
            return
        if not self.frames:
            return
        snaps, merged = self.frames.take()
        own = self.panel.own_metrics
        for i, s in enumerate(snaps):
            self.loss.append(s.steps, s.losses)
            if s.metrics and s.status not in FAILED:
                self.loss.add_metrics(s.step, {k: v for k, v in s.metrics.items() if k not in own})
                if i < len(snaps) - 1:  # the last comes with show_snapshot
                    self.panel.add_metrics(s.step, s.metrics)
        self.loss.redraw()
        self._panel_due = merged
        old = self.latest.arrays if self.latest else {}
        self.latest = dataclasses.replace(merged, arrays={**old, **merged.arrays})
        self._show_status(snaps)

    def flush(self) -> None:
        """Draw everything queued now (render, end of a run)."""
        while self.frames or self._panel_due is not None:
            self.redraw()

    def _on_progress(self, step: int, total: int, rate: float, loss) -> None:
        """Training between snapshots: the status bar's step, rate, loss and ETA move on (a GAN on MNIST
        snapshots ~20 s apart); the plots wait for the next snapshot."""
        if not self.controller.running() or (self.latest is not None and step <= self.latest.step):
            return
        self._progress_step = step
        if loss is not None:
            self._shown_loss = loss
        eta = (total - step) / rate if rate > 0 else float("inf")
        self.status.show_numbers(step, total, rate, self._shown_loss, eta)

    def _show_status(self, snaps) -> None:
        last = snaps[-1]
        loss = next((float(v[-1]) for s in reversed(snaps) for v in s.losses.values() if len(v)), self._shown_loss)
        self._shown_loss = loss  # Pause sends a snapshot without a new step: the loss stays on screen
        eta = last.eta_s if last.status == "running" else float("inf")  # one Step's rate predicts nothing
        if last.status != "running" or last.step >= self._progress_step:  # the numbers never go back in time
            self.status.show_numbers(last.step, last.total_steps, last.steps_per_s, loss, eta)
        message = next((s.message for s in reversed(snaps) if s.message), "")
        if last.status in FAILED:
            self.status.say(last.message or "training stopped on an error", error=True)
        elif message:
            self.status.say(message)
        elif last.status == "paused":
            self.status.say(f"paused at step {last.step:,}")

    # -- persistence (what is stored: window_layout) -----------------------------------------------------
    def _restore(self, model: str | None, dataset: str | None) -> None:
        """The stored choices (`model`/`dataset` win over the stored ones), then a fresh model."""
        self.picker.blockSignals(True)
        self.picker.select(model or self.settings.value("model", "realnvp"),
                           dataset or self.settings.value("dataset", None))
        self.picker.blockSignals(False)
        self._on_model_changed(self.picker.current_model(), reset=False)
        self.restore_training()  # the user's values over the model's defaults
        self.reset()

    def closeEvent(self, event) -> None:
        self.timer.stop()
        if self.controller is None:  # closed while loading: nothing chosen yet to remember or stop
            super().closeEvent(event)
            return
        self.save_settings()
        self.follower.stop()
        self.runs_dock.close_dock()
        if self.labs is not None:
            self.labs.close()  # a separate top-level window: it must not outlive the app's main window
        if not self.controller.stop(timeout_s=1.0):
            self.controller.stop(timeout_s=5.0)  # a long op in flight: never leave a thread running
        super().closeEvent(event)

