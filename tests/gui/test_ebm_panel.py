"""The EBM panel draws snapshots from short real Sessions (2D and MNIST) and turns clicks into chain starts."""
import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from genviz.core import data as data_mod
from genviz.core.data import Dataset, split, toy2d
from genviz.core.session import Session
from genviz.gui.panels import panel_class
from genviz.gui.panels.ebm import EBMPanel

SMALL = {"hidden": 32, "depth": 2, "grid_res": 64, "buffer_size": 512, "step_size": 0.01}


@pytest.fixture
def panel(qtbot):
    p = panel_class("ebm")()
    assert isinstance(p, EBMPanel)
    qtbot.addWidget(p)
    p.resize(1000, 600)
    p.show()
    return p


def _info(data):
    return {"model": "ebm", "family": "ebm", "dataset": data.name, "kind": data.kind, "data_shape": data.shape,
            "bbox": data.bbox() if data.kind == "2d" else None,
            "data": data.train[:500].numpy() if data.kind == "2d" else None}


def test_panel_updates_from_a_2d_session(panel, qtbot):
    data = split(toy2d("8gaussians", 2000, 0), "8gaussians")
    panel.begin(_info(data))
    s = Session("ebm", data, SMALL, {"steps": 20, "batch_size": 64, "snapshot_every": 5}, view={"res": 32})
    for snap in s.run():
        panel.show_snapshot(snap)
    assert panel.energy_img.image.shape == (32, 32) and panel.image.image.shape == (32, 32)
    assert len(panel.trail_curves) == 6 and panel.sample_scatter.data.size > 0
    qtbot.waitUntil(lambda: not panel.timer.isActive(), timeout=3000)  # the trails finished drawing in
    assert len(panel.trail_curves[0].getData()[0]) == 101
    xs, ys = panel.series_curves["e_pos"].curve.getData()
    assert len(xs) == 20 and np.isfinite(ys).all()
    assert panel.hist_in.getData()[1].sum() == len(data.test)
    assert panel.tabs.isTabVisible(panel.landscape_index) and not panel.tabs.isTabVisible(panel.images_index)


def test_click_on_the_energy_map_emits_a_chain_start(panel, qtbot):
    data = split(toy2d("moons", 1000, 0), "moons")
    panel.begin(_info(data))
    qtbot.wait(50)
    vb = panel.energy_plot.vb
    target = vb.mapViewToScene(QPointF(0.5, -0.25))
    view_pos = panel.landscape.mapFromScene(target)
    with qtbot.waitSignal(panel.command_issued, timeout=2000) as sig:
        qtbot.mouseClick(panel.landscape.viewport(), Qt.LeftButton, pos=view_pos)
    kind, payload = sig.args[0]
    assert kind == "view" and len(payload["chain_starts"]) == 1
    assert np.allclose(payload["chain_starts"][0], [0.5, -0.25], atol=0.05)
    with qtbot.waitSignal(panel.command_issued) as sig:
        panel.clear_chains()
    assert sig.args[0] == ("view", {"chain_starts": []})


def test_panel_shows_mnist_negatives(panel):
    try:
        full = data_mod.load("mnist")
    except data_mod.DataError as e:
        pytest.skip(str(e))
    data = Dataset("mnist", "image", full.train[:256], full.val[:128], full.test[:128], {}, binarize=True)
    panel.begin(_info(data))
    s = Session("ebm-mnist", data, {"channels": 4, "langevin_steps": 3, "buffer_size": 128},
                {"steps": 4, "batch_size": 16, "snapshot_every": 2})
    for snap in s.run():
        panel.show_snapshot(snap)
    assert panel.negatives_img.image.shape == (2 * 30 + 2, 8 * 30 + 2)
    assert panel.chains_img.image.shape == (4 * 30 + 2, 8 * 30 + 2)
    assert panel.tabs.isTabVisible(panel.images_index) and not panel.tabs.isTabVisible(panel.landscape_index)
