"""The Runs dock on three real run folders: it lists them, overlays their curves (one legend entry per run),
shows only the settings in which they differ, picks up a new folder while the app runs, and opens one on a
double-click."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QFileDialog

from genviz.core import runs
from genviz.gui.file_menu import action
from genviz.gui.loss_plot import ema


def _run(folder, dataset: str, hidden: int, lr: float) -> None:
    from genviz.core import data
    from genviz.core.session import Session

    s = Session("realnvp", data.load(dataset, n=400), {"n_layers": 2, "hidden": hidden},
                {"steps": 6, "batch_size": 32, "lr": lr, "snapshot_every": 3}, writer=runs.RunWriter(folder, dataset),
                with_arrays=False)
    for _ in s.run():
        pass


@pytest.fixture
def three_runs(tmp_path):
    root = tmp_path / "runs"
    _run(root / "a", "moons", 8, 1e-3)
    _run(root / "b", "moons", 12, 1e-3)
    _run(root / "c", "rings", 8, 3e-3)
    return root


def _legend(panel) -> list[str]:
    return [label.text for _sample, label in panel.overlay.legend.items]


def test_runs_dock_lists_overlays_diffs_and_opens(qtbot, window, three_runs, monkeypatch):
    w = window
    w.show()
    qtbot.waitExposed(w)
    dock, panel = w.runs_dock, w.runs_dock.panel
    assert dock.isHidden()
    action(w, "Runs").trigger()  # View → Runs
    assert not dock.isHidden()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a: str(three_runs))
    QTest.mouseClick(panel.root_btn, Qt.LeftButton)
    assert sorted(panel.names()) == ["a", "b", "c"]
    row = {c: panel.item("c").text(i) for i, c in enumerate(("run", "model", "dataset", "step", "status", "final"))}
    last = runs.read_metrics(three_runs / "c")
    assert row["model"] == "realnvp" and row["dataset"] == "rings" and row["step"] == "6" and row["status"] == "done"
    assert row["final"] == f"loss {last['loss'][-1]:.4g} · val nll {last['val_nll'][-1]:.4g}"  # nll = loss: once

    for name in ("a", "b", "c"):
        panel.tick(name)
    assert _legend(panel) == ["a", "b", "c"]
    colors = {n: panel.overlay.curves[n][1].opts["pen"].color().name() for n in "abc"}
    assert len(set(colors.values())) == 3
    panel.overlay.smooth_slider.setValue(0)  # no smoothing: each curve is its run's loss column
    for n in "abc":
        x, y = panel.overlay.curves[n][1].getOriginalDataset()
        assert np.array_equal(x, np.arange(1, 7)) and np.allclose(y, runs.read_metrics(three_runs / n)["loss"])
    panel.overlay.smooth_slider.setValue(50)
    y = panel.overlay.curves["a"][1].getOriginalDataset()[1]
    assert np.allclose(y, ema(runs.read_metrics(three_runs / "a")["loss"], 0.5))
    QTest.mouseClick(panel.overlay.log_y, Qt.LeftButton)
    assert panel.overlay.item.ctrl.logYCheck.isChecked()

    diff = panel.diff_rows()  # only what differs, nested keys flattened, runs in ticked order
    assert diff == {"dataset": ["moons", "moons", "rings"], "data.name": ["moons", "moons", "rings"],
                    "model_config.hidden": ["8", "12", "8"], "train.lr": ["0.001", "0.001", "0.003"]}
    panel.tick("c", False)
    assert _legend(panel) == ["a", "b"] and panel.diff_rows() == {"model_config.hidden": ["8", "12"]}

    shutil.copytree(three_runs / "a", three_runs / "d")  # a new run folder while the app runs
    qtbot.waitUntil(lambda: "d" in panel.names(), timeout=5_000)

    item = panel.item("b")
    rect = panel.table.visualItemRect(item)
    QTest.mouseClick(panel.table.viewport(), Qt.LeftButton, pos=rect.center())  # a double-click's first press
    QTest.mouseDClick(panel.table.viewport(), Qt.LeftButton, pos=rect.center())
    assert w.picker.current_model() == "realnvp" and w.model_form.values()["hidden"] == 12
    assert w.status.fields["step"].text().startswith("step 6/") and not w.follower.following()
