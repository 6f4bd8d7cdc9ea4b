"""The concept labs window: each lab draws live from genviz.core.labs, reacts to its controls, and exports PNG."""
import math

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt, QTimer

from genviz.core.labs import counts
from genviz.gui.labs import (LABS, CountsLab, KLLab, LabsWindow, LikelihoodGapLab, MonteCarloLab, TwoSampleLab)
from genviz.gui.labs.base import FAMILIES


@pytest.fixture
def win(qtbot):
    w = LabsWindow()
    qtbot.addWidget(w)
    w.show()
    yield w
    for lab in w.built_labs():  # stop what animates (the KL descent, trainings started on show)
        for timer in lab.findChildren(QTimer):
            timer.stop()


def test_every_lab_shows_a_formula_and_exports_png(win, tmp_path):
    assert win.pages.count() == len(LABS) >= 5
    for i, lab in enumerate(win.labs):
        win.show_lab(type(lab))
        assert win.current_lab() is lab and lab.isVisible()
        assert lab.formula_label.text() and lab.status.text()
        path = tmp_path / f"lab{i}.png"
        lab.export_png(str(path))
        assert path.stat().st_size > 2000


def test_navigation_groups_labs_by_family_and_a_click_shows_the_page(win, qtbot):
    heads = [win.nav.topLevelItem(i) for i in range(win.nav.topLevelItemCount())]
    names = [h.text(0) for h in heads]
    assert names == [f for f in FAMILIES if f in names] and {"Basics", "GAN"} <= set(names)
    for head in heads:  # each heading holds exactly the labs that declare its family
        titles = {head.child(j).text(0) for j in range(head.childCount())}
        assert titles == {cls.title for cls in LABS if cls.family == head.text(0)}
    assert len(win.built_labs()) == 1  # only the page on show is built
    item = win._items[TwoSampleLab]
    rect = win.nav.visualItemRect(item)
    qtbot.mouseClick(win.nav.viewport(), Qt.LeftButton, pos=rect.center())
    assert win.current_lab() is win.lab(TwoSampleLab) and win.lab(TwoSampleLab).isVisible()
    win.show_lab(KLLab)  # and the other way: a page brought forward selects its entry
    assert win.nav.currentItem().text(0) == KLLab.title


def test_bayes_net_editor_counts_edges_added_by_clicks_and_refuses_cycles(win, qtbot):
    lab = win.lab(CountsLab)
    assert lab.n_nodes == 4 and "Σ 2^|pa| = <b>4</b>" in lab.status.text()
    lab.click_node(0)
    lab.click_node(1)  # 0 → 1
    lab.click_node(2)
    lab.click_node(1)  # 2 → 1
    assert lab.edges == {(0, 1), (2, 1)} and "<b>7</b>" in lab.status.text()  # 1 + 4 + 1 + 1
    lab.click_node(1)
    lab.click_node(0)  # 1 → 0 closes the cycle 0 → 1 → 0
    assert "cycle" in lab.status.text()
    lab.click_node(1)
    lab.click_node(0)  # clicking the same pair again removes the edge
    assert lab.edges == {(0, 1), (2, 1)} and "<b>7</b>" in lab.status.text()
    lab.add_node()
    lab.preset(counts.full_chain_edges)
    assert f"<b>{2 ** 5 - 1}</b>" in lab.status.text()
    lab.n.setValue(10)
    assert "chain rule <b>1,023</b>" in lab.status.text() and "independence <b>19</b>" in lab.status.text()


def test_a_real_mouse_click_on_a_node_selects_it(win, qtbot):
    lab = win.lab(CountsLab)
    win.show_lab(CountsLab)
    qtbot.wait(50)
    vb = lab.net_plot.vb
    x, y = lab.positions()[2]
    scene_pt = vb.mapViewToScene(QPointF(x, y))
    view = lab.graphics
    qtbot.mouseClick(view.viewport(), Qt.LeftButton, pos=view.mapFromScene(scene_pt))
    assert lab.selected == 2


def test_kl_lab_forward_fit_matches_moments_and_reverse_fit_finds_a_mode(win):
    lab = win.lab(KLLab)
    lab.dim.setCurrentIndex(1)  # 2D
    lab.run_to_end()
    (mf, cf), (mr, cr) = lab.fwd, lab.fit.result()
    assert np.allclose(mf, 0) and cf[0, 0] == pytest.approx(0.25 + 4.0)
    assert mr[0] == pytest.approx(2.0, abs=0.15) and cr[0, 0] == pytest.approx(0.25, rel=0.2)
    assert len(lab.loss_curve.getData()[0]) == lab.fit.steps
    lab.init.setValue(-1.0)  # start on the other side: the other mode
    lab.run_to_end()
    assert lab.fit.result()[0][0] == pytest.approx(-2.0, abs=0.15)


def test_monte_carlo_lab_spread_follows_the_law(win):
    lab = win.lab(MonteCarloLab)
    lab.repeats.setValue(400)
    t, std = lab.std_dots.getData()  # log10 coordinates (the plot is log-log)
    _, law = lab.law_curve.getData()
    assert np.allclose(10 ** std, 10 ** law, rtol=0.25) and "slope" in lab.status.text()


def test_likelihood_gap_lab_reacts_to_the_weight(win):
    lab = win.lab(LikelihoodGapLab)
    lab.w.setValue(0.1)
    r = lab.result
    assert r["gap_per_dim"][-1] * r["d"][-1] == pytest.approx(math.log(10), abs=0.05)
    assert len(lab.gap_curve.getData()[0]) == len(r["d"]) and "2.30" in lab.status.text()


def test_two_sample_lab_p_value_drops_when_q_moves(win):
    lab = win.lab(TwoSampleLab)
    p_same = lab.result["p_value"]
    lab.shift.setValue(1.5)
    assert p_same > 0.05 and lab.result["p_value"] < 0.01
    lab.stat.setCurrentIndex(1)
    assert lab.result["p_value"] < 0.01 and "reject" in lab.status.text()
    assert lab.hist.getData()[1].sum() == lab.perms.value()
