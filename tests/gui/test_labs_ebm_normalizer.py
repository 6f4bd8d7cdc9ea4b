"""The EBM lab: the normalizer table reads the analytic log Z; denoising chains lower the energy."""
import math

import pytest

from genviz.core.labs import normalizer as nz
from genviz.gui.labs import LABS
from genviz.gui.labs.ebm_lab import EBMNormalizerLab


def test_ebm_lab_table_and_denoising(qtbot):
    assert EBMNormalizerLab in LABS and EBMNormalizerLab.family == "EBM"
    lab = EBMNormalizerLab()
    qtbot.addWidget(lab)
    assert not lab.timer.isActive()  # nothing trains until the page is shown
    lab.n.setValue(20)
    table = lab.table.text
    assert f"{nz.log_z_analytic(784, 1.0, 0.5):.3f}" in table and "intractable" in table
    row2 = lab.rows[1]
    assert row2["grid"] == pytest.approx(row2["analytic"], abs=1e-6) and "1.6940</b> exact" in lab.status.text()
    lab.show()
    assert lab.timer.isActive()
    lab.train_to_end()
    v = lab.denoised
    assert v["energy_after"] < v["energy_before"] - 0.5 and v["dist_after"] < 0.5 * v["dist_before"]
    _, e = lab.energy_curve.getData()
    assert len(e) == 151 and e[-1] == pytest.approx(v["energy_after"])
    assert not lab.timer.isActive() and not math.isnan(lab.rate)
