"""Labs on likelihood vs samples, driven through their widgets: the KDE bandwidth slider (memorization) and the
KL lab's reverse fit reading its exact KL."""
import math

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from genviz.core.labs import kl
from genviz.gui.labs import LABS, LikelihoodGapLab
from genviz.gui.labs.kl_lab import KLLab
from genviz.gui.labs.memorization_lab import MemorizationLab


@pytest.fixture
def mem_lab(qtbot):
    lab = MemorizationLab()
    qtbot.addWidget(lab)
    lab.show()
    return lab


def test_memorization_sits_next_to_the_noise_mixture_lab():
    i = LABS.index(LikelihoodGapLab)
    assert LABS[i + 1] is MemorizationLab and MemorizationLab.family == LikelihoodGapLab.family


def test_shrinking_the_bandwidth_copies_training_points_and_explodes_test_nll(mem_lab, qtbot):
    lab = mem_lab
    lab.set_h(lab.sweep["best_h"])
    at_best = dict(lab.current)
    lab.log_h.setFocus()
    qtbot.keyClick(lab.log_h, Qt.Key_Home)  # the slider's smallest bandwidth
    tiny = lab.current
    assert tiny["h"] < 0.004 < at_best["h"]
    assert tiny["test_nll"] > at_best["test_nll"] + 20 and tiny["train_nll"] < at_best["train_nll"] - 3
    assert tiny["sample_dist"] == pytest.approx(tiny["h"] * math.sqrt(math.pi / 2), rel=0.15)
    assert f"{tiny['test_nll']:.2f}" in lab.status.text() and "↑" in lab.off_chart.toPlainText()
    xs, ys = lab.now_nll.getData()  # the marks sit on the current bandwidth (log-x plot)
    assert np.allclose(10 ** xs, tiny["h"]) and ys[1] == pytest.approx(tiny["test_nll"])
    assert len(lab.test_curve.getData()[0]) == len(lab.sweep["h"])


def test_memorization_lab_exports_png_through_its_button(mem_lab, qtbot, tmp_path, monkeypatch):
    path = tmp_path / "kde.png"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), "PNG (*.png)"))
    qtbot.mouseClick(mem_lab.export_button, Qt.LeftButton)
    assert path.stat().st_size > 5000


def test_kl_lab_status_reads_the_exact_reverse_kl(qtbot):
    lab = KLLab()
    qtbot.addWidget(lab)
    lab.timer.stop()
    lab.run_to_end()
    w, mu, cov = lab.target()[1:]
    exact = kl.reverse_kl_exact(*lab.fit.result(), w, mu, cov)
    assert exact == pytest.approx(0.695, abs=0.005) and f"<b>{exact:.3f}</b> exact" in lab.status.text()
    assert lab.exact_curve.getData()[1][-1] == pytest.approx(exact)
