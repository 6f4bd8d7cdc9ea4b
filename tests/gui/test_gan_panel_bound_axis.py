"""The GAN panel never reads an f-GAN bound on D_f off the JSD axis: the bound has its own right axis, and
for 'js' (D_f = 2·JSD) and 'gan' (D_f = 2·JSD − log 4) the bound converted to a JSD joins the JSD curves."""
import math

import pytest

from genviz.core.data import split, toy2d
from genviz.gui.panels.gan import GANPanel

from test_gan_panel import SMALL, _info, _run


@pytest.fixture
def panel(qtbot):
    p = GANPanel()
    qtbot.addWidget(p)
    p.resize(900, 700)
    p.show()
    return p


@pytest.mark.parametrize("divergence, to_jsd", [("js", lambda b: b / 2), ("gan", lambda b: (b + math.log(4)) / 2)])
def test_fgan_bound_on_its_own_axis_and_as_a_jsd(panel, divergence, to_jsd):
    data = split(toy2d("moons", 2000, 0), "moons")
    panel.begin(_info("fgan", data))
    _, snaps = _run("fgan", data, {**SMALL, "divergence": divergence}, steps=4)
    for snap in snaps:
        panel.show_snapshot(snap)
    bound, jsd_bound = panel.series["bound"], panel.series["jsd_bound"]
    assert bound.curve.getViewBox() is panel.bound_axis.vb and bound.curve.getViewBox() is not panel.jsd_plot.vb
    assert panel.jsd_plot.getAxis("right").isVisible() and "D_f" in panel.jsd_plot.getAxis("right").labelText
    assert jsd_bound.curve.getViewBox() is panel.jsd_plot.vb and len(jsd_bound.y) == len(snaps)
    assert jsd_bound.y == pytest.approx([to_jsd(b) for b in bound.y], abs=1e-12)
    assert "right" in panel.jsd_plot.titleLabel.text


def test_kl_fgan_has_no_jsd_reading_and_a_plain_gan_no_right_axis(panel):
    data = split(toy2d("moons", 2000, 0), "moons")
    panel.begin(_info("fgan", data))
    _, snaps = _run("fgan", data, {**SMALL, "divergence": "kl"}, steps=2)
    for snap in snaps:
        panel.show_snapshot(snap)
    assert len(panel.series["bound"].y) == len(snaps) and not panel.series["jsd_bound"].y  # a KL is not a JSD
    panel.begin(_info("gan", data))
    _, snaps = _run("gan", data, SMALL, steps=2)
    for snap in snaps:
        panel.show_snapshot(snap)
    assert not panel.jsd_plot.getAxis("right").isVisible() and not panel.series["bound"].y
    assert panel.jsd_plot.titleLabel.text == "JSD estimates (nats)"


def test_the_two_maps_keep_one_size_and_mode_coverage_says_where_it_counts(panel, qtbot):
    """An f-GAN's long bound legend widened its column until the D* map beside it was a strip with a cut title;
    and on data without known mode centres the mode coverage plot was blank with no word why."""
    data = split(toy2d("moons", 2000, 0), "moons")
    panel.begin(_info("gan", data))
    assert panel.coverage_note.isVisible()  # moons: no centres, the plot says why it stays empty
    panel.begin(_info("fgan", data))
    _, snaps = _run("fgan", data, {**SMALL, "divergence": "js"}, steps=2)
    for snap in snaps:
        panel.show_snapshot(snap)
    qtbot.wait(20)
    assert not panel.coverage_note.isVisible()  # the side plot holds f and f* now
    assert panel.side_plot.getAxis("left").labelText  # its own y label, beside the bound's right axis
    w_critic, w_dstar = panel.d_plot.width(), panel.dstar_plot.width()  # D*'s holds its colour bar too
    assert w_dstar > 0.9 * w_critic, (w_critic, w_dstar)
    ring = split(toy2d("ring8", 2000, 0), "ring8")
    panel.begin(_info("gan", ring))
    assert not panel.coverage_note.isVisible()  # ring8's modes are counted
