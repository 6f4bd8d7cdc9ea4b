"""FlowsPanel fed with real snapshots from short sessions; the lab redraws when handles and sliders move."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from genviz.core import data
from genviz.core.flows import targets
from genviz.core.session import Session
from genviz.gui.panels import panel_class
from genviz.gui.panels.flows import FlowsPanel


@pytest.fixture(scope="module")
def moons():
    return data.load("moons", n=1500, seed=0)


def run_into(panel, name, ds, cfg, steps=8):
    """Train `name` briefly and draw every snapshot, as the window's redraw timer would."""
    panel.begin({"model": name, "family": "flows", "dataset": ds.name, "kind": "2d", "data_shape": ds.shape,
                 "bbox": ds.bbox(), "data": ds.train[:500].numpy()})
    session = Session(name, ds, model_config=cfg, train={"steps": steps, "snapshot_every": 4, "batch_size": 64},
                      view={"res": 32})
    snaps = list(session.run())
    for snap in snaps:
        panel.show_snapshot(snap)
    return session, snaps


def image(item) -> np.ndarray:
    return np.array(item.image, copy=True)


def test_registered_for_the_flows_family():
    assert panel_class("flows") is FlowsPanel


def test_panel_draws_real_maf_snapshots(qtbot, moons):
    panel = FlowsPanel()
    qtbot.addWidget(panel)
    session, snaps = run_into(panel, "maf", moons, {"n_blocks": 2, "hidden": 16})
    assert snaps[-1].status == "done"
    assert panel.image.image is not None and panel.image.image.shape == (32, 32)
    n_layers = len(session.model.layers)
    assert panel.warp.slider.maximum() == n_layers
    x_top, _ = panel.warp.lines.getData()
    panel.warp.slider.setValue(0)  # base space: the straight grid over [-3, 3]
    x_base, _ = panel.warp.lines.getData()
    assert np.nanmax(np.abs(x_base)) == pytest.approx(3.0) and not np.allclose(x_base, x_top, equal_nan=True)
    assert len(panel.warp.pulled.getData()[0]) > 0
    assert "k = 0" in panel.warp.label.text()
    assert panel.logdet_img.image is not None and np.isfinite(panel.logdet_img.image).all()
    heights = panel.speed_bars.opts["height"]
    assert len(heights) == 4 and (np.asarray(heights) > 0).all()
    # a MAF run has no teacher and student (those roles are the distillation model's)
    assert panel.speed_text.text().startswith("live, from this model: IAF samples")
    assert {"density", "warp", "log_det", "lab_planar", "speed"} <= set(panel.plots())


def test_planar_snapshots_switch_to_the_target_box(qtbot, moons):
    panel = FlowsPanel()
    qtbot.addWidget(panel)
    run_into(panel, "planar", moons, {"n_layers": 3, "anneal_steps": 0})
    assert panel.bbox == targets.BOX
    assert panel.reference.image is not None and not panel.data_scatter.isVisible()
    assert "no data to pull back" in panel.warp.back.titleLabel.text


def test_play_button_steps_through_layers(qtbot, moons):
    panel = FlowsPanel()
    qtbot.addWidget(panel)
    run_into(panel, "realnvp", moons, {"n_layers": 3, "hidden": 8})
    panel.warp.timer.setInterval(10)
    panel.warp.play_button.setChecked(True)
    seen = set()
    qtbot.waitUntil(lambda: seen.add(panel.warp.slider.value()) or len(seen) >= 3, timeout=3000)
    panel.warp.play_button.setChecked(False)
    assert not panel.warp.timer.isActive()


