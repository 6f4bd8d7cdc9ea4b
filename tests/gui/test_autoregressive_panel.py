"""The autoregressive panel draws snapshots of short real Sessions (MNIST slice and 2D), animates sampling
in the model's order, and turns clicks / the mask box into view commands."""
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from genviz.core import data as data_mod
from genviz.core.data import Dataset
from genviz.core.session import Session
from genviz.gui.panels import panel_class
from genviz.gui.panels.autoregressive import AutoregressivePanel


@pytest.fixture
def panel(qtbot):
    p = panel_class("autoregressive")()
    assert isinstance(p, AutoregressivePanel)
    qtbot.addWidget(p)
    p.resize(1100, 650)
    p.show()
    return p


def mnist_slice(n=256):
    path = Path(os.environ["GENVIZ_DATA"]) / "MNIST" / "raw" / "train-images-idx3-ubyte"
    raw = np.fromfile(path, dtype=np.uint8, count=16 + (n + 64) * 784)[16:]
    x = torch.from_numpy(raw.reshape(-1, 1, 28, 28).astype(np.float32) / 255)
    return Dataset("mnist", "image", x[:n], x[n:], x[n:], binarize=True)


def _info(data):
    return {"model": "made", "family": "autoregressive", "dataset": data.name, "kind": data.kind,
            "data_shape": data.shape, "bbox": data.bbox() if data.kind == "2d" else None,
            "data": data.train[:500].numpy() if data.kind == "2d" else None}


def test_made_snapshots_fill_every_view_and_the_animation_reveals_pixels_in_order(panel, qtbot):
    data = mnist_slice()
    panel.begin(_info(data))
    s = Session("made", data, {"hidden": 32, "depth": 2, "num_masks": 2, "order": "snake"},
                {"steps": 6, "batch_size": 32, "snapshot_every": 3}, view={"n_grid": 4})
    snaps = list(s.run())
    panel.speed.setValue(64)
    for snap in snaps:
        panel.show_snapshot(snap)
    assert panel.grid_img.image.shape == snaps[-1].arrays["sample_grid"].shape
    assert panel.jac_img.image.shape == (784, 784) and panel.conn_img.image.shape == (784, 784)
    assert [p[1].image.shape for p in panel.mask_plots[:3]] == [(32, 784), (32, 32), (784, 32)]
    assert panel.mask_plots[3][1].image is None  # only three masks for two hidden layers
    assert panel.order_img.image.shape == (28, 28)
    # mid-animation (Replay draws its first frame at once): exactly the first t pixels of the order are drawn
    panel.replay()
    order = snaps[-1].arrays["order"].astype(int)
    img = panel.anim_img.image.reshape(-1)
    t = panel.anim_t
    assert t == 64 and np.all(img[order[t:]] == 0.5) and np.all(np.isin(img[order[:t]], (0.0, 1.0)))
    qtbot.waitUntil(lambda: not panel.timer.isActive(), timeout=5000)
    assert panel.anim_t == 784 and np.isin(panel.anim_img.image, (0.0, 1.0)).all()
    assert not panel.tabs.isTabVisible(panel.density_index)


def test_clicks_and_mask_box_emit_view_commands(panel, qtbot):
    got = []
    panel.command_issued.connect(got.append)
    panel.begin(_info(mnist_slice(64)))
    panel.pick_pixel(5 * 28 + 7)
    panel.mask_spin.setValue(1)
    assert got == [("view", {"pixel": 147}), ("view", {"mask": 1})]
    x, y = panel.pixel_marks[0].getData()
    assert (x[0], y[0]) == (7.5, 5.5)  # column 7, row 5: pixel centres, row 0 at the top


def test_2d_session_shows_the_exact_density_and_samples(panel):
    data = data_mod.load("moons", 2000)
    panel.begin(_info(data))
    s = Session("made-2d", data, {"bins": 24, "hidden": 16}, {"steps": 4, "snapshot_every": 2}, view={"res": 48})
    for snap in s.run():
        panel.show_snapshot(snap)
    assert panel.image.image.shape == (48, 48) and panel.sample_scatter.data.size > 0
    assert panel.tabs.isTabVisible(panel.density_index) and not panel.tabs.isTabVisible(panel.sampling_index)
    assert set(panel.plots()) >= {"density", "samples", "masks"}
