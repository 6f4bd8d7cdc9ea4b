"""The GAN panel draws snapshots from short real Sessions (2D game, CycleGAN, images) and sends commands."""
import numpy as np
import pytest
import torch

from genviz.core.data import Dataset, split, toy2d
from genviz.core.session import Session
from genviz.gui.panels import panel_class
from genviz.gui.panels.gan import GANPanel

SMALL = {"hidden": 32, "depth": 2}


def _run(name, data, model_config, steps=6):
    s = Session(name, data, model_config=model_config, train={"steps": steps, "batch_size": 32, "snapshot_every": 2},
                view={"res": 24, "n_samples": 200})
    return s, list(s.run())


def _info(name, data):
    return {"model": name, "family": "gan", "dataset": data.name, "kind": data.kind, "data_shape": data.shape,
            "bbox": data.bbox() if data.kind == "2d" else None, "data": data.train[:500].numpy()
            if data.kind == "2d" else None}


@pytest.fixture
def panel(qtbot):
    p = panel_class("gan")()
    assert isinstance(p, GANPanel)
    qtbot.addWidget(p)
    p.resize(900, 700)
    return p


def test_game_views_receive_a_2d_session(panel):
    data = split(toy2d("ring8", 2000, 0), "ring8")
    panel.begin(_info("gan", data))
    _, snaps = _run("gan", data, SMALL)
    for snap in snaps:
        panel.show_snapshot(snap)
    assert panel.d_img.image.shape == (24, 24) and panel.dstar_img.image.shape == (24, 24)
    assert len(panel.fake_pts[0].data) == 200 and len(panel.real_pts[0].data) == len(data.train)  # session data
    x, _ = panel.arrows.getData()
    assert len(x) == 2 * 200  # one segment per fake point
    assert np.isfinite(panel.manifold.getData()[0]).sum() == 2 * 15 * 15
    steps = [s.step for s in snaps]
    assert panel.series["jsd_kde"].x == steps and len(panel.series["modes_frac"].y) == len(steps)
    assert "modes" in panel.coverage.text()
    assert panel.tabs.isTabVisible(panel.game_tab) and not panel.tabs.isTabVisible(panel.images_tab)


def test_players_box_sends_a_model_setting(panel, qtbot):
    with qtbot.waitSignal(panel.command_issued) as sig:
        panel.players.setCurrentText("D")
    assert sig.args == [("model_set", "train_players", "D")]


def test_fgan_shows_f_and_conjugate_and_bound(panel):
    data = split(toy2d("moons", 2000, 0), "moons")
    panel.begin(_info("fgan", data))
    _, snaps = _run("fgan", data, {**SMALL, "divergence": "pearson"}, steps=2)
    for snap in snaps:
        panel.show_snapshot(snap)
    u, f = panel.f_curve.getData()
    assert np.allclose(f, (u - 1) ** 2, atol=1e-5)
    assert len(panel.series["bound"].y) == len(snaps) and "f*(t)" in panel.side_plot.titleLabel.text


def test_cyclegan_translation_rows(panel):
    data = split(toy2d("moons", 2000, 0), "moons")
    panel.begin(_info("cyclegan", data))
    _, snaps = _run("cyclegan", data, SMALL, steps=2)
    panel.show_snapshot(snaps[-1])
    assert panel.tabs.isTabVisible(panel.translation_tab) and not panel.tabs.isTabVisible(panel.game_tab)
    from genviz.gui.panels.gan import ARROWS_SHOWN

    a = snaps[-1].arrays
    x, y = panel.tr_arrow1.getData()
    assert len(x) == 2 * min(ARROWS_SHOWN, len(a["a"]))
    assert np.allclose(x[1::2], a["ab"][:ARROWS_SHOWN, 0]) and len(panel.tr_ab.getData()[0]) == len(a["ab"])


@pytest.mark.parametrize("name", ["dcgan", "bigan"])
def test_image_grids_and_histograms(panel, name):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1200, 1, 28, 28, generator=g)
    labels = {"test": torch.arange(200) % 10}
    data = Dataset("tiny", "image", x[:800], x[800:1000], x[1000:], labels)
    panel.begin(_info(name, data))
    _, snaps = _run(name, data, {"hidden": 16, "latent_dim": 8}, steps=2)
    panel.show_snapshot(snaps[-1])
    assert panel.grid_a.image.shape == (242, 242)  # 8 x 8 tiles of 28 + 2 px padding
    assert panel.hist_real.getData()[1].sum() > 0 and panel.hist_fake.getData()[1].sum() > 0
    assert panel.tabs.isTabVisible(panel.images_tab)
    if name == "bigan":
        assert len(panel.emb_scatter.data) == 200 and panel.grid_b.image.shape[0] == 4 * 30 + 2


def test_coalesced_snapshots_keep_every_metric_point_and_counts_stay_off_the_loss_axis(qtbot):
    """Several snapshots merged into one frame (fast training, or a render) still give the panel's curves
    one point per snapshot; mode counts and fractions go to the panel, not onto the loss plot."""
    from genviz.gui.main_window import MainWindow
    from genviz.gui.render import _apply_overrides

    window = MainWindow(persist=False, model="gan", dataset="ring8")
    qtbot.addWidget(window)
    _apply_overrides(window, 20, {"snapshot_every": 5, "batch_size": 64}, {"hidden": 32, "depth": 2})
    assert window.reset()
    window.controller.run_sync(window.frames.push)
    queued = [s.step for s in window.frames.pending if s.metrics and "modes" in s.metrics]
    assert len(queued) >= 3
    window.flush()  # all queued snapshots merge into one frame
    panel = window.panel
    assert panel.series["modes_frac"].x[-len(queued):] == queued
    assert not {"modes", "n_modes", "hq"} & set(window.loss.metric_items)
    assert "d_real" in window.loss.metric_items  # D's mean output is on the loss scale and stays
