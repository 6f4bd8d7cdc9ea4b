"""What the panels show follows what the model returns, through the real window: a model registered under a
new name (a registered model's class, so no panel code can know the name) gets the views its snapshots carry;
2D views stay framed on the data box when the dock splitter moves, unless the user zoomed; units read singular
at 1."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from genviz.core import registry
from test_journeys import TINY, choose, click, type_value


def _sees(w, model: str) -> None:
    """What the user must see for a model built from `model`'s class, whatever it is called."""
    p, tabs = w.panel, w.panel.tabs
    shown = {tabs.tabText(i) for i in range(tabs.count()) if tabs.isTabVisible(i)}
    if model == "ssvae":  # a classifier's accuracy and a decoder that takes a class
        assert {"latent", "images", "labs"} <= shown and p.acc_plot.isVisible()
        tabs.setCurrentIndex(p.latent_tab)
        assert p.class_box.isVisible()
    elif model == "mog":  # no encoder: neither a latent plane nor the estimator labs
        assert "latent" not in shown and "labs" not in shown and "density · samples" in shown
        assert len(p.cluster_scatter.data) > 0
    elif model == "cyclegan":  # a translation, not a game
        assert shown == {"translation"} and tabs.tabText(tabs.currentIndex()) == "translation"
        assert not p.show_arrows.isVisible()
    elif model == "fgan":  # its f and f*, and its bound instead of ln2 + V/2
        assert "f*(t)" in p.side_plot.titleLabel.text
        labels = [label.text for _, label in p.side_plot.legend.items + p.jsd_plot.legend.items]
        assert "f*(t)" in labels and any("bound" in t for t in labels) and not any("ln2" in t for t in labels)


@pytest.mark.parametrize("model, dataset", [("ssvae", "mnist"), ("mog", "moons"), ("cyclegan", "moons"),
                                            ("fgan", "moons")])
def test_a_model_under_a_new_name_gets_the_views_of_what_it_returns(qtbot, model, dataset):
    from genviz.gui.main_window import MainWindow

    name = f"renamed-{model}"
    registry.register(dataclasses.replace(registry.get(model), name=name, title=f"{model} renamed"))
    try:
        w = MainWindow(persist=False)
        qtbot.addWidget(w)
        w.resize(1400, 900)
        w.show()
        choose(w, name)
        w.picker.dataset.setCurrentText(dataset)
        w.model_form.set_values(TINY[model])
        w.train_form.set_values({"batch_size": 32, "steps": 10_000})
        type_value(w.run.snapshot_every, "2")
        click(w.run.reset_btn)
        click(w.run.play_btn)
        qtbot.waitUntil(lambda: w.latest is not None and w.latest.step >= 4, timeout=60_000)
        click(w.run.pause_btn)
        w.flush()
        _sees(w, model)
        w.controller.stop(timeout_s=5.0)
    finally:
        registry.MODELS.pop(name)


def _framed(plot, box, slack: float = 1.12) -> bool:
    """The data box is in view and fills it along one axis (aspect-locked views widen the other)."""
    (x0, x1), (y0, y1) = plot.vb.viewRange()
    bx0, bx1, by0, by1 = box
    tol = 0.05 * max(bx1 - bx0, by1 - by0)
    inside = x0 <= bx0 + tol and x1 >= bx1 - tol and y0 <= by0 + tol and y1 >= by1 - tol
    return inside and min((x1 - x0) / (bx1 - bx0), (y1 - y0) / (by1 - by0)) <= slack


def _wheel(plot, view, steps: int = 3) -> None:
    """Turn the mouse wheel over the plot's centre, as a user zooms in."""
    centre = view.mapFromScene(plot.vb.sceneBoundingRect().center())
    ev = QWheelEvent(QPointF(centre), QPointF(view.viewport().mapToGlobal(centre)), QPoint(0, 0),
                     QPoint(0, 120 * steps), Qt.NoButton, Qt.NoModifier, Qt.NoScrollPhase, False)
    QApplication.sendEvent(view.viewport(), ev)


def test_2d_views_stay_framed_when_the_splitter_moves_until_the_user_zooms(qtbot):
    from genviz.gui.main_window import MainWindow

    w = MainWindow(persist=False, model="ebm", dataset="8gaussians")
    qtbot.addWidget(w)
    w.resize(1280, 720)
    w.show()
    qtbot.waitExposed(w)
    qtbot.wait(50)
    p = w.panel
    planes = (p.energy_plot, p.density_plot, p.samples_plot)
    for height in (420, 120, 300):  # the user drags the splitter between the panel and the loss plot
        w.resizeDocks([w.loss_dock], [height], Qt.Vertical)
        qtbot.wait(30)
        assert all(_framed(plot, p.bbox) for plot in planes), f"loss dock {height}: {p.density_plot.vb.viewRange()}"
    _wheel(p.density_plot, p.graphics)
    zoomed = p.density_plot.vb.viewRange()
    assert not _framed(p.density_plot, p.bbox)
    w.resizeDocks([w.loss_dock], [200], Qt.Vertical)
    qtbot.wait(30)
    assert np.allclose(np.mean(p.density_plot.vb.viewRange(), 1), np.mean(zoomed, 1), atol=0.05)  # still theirs
    click(w.run.reset_btn)
    qtbot.wait(50)
    assert all(_framed(plot, w.panel.bbox) for plot in (w.panel.density_plot, w.panel.samples_plot))


def test_units_read_singular_at_one(qtbot, window):
    depth, every = window.model_form.widgets["depth"], window.run.snapshot_every
    type_value(depth, "1")
    type_value(every, "1")
    assert depth.text() == "1 layer" and every.text() == "1 step"
    type_value(depth, "3")
    type_value(every, "25")
    assert depth.text() == "3 layers" and every.text() == "25 steps"
    assert window.model_form.widgets["hidden"].text().endswith(" units")
    # 0 meaning "off" reads off, for whole numbers too (early stop in steps) as for reals (grad clip)
    assert window.train_form.widgets["early_stop"].text() == "off" == window.train_form.widgets["grad_clip"].text()


def test_a_model_fitted_to_a_target_energy_names_it_as_its_data(qtbot, window):
    choose(window, "planar")
    assert not window.picker.dataset.isEnabled()
    assert "two_moons" in window.picker.summary.text() and "target energy" in window.picker.summary.text()
    target = window.model_form.widgets["target"]
    other = next(target.itemText(i) for i in range(target.count()) if target.itemText(i) != "two_moons")
    target.setCurrentText(other)  # a combo box commits at once, as a user's pick does
    assert other in window.picker.summary.text()
    choose(window, "realnvp")  # a model trained on data: the dataset is its data again
    assert window.picker.dataset.isEnabled() and "target energy" not in window.picker.summary.text()