def test_dragging_the_planar_handles_redraws_the_density(qtbot):
    panel = FlowsPanel()
    qtbot.addWidget(panel)
    lab = panel.lab
    before = image(lab.planar_img)
    lab.w_handle.setPos(-2.0, 1.0)  # what a mouse drag does: the handle moves and signals
    after_w = image(lab.planar_img)
    assert not np.allclose(before, after_w)
    assert np.allclose(lab.w, [-2.0, 1.0])
    lab.u_handle.setPos(3.0, -1.5)  # wᵀu = −7.5 < −1: the û fix keeps it invertible and finite
    after_u = image(lab.planar_img)
    assert not np.allclose(after_w, after_u) and np.isfinite(after_u).all()
    assert float(lab.w @ lab.u_hat) > -1
    lab.b_slider.setValue(lab.b_slider.maximum())
    assert not np.allclose(after_u, image(lab.planar_img))
    assert "ms" in lab.timing.text()


def test_coupling_sliders_redraw_the_density(qtbot):
    panel = FlowsPanel()
    qtbot.addWidget(panel)
    lab = panel.lab
    before = image(lab.coupling_img)
    lab.st_sliders["s0"].setValue(0)
    changed = image(lab.coupling_img)
    assert not np.allclose(before, changed)
    lab.st_sliders["t1"].setValue(lab.st_sliders["t1"].maximum())
    assert not np.allclose(changed, image(lab.coupling_img))


def test_measure_speed_button_leaves_the_global_generator_as_it_was(qtbot):
    """The button builds on the GUI thread while a run may train on torch's global generator in the worker."""
    from PySide6.QtWidgets import QPushButton

    panel = FlowsPanel()
    qtbot.addWidget(panel)
    panel.speed_dim.setValue(4)
    before = torch.random.get_rng_state()
    next(b for b in panel.findChildren(QPushButton) if b.text().startswith("measure")).click()
    assert torch.equal(torch.random.get_rng_state(), before)
    assert (np.asarray(panel.speed_bars.opts["height"]) > 0).all()
    assert "D = 4" in panel.speed_text.text()


def test_hidden_tabs_are_built_when_first_shown_with_the_latest_snapshot(qtbot, window, tmp_path):
    """The window's flows panel builds only its first tab; a tab clicked later (or exported) draws the run's latest
    snapshot at once, not a blank plot until the next one."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage

    from genviz.gui import file_menu
    from tests.gui.conftest import wait_step

    panel = window.panel
    window.show()
    pages = {panel.tabs.tabText(i): panel.tabs.widget(i) for i in range(panel.tabs.count())}
    lazy = [pages[t] for t in ("layer by layer", "log|det J|", "single-layer lab", "MAF vs IAF speed")]
    assert all(p.content is None for p in lazy)  # nothing built behind the first tab at launch
    window.play()
    wait_step(qtbot, window, 10)
    window.pause()
    qtbot.waitUntil(lambda: window.latest.status == "paused", timeout=10_000)
    window.flush()
    latest = window.latest.arrays
    assert all(p.content is None for p in lazy)  # training does not build them either
    bar = panel.tabs.tabBar()
    qtbot.mouseClick(bar, Qt.LeftButton, pos=bar.tabRect(panel.tabs.indexOf(pages["layer by layer"])).center())
    warp = pages["layer by layer"].content
    assert warp is not None and warp.isVisible() and warp.width() > 300
    top = len(latest["warp_lines"]) - 1
    assert warp.slider.maximum() == top and warp.slider.value() == top
    assert np.allclose(warp.samples.getData()[0], latest["warp_samples"][top][:, 0])
    assert pages["log|det J|"].content is None  # still not shown
    paths = {p.stem: p for p in file_menu.export_to(window, "png", tmp_path)}  # export draws every tab
    logdet = pages["log|det J|"].content
    assert logdet is not None and np.isfinite(logdet.map.img.image).all()
    assert np.allclose(logdet.map.img.image, np.clip(latest["log_det"], -50, 50), atol=1e-5)  # the latest one
    img = QImage(str(paths["log_det"]))
    assert img.width() >= 1000 and img.height() >= 300  # drawn at a real size, not a never-laid-out page's
