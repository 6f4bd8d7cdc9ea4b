"""The coding lab (KL as extra bits) and the JSD lab, driven through their controls."""
import math

import numpy as np
import pytest
from PySide6.QtCore import Qt

from genviz.core.labs import coding
from genviz.gui.labs.coding_lab import CodingLab
from genviz.gui.labs.jsd_lab import JSDLab


def test_coding_lab_extra_bits_vanish_at_q_equal_p_and_match_kl_otherwise(qtbot):
    lab = CodingLab()
    qtbot.addWidget(lab)
    lab.n.setValue(100_000)
    v = lab.numbers
    assert v["KL"] == pytest.approx(coding.kl_bits(lab.p, lab.q)) and v["KL"] > 0.1
    assert v["extra"] == pytest.approx(v["KL"], abs=0.03) and v["CE"] >= v["H"]
    assert f"<b>{v['KL']:.3f}</b>" in lab.status.text()
    lab.mismatch.setFocus()
    qtbot.keyClick(lab.mismatch, Qt.Key_Home)  # q = p
    assert lab.numbers["KL"] == pytest.approx(0, abs=1e-12) and lab.numbers["extra"] == pytest.approx(0, abs=1e-12)
    heights = lab.hist_p.getData()[1]
    assert heights.sum() == 100_000 and np.allclose(heights, lab.hist_q.getData()[1])
    _, ce = lab.ce_curve.getData()
    _, h = lab.h_curve.getData()
    assert np.all(ce >= h - 1e-12)  # Gibbs along the whole mismatch sweep


def test_jsd_lab_counts_no_triangle_failures_for_sqrt_jsd_and_some_for_jsd(qtbot):
    lab = JSDLab()
    qtbot.addWidget(lab)
    r = lab.result
    assert r["sqrt_violations"] == 0 and r["plain_violations"] > 100 and r["max_jsd"] <= math.log(2)
    lab.shift.setValue(10.0)
    assert lab.result["jsd_gauss"] == pytest.approx(math.log(2), abs=1e-5)
    buttons = [b for b in lab.findChildren(type(lab.export_button)) if b.text() == "New triples"]
    qtbot.mouseClick(buttons[0], Qt.LeftButton)
    assert lab.seed == 1 and lab.result["sqrt_violations"] == 0
    assert len(lab.tri_sqrt.getData()[0]) == 3000
