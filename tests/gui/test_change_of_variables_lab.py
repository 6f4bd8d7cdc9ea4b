"""The change-of-variables labs: dragging spline knots and matrix columns redraws densities whose numbers
(∫ p_x, the probe identity, area = |det A|, covariance AAᵀ) the user reads in the status line."""
from __future__ import annotations

import re

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from genviz.gui.labs import ChangeOfVariablesLab, LinearMapLab


@pytest.fixture
def make(qtbot):
    def build(cls):
        lab = cls()
        qtbot.addWidget(lab)
        lab.show()
        return lab
    return build


def bold_numbers(text: str) -> list[float]:
    return [float(v) for v in re.findall(r"<b>(-?[\d.]+)</b>", text)]


def test_dragging_a_knot_keeps_f_monotone_and_the_density_normalized(make, qtbot, tmp_path, monkeypatch):
    lab = make(ChangeOfVariablesLab)
    def p_x_at(x0):
        px, x = lab.px_curve.getData()  # drawn sideways: (density, x)
        return float(np.interp(x0, x, px))

    before = [p_x_at(v) for v in (-2.0, 0.0, 2.5)]
    assert bold_numbers(lab.status.text())[-1] == pytest.approx(1.0, abs=1e-4) and lab.cdf_gap < 1e-4
    lab.handles[3].setPos(0.0, 9.0)  # what a mouse drag does: far above the next knot
    assert lab.xk[3] == pytest.approx(lab.xk[4] - 0.05) and (np.diff(lab.xk) > 0).all()
    assert tuple(lab.handles[3].pos()) == pytest.approx((0.0, lab.xk[3]))  # the knot stays on its z
    assert np.abs(np.subtract(before, [p_x_at(v) for v in (-2.0, 0.0, 2.5)])).max() > 0.01
    slope, px_times_slope, pz, integral = bold_numbers(lab.status.text())
    assert integral == pytest.approx(1.0, abs=5e-3) and px_times_slope == pytest.approx(pz, abs=2e-4)
    # a knot squeezed to its neighbour makes p_x nearly jump: the trapezoid is then good to ~1e-3
    assert lab.hist_error < 4.5 and lab.cdf_gap < 5e-3  # binomial σ: 60 bins rarely stray past 4σ
    lab.preset.setCurrentIndex(list(lab.preset.itemText(i) for i in range(lab.preset.count())).index("stretch ×2"))
    slope, *_ = bold_numbers(lab.status.text())
    assert slope == pytest.approx(2.0, abs=1e-9) and lab.probe["p_x"] == pytest.approx(lab.probe["p_z"] / 2)
    path = tmp_path / "cov.png"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), "PNG (*.png)"))
    qtbot.mouseClick(lab.export_button, Qt.LeftButton)
    assert path.stat().st_size > 5000


def test_dragging_the_columns_of_a_reads_area_det_and_covariance(make):
    lab = make(LinearMapLab)
    lab.handles[0].setPos(2.0, 0.5)  # Ae₁
    lab.handles[1].setPos(-0.5, 1.5)  # Ae₂
    a = np.array([[2.0, -0.5], [0.5, 1.5]])
    assert np.allclose(lab.a, a)
    det, area = bold_numbers(lab.status.text())
    assert det == pytest.approx(np.linalg.det(a), abs=1e-4) and area == pytest.approx(abs(det), abs=1e-4)
    assert lab.integral == pytest.approx(1.0, abs=0.03)
    np.testing.assert_allclose(lab.sample_cov, a @ a.T, rtol=0.15, atol=0.1)
    lab.handles[1].setPos(1.5, -0.5)  # swap the orientation: det < 0, area still |det|
    det, area = bold_numbers(lab.status.text())
    assert det < 0 and area == pytest.approx(-det, abs=1e-4) and "orientation reversed" in lab.status.text()
    lab.handles[1].setPos(4.0, 1.0)  # parallel to Ae₁: singular
    assert "singular" in lab.status.text() and np.isnan(lab.integral)
