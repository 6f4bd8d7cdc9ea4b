"""The SVI vs amortized lab: shown, it trains both on a thread, draws both ELBO curves on one plot against each
decoder's grid log p(x), says the numbers and exports PNG."""
import numpy as np
from PySide6.QtCore import Qt

from genviz.gui.labs import LABS
from genviz.gui.labs.svi_lab import SVILab


def test_svi_lab_runs_both_and_draws_them_on_one_plot(qtbot, tmp_path):
    assert SVILab in LABS and SVILab.family == "VAE"
    lab = SVILab()
    qtbot.addWidget(lab)
    lab.n.setValue(48)
    lab.steps.setValue(60)
    lab.show()  # first shown: it runs once by itself
    qtbot.waitUntil(lambda: lab.result is not None and not lab.busy, timeout=30000)
    r = lab.result
    xs, ys = lab.c_svi.getData()
    np.testing.assert_array_equal(xs, r["eval_steps"])
    np.testing.assert_array_equal(lab.c_amo.getData()[1], r["elbo_amortized"])
    assert lab.px_svi.value() == r["log_px_svi"].mean() and ys[-1] <= lab.px_svi.value() + 0.05
    assert f"{r['elbo_svi_end'].mean():.3f}" in lab.status.text()
    lab.steps.setValue(50)
    qtbot.mouseClick(lab.run_button, Qt.LeftButton)  # a second run with the new setting
    qtbot.waitUntil(lambda: lab.result is not r and not lab.busy, timeout=30000)
    assert lab.result["eval_steps"][-1] == 50
    lab.export_png(str(tmp_path / "svi.png"))
    assert (tmp_path / "svi.png").stat().st_size > 2000
