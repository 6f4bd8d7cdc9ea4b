"""The main window's widgets and docks, without behaviour: the Setup dock (pickers, run controls, the model's
and the training's forms), the Loss dock and the status bar. MainWindow adds what they do. The choices and the layout persist between starts (QSettings)."""
from __future__ import annotations

import json

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QGroupBox, QMainWindow, QScrollArea, QVBoxLayout, QWidget

from genviz.core import config as config_mod  # torch-free, as is everything imported here
from genviz.gui.config_form import ConfigForm
from genviz.gui.controls import ModelPicker, RunControls
from genviz.gui.loss_plot import LossPanel
from genviz.gui.status import TrainingStatus

TRAIN_FORM_EXCLUDE = ("device", "snapshot_every")  # these have their own controls in the run box
# plot refreshes by data kind, when the model names none; with the core's time budget for the panel's arrays,
# snapshots then cost ≤ ~10% of training (bench/bench_snapshots.py)
SNAPSHOT_EVERY = {"2d": 50, "image": 100}
SETUP_MIN_WIDTH = 340


def default_snapshot_every(model: str, dataset: str | None = None) -> int:
    """The model's own snapshot rate, else one that suits its data: image views cost far more per snapshot."""
    from genviz.core import data as data_mod
    from genviz.core import registry

    spec = registry.get(model)
    own = dict(spec.train_defaults).get("snapshot_every")
    if own is not None:
        return int(own)
    kind = data_mod.kind_of(dataset or spec.default_dataset)
    return SNAPSHOT_EVERY.get(kind, 50)


def fmt_value(v) -> str:
    """A value as the status bar confirms it: 0.0005, 30,000, True, cosine."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    return f"{v:,}" if isinstance(v, int) else f"{v:.6g}"


class WindowLayout(QMainWindow):
    """Docks and forms. `show_model_form` swaps the model's form; `show_choices` fills every control at once."""

    def build_setup(self) -> None:
        self.picker = ModelPicker()
        self.train_form = ConfigForm(config_mod.TrainConfig, exclude=TRAIN_FORM_EXCLUDE)
        self.run = RunControls()
        self.loss = LossPanel()
        self.status = TrainingStatus()
        self.setStatusBar(self.status)
        self.model_box = QGroupBox("Hyperparameters")
        QVBoxLayout(self.model_box)
        self.model_form = ConfigForm(config_mod.TrainConfig, exclude=())  # replaced by the model's form
        setup = QWidget()
        col = QVBoxLayout(setup)
        col.addWidget(_boxed("Model", self.picker))
        col.addWidget(_boxed("Run", self.run))
        col.addWidget(self.model_box)
        col.addWidget(_boxed("Training", self.train_form))
        col.addStretch(1)
        self.setup_scroll = QScrollArea()
        self.setup_scroll.setWidget(setup)
        self.setup_scroll.setWidgetResizable(True)
        self.setup_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setup_dock = _dock("Setup", "setup", self.setup_scroll)
        self.loss_dock = _dock("Loss", "loss", self.loss)
        self.setCorner(Qt.BottomLeftCorner, Qt.LeftDockWidgetArea)  # setup runs the full height
        self.addDockWidget(Qt.LeftDockWidgetArea, self.setup_dock)
        self.addDockWidget(Qt.BottomDockWidgetArea, self.loss_dock)
        self.resize(1400, 900)
        self.resizeDocks([self.loss_dock], [260], Qt.Vertical)

    def show_model_form(self, name: str, values: dict | None = None) -> None:
        """The model's own form (its config dataclass), filled with `values` over the defaults."""
        from genviz.core import registry

        spec = registry.get(name)
        self.model_form.setParent(None)
        self.model_form.deleteLater()
        self.model_form = ConfigForm(spec.config_class(), values or {})
        self.model_form.value_changed.connect(self._on_model_field)
        self.model_box.layout().addWidget(self.model_form)
        self.model_box.setTitle(f"{spec.title or name} hyperparameters")
        fits_energy = "target" in self.model_form.widgets  # e.g. a planar flow fitted by reverse KL
        self.picker.dataset.setEnabled(not fits_energy)
        self.picker.dataset.setToolTip("this model fits the energy picked as 'target' below, not a dataset; the "
                                       "data only frame the plots" if fits_energy else "")
        if fits_energy:  # its data is the target energy: say so where the model is described
            def name_target(*_):
                target = self.model_form.values().get("target")
                self.picker.summary.setText(f"{spec.summary}\ndata: the target energy “{target}” (picked below); "
                                            "the dataset only frames the plots")

            name_target()
            self.model_form.value_changed.connect(name_target)
        self.fit_setup_width()

    def show_choices(self, model: str, dataset: str, model_cfg: dict, train: dict) -> None:
        """Put a run's choices into every control without starting anything (opening a checkpoint)."""
        for w in (self.picker, self.train_form, self.run):
            w.blockSignals(True)
        self.picker.select(model, dataset)
        self.show_model_form(model, model_cfg)
        self.train_form.set_values(train)
        self.run.snapshot_every.setValue(int(train.get("snapshot_every", 25)))
        for w in (self.picker, self.train_form, self.run):
            w.blockSignals(False)

    def fit_setup_width(self) -> None:
        """The Setup dock is wide enough for its widest form and its scroll bar: nothing is clipped."""
        content = self.setup_scroll.widget()
        content.adjustSize()
        bar = self.setup_scroll.verticalScrollBar().sizeHint().width()
        need = content.minimumSizeHint().width() + bar + 2 * self.setup_scroll.frameWidth() + 4
        self.setup_scroll.setMinimumWidth(max(SETUP_MIN_WIDTH, need))

    def _on_model_field(self, name: str, value) -> None:  # MainWindow: what a committed model edit does
        raise NotImplementedError

    # -- persistence: `self.settings` (QSettings) holds what the next start restores; nothing is written
    # when `self.persist` is False ---------------------------------------------------------------------
    def stored_json(self, key: str) -> dict:
        try:
            return json.loads(self.settings.value(key, "{}") or "{}")
        except (TypeError, ValueError):
            return {}

    def restore_layout(self) -> None:
        """Window geometry and dock layout as the user left them."""
        s = self.settings
        if s.value("geometry") is not None:
            self.restoreGeometry(s.value("geometry"))
        if s.value("windowState") is not None:
            self.restoreState(s.value("windowState"))

    def restore_device(self) -> None:
        """The device the user chose last, if it is still offered."""
        s = self.settings
        self.run.blockSignals(True)
        self.run.device.setCurrentText(str(s.value("device", "cpu")))
        self.run.blockSignals(False)

    def restore_training(self) -> None:
        """The stored training form values and snapshot rate, over the current model's defaults."""
        self.train_form.set_values(self.stored_json("train"))
        if self.settings.value("snapshot_every") is not None:
            self.run.snapshot_every.setValue(int(self.settings.value("snapshot_every")))

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


def _boxed(title: str, widget: QWidget) -> QGroupBox:
    box = QGroupBox(title)
    QVBoxLayout(box).addWidget(widget)
    return box


def _dock(title: str, name: str, widget: QWidget) -> QDockWidget:
    dock = QDockWidget(title)
    dock.setObjectName(f"dock_{name}")  # saveState/restoreState need names
    dock.setWidget(widget)
    # closable: View → Setup / Loss hide and bring back each dock (they were listed there, greyed out); the
    # window's saved state remembers which are shown
    dock.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetFloatable | QDockWidget.DockWidgetClosable)
    return dock
