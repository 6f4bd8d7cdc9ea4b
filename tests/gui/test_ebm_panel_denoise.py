"""The EBM panel's denoise button: corrupted data points become chain starts; a real session's trails from them
climb the trained energy back toward the data."""
import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt

from genviz.core.data import split, toy2d
from genviz.core.session import Session
from genviz.gui.panels import panel_class

SMALL = {"objective": "dsm", "hidden": 32, "depth": 2, "grid_res": 64, "step_size": 0.002, "noise_scale": 0.0}


@pytest.fixture
def panel(qtbot):
    p = panel_class("ebm")()
    qtbot.addWidget(p)
    p.resize(1000, 600)
    p.show()
    return p


def test_denoise_button_sends_corrupted_data_points_and_their_chains_go_downhill(panel, qtbot):
    data = split(toy2d("moons", 3000, 0), "moons")
    train = data.train.numpy()
    panel.begin({"model": "ebm", "family": "ebm", "dataset": "moons", "kind": "2d", "data_shape": (2,),
                 "bbox": data.bbox(), "data": train[:500]})
    panel.set_data_points(train[:500])
    with qtbot.waitSignal(panel.command_issued) as sig:
        qtbot.mouseClick(panel.denoise_button, Qt.LeftButton)
    kind, payload = sig.args[0]
    starts = np.asarray(payload["chain_starts"])
    assert kind == "view" and starts.shape == (3, 2) and len(panel.clean.data) == 3
    ringed = np.c_[panel.clean.data["x"], panel.clean.data["y"]]
    assert all(np.isclose(train[:500], c, atol=1e-6).all(1).any() for c in ringed)  # real data points
    assert np.all(np.linalg.norm(starts - ringed, axis=1) > 1e-3)  # corrupted copies of them
    s = Session("ebm", data, SMALL, {"steps": 300, "batch_size": 128, "snapshot_every": 300},
                view={"res": 32, "chain_starts": payload["chain_starts"], "n_chains": 0, "trail_steps": 150})
    last = [snap for snap in s.run()][-1]
    trails = np.asarray(last.arrays["trails"])[-3:]  # the clicked chains come after the automatic ones
    assert np.allclose(trails[:, 0], starts, atol=1e-5)
    with torch.no_grad():
        f = lambda x: s.model.energy(torch.as_tensor(x, dtype=s.model.dtype)).numpy()  # noqa: E731
        assert np.all(f(trails[:, -1]) > f(trails[:, 0]))  # the energy −f went down along every chain
    dist = lambda x: np.sqrt(((x[:, None] - train[None]) ** 2).sum(-1)).min(1)  # noqa: E731
    assert dist(trails[:, -1]).mean() < dist(trails[:, 0]).mean()
    panel.clear_chains()
    assert len(panel.clean.data) == 0 and panel.chain_starts == []
