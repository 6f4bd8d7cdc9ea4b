"""Left-dock controls: the family → model → dataset pickers and the run buttons/speed/device row.

Importing this module imports no torch (the window paints before torch loads): the picker is filled by
`fill()` and the device list by `set_devices()` once the core is loaded.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QComboBox, QFormLayout, QGridLayout, QHBoxLayout, QLabel, QPushButton,
                               QSlider, QSpinBox, QStyle, QWidget)

from genviz.gui.config_form import unit_text


class ModelPicker(QWidget):
    """Family, model and dataset combos from the registry; only datasets the model can train on."""

    model_changed = Signal(str)
    dataset_changed = Signal(str)
    draw_requested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.family = QComboBox()
        self.model = QComboBox()
        self.dataset = QComboBox()
        self.draw = QPushButton("Draw…")
        self.draw.setToolTip("draw your own 2D points with the mouse, or load a CSV")
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setObjectName("summary")
        row = QHBoxLayout()
        row.addWidget(self.dataset, 1)
        row.addWidget(self.draw)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("family", self.family)
        form.addRow("model", self.model)
        form.addRow("dataset", row)
        form.addRow(self.summary)
        self.family.currentTextChanged.connect(self._fill_models)
        self.model.currentIndexChanged.connect(self._on_model)
        self.dataset.currentTextChanged.connect(self._on_dataset)
        self.draw.clicked.connect(self.draw_requested)
        self.summary.setText("loading…")
        for combo in (self.family, self.model, self.dataset):
            combo.setPlaceholderText("loading…")

    def fill(self) -> None:
        """The families, models and datasets from the registry (imports the core, hence torch)."""
        from genviz.core import registry

        self.family.addItems(registry.families())

    def current_model(self) -> str:
        return self.model.currentData() or ""

    def current_dataset(self) -> str:
        return self.dataset.currentText()

    def select(self, model: str, dataset: str | None = None) -> None:
        """Pick a model (and its family) and a dataset; unknown names are ignored."""
        from genviz.core import registry

        if model in registry.MODELS:
            self.family.setCurrentText(registry.get(model).family)
            i = self.model.findData(model)
            if i >= 0:
                self.model.setCurrentIndex(i)
        if dataset and self.dataset.findText(dataset) >= 0:
            self.dataset.setCurrentText(dataset)

    def _fill_models(self, family: str) -> None:
        from genviz.core import registry

        self.model.blockSignals(True)
        self.model.clear()
        for name, spec in registry.MODELS.items():
            if spec.family == family:
                self.model.addItem(spec.title or name, name)
        self.model.blockSignals(False)
        self._on_model()

    def _on_model(self, *_) -> None:
        name = self.current_model()
        if not name:
            return
        from genviz.core import data as data_mod
        from genviz.core import registry

        spec = registry.get(name)
        self.summary.setText(spec.summary)
        keep = self.dataset.currentText()
        self.dataset.blockSignals(True)
        self.dataset.clear()
        self.dataset.addItems([d for d in data_mod.names() if data_mod.kind_of(d) in spec.data_kinds])
        self.dataset.setCurrentText(keep if self.dataset.findText(keep) >= 0 else spec.default_dataset)
        self.dataset.blockSignals(False)
        self.draw.setEnabled("2d" in spec.data_kinds)
        self.model_changed.emit(name)

    def _on_dataset(self, name: str) -> None:
        if name:
            self.dataset_changed.emit(name)


class RunControls(QWidget):
    """Play / Pause / Step / Reset, slow motion (delay per step), snapshot rate, device."""

    play = Signal()
    pause = Signal()
    step = Signal()
    reset = Signal()
    delay_changed = Signal(float)  # seconds per step
    snapshot_every_changed = Signal(int)
    device_changed = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        icon = self.style().standardIcon
        self.play_btn = QPushButton(icon(QStyle.SP_MediaPlay), "Play")
        self.pause_btn = QPushButton(icon(QStyle.SP_MediaPause), "Pause")
        self.step_btn = QPushButton(icon(QStyle.SP_MediaSkipForward), "Step")
        self.reset_btn = QPushButton(icon(QStyle.SP_BrowserReload), "Reset")
        self.play_btn.setObjectName("play")
        self.play_btn.setToolTip("train (Space toggles play/pause)")
        self.step_btn.setToolTip("one optimisation step, then pause")
        self.reset_btn.setToolTip("a fresh model with the form's settings")
        self.speed = QSlider(Qt.Horizontal)
        self.speed.setRange(0, 200)
        self.speed.setToolTip("slow motion: pause after each step (ms)")
        self.speed_label = QLabel()
        self.snapshot_every = QSpinBox()
        self.snapshot_every.setRange(1, 100_000)
        self.snapshot_every.setValue(25)
        self.snapshot_every.setSuffix(" steps")
        self.snapshot_every.setKeyboardTracking(False)
        self.snapshot_every.setToolTip("how often the plots get fresh model outputs (costs training speed)")
        self.device = QComboBox()
        self.device.addItem("cpu")  # set_devices() adds what torch finds
        self._layout()
        self.play_btn.clicked.connect(self.play)
        self.pause_btn.clicked.connect(self.pause)
        self.step_btn.clicked.connect(self.step)
        self.reset_btn.clicked.connect(self.reset)
        self.speed.valueChanged.connect(self._on_speed)
        self.snapshot_every.valueChanged.connect(lambda v: self.snapshot_every.setSuffix(unit_text("steps", v)))
        self.snapshot_every.valueChanged.connect(self.snapshot_every_changed)
        self.device.currentTextChanged.connect(self.device_changed)
        self._on_speed(0)
        self.set_running(False)

    def set_devices(self, devices: list[str]) -> None:
        """The devices torch can train on (cpu first); the current choice stays if still offered."""
        self.device.blockSignals(True)
        keep = self.device.currentText()
        self.device.clear()
        self.device.addItems(devices)
        self.device.setCurrentText(keep)
        self.device.blockSignals(False)

    def _layout(self) -> None:
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        for i, b in enumerate((self.play_btn, self.pause_btn, self.step_btn, self.reset_btn)):
            grid.addWidget(b, 0, i)
        speed_row = QHBoxLayout()
        speed_row.addWidget(self.speed, 1)
        speed_row.addWidget(self.speed_label)
        form = QFormLayout()
        form.addRow("slow motion", speed_row)
        form.addRow("snapshot every", self.snapshot_every)
        form.addRow("device", self.device)
        grid.addLayout(form, 1, 0, 1, 4)

    def _on_speed(self, ms: int) -> None:
        self.speed_label.setText("full speed" if ms == 0 else f"{ms} ms/step")
        self.delay_changed.emit(ms / 1000.0)

    def set_running(self, running: bool) -> None:
        self.play_btn.setEnabled(not running)
        self.pause_btn.setEnabled(running)
