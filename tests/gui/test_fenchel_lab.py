"""The Fenchel lab: moving t reads the supremum (numeric = closed form, touching line at u*), and training the
critic with its button climbs the bound to D_f; changing f restarts it; the figure exports."""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from genviz.core.gan.fgan import DIVERGENCES
from genviz.gui.labs import FenchelLab


@pytest.fixture
def lab(qtbot):
    w = FenchelLab()
    qtbot.addWidget(w)
    w.show()
    yield w
    w.timer.stop()


def bold(text):
    return [float(v) for v in re.findall(r"<b>(-?[\d.]+)</b>", text)]


def test_moving_t_reads_the_supremum_and_keeps_the_critic(lab):
    lab.train_to(50)
    lab.t0.setValue(200)
    closed, numeric, d_f, b = bold(lab.status.text())
    assert numeric == pytest.approx(closed, abs=2e-5) and lab.fit.steps == 50  # t moved, critic kept
    t0 = lab.t_value()
    t, line = lab.touching.getData()
    u_star = lab.conj["u_star"]
    np.testing.assert_allclose(line, u_star * t - float(DIVERGENCES["js"].f(torch.tensor(u_star, dtype=torch.float64))),
                               atol=1e-9)
    assert float(np.interp(t0, t, line)) == pytest.approx(closed, abs=1e-4)  # the line touches f* at t


def test_training_climbs_to_d_f_and_a_new_f_restarts(lab, qtbot, tmp_path, monkeypatch):
    qtbot.mouseClick(lab.train_button, Qt.LeftButton)
    assert lab.timer.isActive() and lab.train_button.text() == "Pause"
    qtbot.waitUntil(lambda: lab.fit.steps >= 30, timeout=20_000)
    qtbot.mouseClick(lab.train_button, Qt.LeftButton)
    assert not lab.timer.isActive()
    lab.train_to(400)
    *_, d_f, b = bold(lab.status.text())
    assert d_f - 0.01 < b <= d_f + 1e-4 and "2·JSD" in lab.status.text()
    assert len(lab.bound_curve.getData()[0]) == len(lab.bounds) and lab.bounds[0] < d_f - 0.1
    lab.div_box.setCurrentText("gan")
    assert lab.fit.steps == 0 and "log 4" in lab.status.text()
    *_, d_gan, _ = bold(lab.status.text())
    assert d_gan == pytest.approx(2 * (d_f / 2) - np.log(4), abs=1e-4)  # the same P, Q: 2·JSD − log 4
    path = tmp_path / "fenchel.png"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), "PNG (*.png)"))
    qtbot.mouseClick(lab.export_button, Qt.LeftButton)
    assert path.stat().st_size > 5000
