"""A form generated from a config dataclass: spin boxes with ranges and units, combos, check boxes.

Field metadata (core.config.param) drives the widgets: lo/hi -> range, unit -> suffix, help -> tooltip,
choices -> combo, log -> a 1-2-5 log-step spin box. Values are checked by core.config.make, so a bad
value is refused with the field named before any training starts.
"""
from __future__ import annotations

import math
from dataclasses import MISSING, fields

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QLabel, QLineEdit,
                               QSpinBox, QWidget)

from genviz.core import config as config_mod

INT_MAX = 2**31 - 1


class LogSpinBox(QDoubleSpinBox):
    """A float spin box whose arrows walk 1, 2, 5, 10, 20, ... (learning rates, weights)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setDecimals(12)

    def textFromValue(self, value: float) -> str:
        return f"{value:.4g}"

    def stepBy(self, steps: int) -> None:
        v = self.value()
        for _ in range(abs(steps)):
            v = _next_125(v, up=steps > 0)
        self.setValue(v)


def _next_125(v: float, up: bool) -> float:
    """The next value of the 1-2-5 sequence above (or below) v."""
    if v <= 0:
        return 1e-6 if up else 0.0
    e = math.floor(math.log10(v) + 1e-9)
    grid = [m * 10.0 ** k for k in (e - 1, e, e + 1) for m in (1, 2, 5)]
    if up:
        return next(g for g in grid if g > v * (1 + 1e-9))
    return next(g for g in reversed(grid) if g < v * (1 - 1e-9))


def _widget_for(f, meta: dict) -> QWidget:
    ftype = config_mod.field_type(f)
    choices = meta.get("choices")
    if choices is not None:
        w = QComboBox()
        w.addItems([str(c) for c in choices])
        return w
    if ftype is bool:
        return QCheckBox()
    lo, hi = meta.get("lo"), meta.get("hi")
    if ftype is int:
        w = QSpinBox()
        # the spin box allows the bound itself; a strict (lo_open) bound is then refused by validation
        w.setRange(int(max(lo if lo is not None else -INT_MAX, -INT_MAX)),
                   int(min(hi if hi is not None else INT_MAX, INT_MAX)))
        w.setGroupSeparatorShown(True)
        w.setKeyboardTracking(False)  # commit on Enter, focus out or the arrows, not on every keystroke
        if lo == 0 and "0 = auto" in meta.get("help", ""):
            w.setSpecialValueText("auto")  # 0 means "the model picks": say so in the field itself
        elif lo == 0 and "0 = off" in meta.get("help", ""):
            w.setSpecialValueText("off")
        return w
    if ftype is float:
        w = LogSpinBox() if meta.get("log") else QDoubleSpinBox()
        if not meta.get("log"):
            w.setDecimals(4)
            w.setSingleStep(_step_for(f.default))
        w.setRange(lo if lo is not None else -1e9, hi if hi is not None else 1e9)
        if lo == 0 and "0 = off" in meta.get("help", ""):
            w.setSpecialValueText("off")
        w.setKeyboardTracking(False)
        return w
    return QLineEdit()


def _step_for(default) -> float:
    d = abs(float(default)) if isinstance(default, (int, float)) else 0.0
    return 10.0 ** math.floor(math.log10(d)) / 10 if d > 0 else 0.1


class ConfigForm(QWidget):
    """Edits one config dataclass. `values()` -> raw dict; `config()` -> validated instance or ConfigError."""

    value_changed = Signal(str, object)  # field name, committed value (Enter, focus out, arrows, a pick)

    def __init__(self, cfg_cls, defaults: dict | None = None, exclude=(), parent=None):
        super().__init__(parent)
        self.cfg_cls = cfg_cls
        self.widgets: dict[str, QWidget] = {}
        self.labels: dict[str, QLabel] = {}
        self.types: dict[str, type] = {}
        layout = QFormLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        ordered = sorted((f for f in fields(cfg_cls) if f.name not in exclude),
                         key=lambda f: bool(f.metadata.get("advanced")))  # advanced fields last
        for f in ordered:
            meta = dict(f.metadata)
            w = _widget_for(f, meta)
            tip = meta.get("help", "")
            if meta.get("unit"):
                if isinstance(w, (QSpinBox, QDoubleSpinBox)):
                    w.setProperty("unit", meta["unit"])
                    w.valueChanged.connect(lambda v, w=w: _set_suffix(w))
                tip = f"{tip} [{meta['unit']}]" if tip else meta["unit"]
            w.setToolTip(_range_tip(tip, meta))
            w.setObjectName(f"field_{f.name}")
            label = QLabel(f.name.replace("_", " ") + (" ·" if meta.get("advanced") else ""))
            label.setToolTip(w.toolTip())
            layout.addRow(label, w)
            self.widgets[f.name], self.labels[f.name] = w, label
            self.types[f.name] = config_mod.field_type(f)
            self._connect(f.name, w)
        self.set_values({**self._defaults(), **(defaults or {})})

    def _defaults(self) -> dict:
        return {f.name: f.default for f in fields(self.cfg_cls)
                if f.name in self.widgets and f.default is not MISSING}

    def _connect(self, name: str, w: QWidget) -> None:
        emit = lambda *_: self.value_changed.emit(name, self.value(name))  # noqa: E731
        if isinstance(w, QComboBox):
            w.currentIndexChanged.connect(emit)
        elif isinstance(w, QCheckBox):
            w.toggled.connect(emit)
        elif isinstance(w, QLineEdit):
            w.editingFinished.connect(emit)
        else:
            w.valueChanged.connect(emit)

    # -- values -----------------------------------------------------------------------------------
    def value(self, name: str):
        w, t = self.widgets[name], self.types[name]
        if isinstance(w, QComboBox):
            choices = dict(self.cfg_cls.__dataclass_fields__[name].metadata)["choices"]
            return choices[w.currentIndex()]
        if isinstance(w, QCheckBox):
            return w.isChecked()
        if isinstance(w, QLineEdit):
            return w.text()
        return t(w.value())

    def values(self) -> dict:
        return {name: self.value(name) for name in self.widgets}

    def set_values(self, values: dict) -> None:
        """Set the fields named in `values` (unknown names are ignored: settings from older versions)."""
        for name, v in values.items():
            w = self.widgets.get(name)
            if w is None or v is None:
                continue
            w.blockSignals(True)
            try:
                if isinstance(w, QComboBox):
                    i = w.findText(str(v))
                    if i >= 0:
                        w.setCurrentIndex(i)
                elif isinstance(w, QCheckBox):
                    w.setChecked(bool(v))
                elif isinstance(w, QLineEdit):
                    w.setText(str(v))
                else:
                    w.setValue(v)
            except (TypeError, ValueError, OverflowError):
                pass  # a stale stored value: keep the default
            finally:
                w.blockSignals(False)
                _set_suffix(w)

    def config(self, extra: dict | None = None):
        """The validated config; a bad value raises ConfigError naming the field (and marks it red)."""
        self.mark_error(None)
        try:
            return config_mod.make(self.cfg_cls, {**self.values(), **(extra or {})})
        except config_mod.ConfigError as e:
            self.mark_error(e.field)
            raise

    def mark_error(self, name: str | None) -> None:
        for n, w in self.widgets.items():
            w.setProperty("invalid", n == name)
            w.style().unpolish(w)
            w.style().polish(w)


def unit_text(unit: str, value) -> str:
    """' 1 layer', ' 3 layers', ' 1 step': a plural unit ('layers') reads singular at exactly 1."""
    return f" {unit[:-1]}" if value == 1 and unit.endswith("s") else f" {unit}"


def _set_suffix(w: QWidget) -> None:
    unit = w.property("unit")
    if unit and w.suffix() != unit_text(unit, w.value()):
        w.setSuffix(unit_text(unit, w.value()))


def _range_tip(tip: str, meta: dict) -> str:
    lo, hi = meta.get("lo"), meta.get("hi")
    if lo is None and hi is None:
        return tip
    lo_s = "" if lo is None else f"{lo:g} {'<' if meta.get('lo_open') else '≤'} "
    hi_s = "" if hi is None else f" ≤ {hi:g}"
    return f"{tip}\nrange: {lo_s}value{hi_s}".strip()
