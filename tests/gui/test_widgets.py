"""Pieces of the window on their own: EMA smoothing, growing series, the generated form, the display check,
and the headless window render."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QSpinBox

from genviz.core import config as config_mod
from genviz.core.flows.realnvp import RealNVPConfig
from genviz.gui.config_form import ConfigForm, LogSpinBox, _next_125
from genviz.gui.loss_plot import Series, ema


@pytest.mark.parametrize("alpha", [0.999, 0.3, 0.01, 0.0005])
def test_vectorised_ema_matches_the_recurrence(alpha):
    y = np.random.default_rng(0).normal(3.0, 1.0, 7000)
    ref, s = np.empty_like(y), y[0]
    for i, v in enumerate(y):
        s = (1 - alpha) * s + alpha * v
        ref[i] = s
    assert np.allclose(ema(y, alpha), ref, rtol=0, atol=1e-9)


def test_series_grows_by_doubling_and_keeps_every_value():
    s = Series(capacity=4)
    for i in range(0, 100, 7):
        x = np.arange(i, min(i + 7, 100), dtype=float)
        s.extend(x, -x)
    x, y = s.data()
    assert np.array_equal(x, np.arange(100)) and np.array_equal(y, -np.arange(100.0))
    assert len(s.x) == 128


def test_form_widgets_follow_the_field_metadata(qtbot):
    form = ConfigForm(config_mod.TrainConfig, exclude=("device",))
    qtbot.addWidget(form)
    w = form.widgets
    assert isinstance(w["lr"], LogSpinBox) and w["lr"].maximum() == 10.0
    assert isinstance(w["batch_size"], QSpinBox) and w["batch_size"].minimum() == 1
    assert w["steps"].suffix() == " steps" and "examples per step" in w["batch_size"].toolTip()
    assert isinstance(w["grad_clip"], QDoubleSpinBox) and "device" not in w
    rf = ConfigForm(RealNVPConfig)
    qtbot.addWidget(rf)
    assert isinstance(rf.widgets["base"], QComboBox)
    rf.widgets["base"].setCurrentIndex(1)
    assert rf.config() == RealNVPConfig(base="diag")


def test_form_bool_and_refusal(qtbot):
    from dataclasses import dataclass

    from genviz.core.config import param

    @dataclass
    class Cfg:
        on: bool = param(True, help="a switch")
        rate: float = param(0.5, lo=0.0, lo_open=True, hi=1.0)

        def check(self):
            if self.on and self.rate > 0.9:
                raise config_mod.ConfigError("rate", "must be ≤ 0.9 while on")

    form = ConfigForm(Cfg)
    qtbot.addWidget(form)
    assert isinstance(form.widgets["on"], QCheckBox)
    form.widgets["rate"].setValue(0.0)
    with pytest.raises(config_mod.ConfigError, match="rate: must be >"):
        form.config()
    form.widgets["rate"].setValue(0.95)
    with pytest.raises(config_mod.ConfigError, match="while on"):
        form.config()
    assert form.widgets["rate"].property("invalid") is True
    form.widgets["on"].setChecked(False)
    assert form.config() == Cfg(on=False, rate=0.95)


def test_log_spin_walks_the_1_2_5_sequence(qtbot):
    seq = [1e-3]
    for _ in range(4):
        seq.append(_next_125(seq[-1], up=True))
    assert np.allclose(seq, [1e-3, 2e-3, 5e-3, 1e-2, 2e-2])
    assert np.isclose(_next_125(3e-4, up=False), 2e-4)
    box = LogSpinBox()
    qtbot.addWidget(box)
    box.setRange(0, 10)
    box.setValue(1e-3)
    box.stepBy(-2)
    assert np.isclose(box.value(), 2e-4)


def test_display_problem_names_the_ways_to_run(monkeypatch):
    from genviz.gui.app import display_problem

    monkeypatch.setattr("sys.platform", "linux")
    for k in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(k, raising=False)
    msg = display_problem()
    assert msg and "QT_QPA_PLATFORM=offscreen" in msg and "xvfb-run" in msg and "genviz train" in msg
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert display_problem() is None


def test_render_window_writes_the_whole_window(tmp_path):
    from genviz.gui.render import render_window

    out = render_window("realnvp", "moons", 15, str(tmp_path / "w.png"), size=(1300, 800),
                        train_overrides={"batch_size": 64, "snapshot_every": 5}, model_overrides={"hidden": 16})
    img = QImage(str(out))
    assert not img.isNull() and (img.width(), img.height()) == (1300, 800)
    # not a blank frame: the density heatmap and curves give many distinct colours
    colours = {img.pixel(x, y) for x in range(0, 1300, 7) for y in range(0, 800, 7)}
    assert len(colours) > 50


def test_many_signal_emits_do_not_drain_true_or_none():
    """PySide6 6.12.0 on Python 3.11 drops a reference to True/None on every emit() and the interpreter
    aborts after a few hundred; pyproject excludes that release. This fails if a leaking one comes back."""
    import sys

    from PySide6.QtCore import QObject, Signal

    class Source(QObject):
        fired = Signal(object)

    src, got = Source(), []
    src.fired.connect(got.append)
    before_true, before_none = sys.getrefcount(True), sys.getrefcount(None)
    for _ in range(2_000):
        src.fired.emit(None)
    got.clear()
    assert sys.getrefcount(True) >= before_true - 50
    assert sys.getrefcount(None) >= before_none - 50


def test_render_window_refuses_bad_overrides_naming_the_field(tmp_path):
    from genviz.gui.render import render_window

    with pytest.raises(config_mod.ConfigError, match="hidden"):
        render_window("realnvp", "moons", 5, str(tmp_path / "w.png"), model_overrides={"hidden": 100_000})
    with pytest.raises(config_mod.ConfigError, match="batch_size"):
        render_window("realnvp", "moons", 5, str(tmp_path / "w.png"), train_overrides={"batch_size": 10**6})
    assert not (tmp_path / "w.png").exists()


def test_log_axes_label_decades_and_only_2_and_5_between_them_when_few(qtbot):
    """pyqtgraph labels every minor tick of a log axis it has room for: over two decades a lab's axis read
    0.09 0.08 … 0.01 0.009 0.008 …, a column of numbers. With plain_axes: the decades, plus 2 and 5 only
    when fewer than two decades are in view."""
    import pyqtgraph as pg

    from genviz.gui.panels.toolkit import plain_axes

    w = pg.PlotWidget()
    qtbot.addWidget(w)
    w.resize(400, 600)
    w.show()
    w.setLogMode(y=True)
    w.plot([1, 2], [0.003, 0.4])
    plain_axes(w)
    axis = w.getPlotItem().getAxis("left")

    def labels(lo, hi):
        w.setYRange(np.log10(lo), np.log10(hi), padding=0)
        qtbot.wait(10)
        levels = axis.tickValues(*axis.range, axis.height())
        shown = {}
        for spacing, values in levels:
            for v, text in zip(values, axis.tickStrings(values, 1.0, spacing)):
                if text:
                    shown[round(float(10 ** v), 6)] = text
        return shown

    wide = labels(0.003, 0.4)  # more than two decades
    assert set(wide) == {0.01, 0.1}, wide
    narrow = labels(0.015, 0.3)  # one decade inside: 2 and 5 say where the rest are
    assert set(narrow) == {0.02, 0.05, 0.1, 0.2}, narrow
