"""The VAE panel draws snapshots of short real Sessions; clicking the latent plane decodes live."""
import time

import numpy as np
import pytest
import torch
from PySide6.QtCore import QPointF, Qt

from genviz.core import data
from genviz.core.data import Dataset
from genviz.core.session import Session
from genviz.gui.panels import panel_class
from genviz.gui.panels.vae import VAEPanel


@pytest.fixture(scope="module")
def small_mnist():
    m = data.load("mnist")
    lab = {"train": m.labels["train"][:600], "val": m.labels["val"][:300], "test": m.labels["test"][:300]}
    return Dataset("mnist", "image", m.train[:600], m.val[:300], m.test[:300], lab, binarize=True)


def _info(name, ds, cfg):
    return {"model": name, "family": "vae", "config": dict(cfg), "dataset": ds.name, "kind": ds.kind,
            "data_shape": ds.shape, "bbox": ds.bbox() if ds.kind == "2d" else None,
            "data": ds.train[:500].numpy() if ds.kind == "2d" else None}


def _feed(panel, name, ds, cfg, steps=40, **view):
    panel.begin(_info(name, ds, cfg))
    s = Session(name, ds, cfg, {"steps": steps, "batch_size": 64, "snapshot_every": 10, "lr": 3e-3},
                view={"iwae_ms": (1, 10), "res": 32, **view})
    snaps = list(s.run())
    for snap in snaps:
        panel.show_snapshot(snap)
    return s, snaps


@pytest.fixture
def panel(qtbot):
    p = panel_class("vae")()
    assert isinstance(p, VAEPanel)
    qtbot.addWidget(p)
    p.resize(1000, 700)
    p.show()
    qtbot.waitExposed(p)
    return p


def test_latent_click_decodes_live(panel, qtbot, small_mnist):
    s, snaps = _feed(panel, "gmvae", small_mnist, {"hidden": 64, "z_dim": 4, "k": 10})
    assert panel.series["rec"][1] == list(range(1, 41))  # every step once, in order
    assert panel.series["val_kl"][1] == [0, 10, 20, 30, 40]  # one validation point per snapshot step
    assert panel.latent_scatter.data.shape[0] == 300 and panel.prior_scatter.data.shape[0] == 10
    assert panel.recon_img.image.shape == (2 * 29 + 1, 8 * 29 + 1)
    panel.tabs.setCurrentIndex(panel.latent_tab)
    qtbot.wait(50)  # let the tab lay out before mapping data to screen coordinates
    u, v = (float(c) for c in snaps[-1].arrays["latent"][0])  # the first digit's encoder mean
    view = panel.latent_win
    scene_pt = panel.latent_vb.mapViewToScene(QPointF(u, v))
    with qtbot.waitSignal(panel.decoded, timeout=2000):
        qtbot.mouseClick(view.viewport(), Qt.LeftButton, pos=view.mapFromScene(scene_pt))
    # the image shown is the model's own decoding of that latent point
    z = torch.from_numpy(panel.z_click).float()
    expected = s.model.mean_image(s.model.decode(z[None])).reshape(28, 28).detach().numpy()
    np.testing.assert_allclose(panel.decoded_img.image, expected, atol=1e-4)
    np.testing.assert_allclose(panel.cursor.data["x"][0], u, atol=0.05 * np.ptp(snaps[-1].arrays["latent"][:, 0]))
    assert panel.traverse_img.image.shape == (2 * 29 + 1, 9 * 29 + 1)
    # a drag decodes every point it passes; each decode (point + 18 traversal images) stays under 50 ms
    times = []
    for t in np.linspace(0, 1, 7):
        t0 = time.perf_counter()
        panel.decode_at(u + t, v - t)
        times.append(time.perf_counter() - t0)
    assert np.median(times) < 0.05, f"decode took {np.median(times) * 1000:.0f} ms"


def test_the_latent_tab_decodes_the_clouds_centre_before_any_click_and_reset_clears_it(panel, small_mnist):
    """The decoded digit and the traversals were two empty captioned boxes until the user clicked; a Reset
    (begin) left the previous run's decodings on screen."""
    s, snaps = _feed(panel, "vae", small_mnist, {"hidden": 32, "z_dim": 4}, steps=20)
    assert panel.z_click is not None and panel.cursor.data["x"][0] == 0.0
    z = torch.from_numpy(panel.z_click).float()
    assert np.allclose(z.numpy(), snaps[-1].arrays["proj_mean"])  # the centre of the plotted plane
    expected = s.model.mean_image(s.model.decode(z[None])).reshape(28, 28).detach().numpy()
    np.testing.assert_allclose(panel.decoded_img.image, expected, atol=1e-4)  # with the latest decoder
    assert panel.traverse_img.image.shape == (2 * 29 + 1, 9 * 29 + 1)
    panel.begin(_info("vae", small_mnist, {"hidden": 32, "z_dim": 4}))
    assert panel.decoded_img.image is None and panel.traverse_img.image is None and panel.z_click is None


def test_ssvae_decodes_the_chosen_class_and_shows_accuracy(panel, qtbot, small_mnist):
    _feed(panel, "ssvae", small_mnist, {"hidden": 32, "z_dim": 4}, steps=20)
    assert panel.acc_plot.isVisible()
    steps, accs = panel.acc_series["acc"][1:]
    last_steps, last_accs = panel.acc_series["acc_last"][1:]
    assert len(accs) >= 2 and last_steps == steps[1:]  # both, from the first step on (step 0: one net)
    assert all(0.0 <= a <= 1.0 for a in accs + last_accs)
    panel.decode_at(0.0, 0.0)
    first = panel.decoded_img.image.copy()
    panel.class_box.setCurrentIndex(7)  # a different y through the same decoder
    assert not np.allclose(first, panel.decoded_img.image)


def test_2d_vae_and_mog_views(panel, qtbot):
    moons = data.load("moons", n=2000)
    _feed(panel, "vae", moons, {"hidden": 16}, steps=20)
    assert panel.image.image.shape == (32, 32) and panel.tabs.isTabVisible(0)
    assert not panel.tabs.isTabVisible(panel.images_tab)
    panel.decode_at(0.0, 0.0)
    assert panel.decoded_point.data.shape[0] == 1  # a 2D decoder's mean is a point on the density plot
    _feed(panel, "mog", moons, {"k": 5}, steps=10)
    assert len(panel.cluster_scatter.data) == min(2000, len(moons.train))
    assert not panel.tabs.isTabVisible(panel.latent_tab)


def test_labs_run_on_a_copy_of_the_model(panel, qtbot, small_mnist):
    _feed(panel, "vae", small_mnist, {"hidden": 32, "z_dim": 2}, steps=20)
    with qtbot.waitSignal(panel.labs.finished, timeout=60_000):
        assert panel.labs.run("gradvar")
    rf, rp = panel.labs.c["rf"].yData, panel.labs.c["rp"].yData
    assert len(rf) == 3 and np.all(rf > rp)
    assert "REINFORCE" in panel.labs.status.text()
