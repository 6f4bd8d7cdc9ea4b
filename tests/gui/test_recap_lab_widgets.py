"""The recap lab: Measure fills the table and both bar charts from a run in the worker thread."""
from PySide6.QtCore import Qt

from genviz.core.labs import recap
from genviz.gui.labs import LABS
from genviz.gui.labs.recap_lab import RecapLab


def test_measure_fills_the_table_from_the_worker(qtbot):
    assert RecapLab in LABS
    lab = RecapLab()
    qtbot.addWidget(lab)
    assert "—" in lab.table.text and "Measure" in lab.status.text()
    lab.steps.setValue(5)
    lab.n_samples = 100
    qtbot.mouseClick(lab.run_button, Qt.LeftButton)
    assert not lab.run_button.isEnabled()
    qtbot.waitUntil(lambda: lab.thread is None, timeout=120_000)
    assert set(lab.rows) == {f.name for f in recap.FAMILIES}
    text = lab.table.text
    for r in lab.rows.values():
        assert f"{r['params']:,}" in text and f"{r['sample_s'] * 1000:.2f} ms" in text
    assert len(lab.speed_bars.opts["height"]) == 5 and len(lab.nll_bars.opts["height"]) == 4  # no GAN bar
    assert "5 of 5" in lab.status.text() and lab.run_button.isEnabled()


def test_the_table_wraps_to_a_narrow_window(qtbot):
    lab = RecapLab()
    qtbot.addWidget(lab)
    lab.resize(1000, 700)
    lab.show()
    qtbot.waitUntil(lambda: lab.graphics.width() > 0)
    qtbot.wait(50)
    # the whole table and both plots stay inside the page (at its natural width it ran past the right edge)
    assert lab.table.boundingRect().width() <= lab.graphics.width()
    assert lab.nll_plot.sceneBoundingRect().right() <= lab.graphics.width()
