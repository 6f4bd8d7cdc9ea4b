"""The single-layer lab's "without û" box: the raw u folds the plane for wᵀu < −1, samples cross, and the
change-of-variables density's integral falls below 1 (it reads ≈ 1 again with û)."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from genviz.core.flows import fold
from genviz.gui.panels.flows import FlowsPanel


def order_flips(lab) -> int:
    """Pairs of drawn samples whose order along w differs from their base order (cyan → orange = α rank)."""
    x, y = lab.samples.getData()
    proj = np.stack([x, y], 1) @ lab.w
    _, alpha = fold.push_samples(lab.w, lab.u, lab.b)
    return int((np.diff(proj[np.argsort(alpha)]) < 0).sum())


def test_without_u_hat_the_integral_drops_and_samples_cross(qtbot):
    panel = FlowsPanel()
    qtbot.addWidget(panel)
    panel.show()
    panel.tabs.setCurrentIndex([panel.tabs.tabText(i) for i in range(panel.tabs.count())].index("single-layer lab"))
    lab = panel.lab
    lab.u_handle.setPos(-2.0, -0.4)  # wᵀu = −3.2 with the default w = (1.5, 0.5)
    assert lab.integral == pytest.approx(1.0, abs=0.02) and "with û" in lab.integral_label.text()
    assert order_flips(lab) == 0  # û keeps the map increasing along w: no sample overtakes another
    qtbot.mouseClick(lab.raw_u, Qt.LeftButton, pos=QPoint(8, lab.raw_u.height() // 2))  # on the box itself
    assert lab.raw_u.isChecked()
    exact = fold.one_root_mass(lab.w, lab.u, lab.b)
    assert exact < 0.3 and lab.integral == pytest.approx(exact, abs=0.01)
    assert lab.integral_all == pytest.approx(1.0, abs=0.01)
    text = lab.integral_label.text()
    assert "folds" in text and f"{lab.integral:.3f}" in text and "u·tanh" in lab.planar_plot.titleLabel.text
    assert order_flips(lab) > 20  # the fold reverses the order of a band of samples
    lab.u_handle.setPos(0.4, -0.6)  # wᵀu = 0.3: the raw u is invertible, nothing is lost
    assert lab.integral == pytest.approx(1.0, abs=0.02) and "still one-to-one" in lab.integral_label.text()
    lab.raw_u.setChecked(False)
    assert "û·tanh" in lab.planar_plot.titleLabel.text
