"""Export from the window and open what was exported: plots, samples, metrics, checkpoints, run folders."""
from __future__ import annotations

import math

import numpy as np
import pytest
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QMessageBox

from genviz.core import checkpoint
from genviz.gui import file_menu


@pytest.fixture
def trained(qtbot, window):
    window.train_form.set_values({"steps": 30})
    window.play()
    qtbot.waitUntil(lambda: not window.controller.running() and window.controller.step == 30, timeout=30_000)
    window.flush()
    return window


@pytest.fixture
def errors(monkeypatch):
    """Message boxes recorded instead of shown (a modal box would block the test)."""
    shown = []
    monkeypatch.setattr(QMessageBox, "critical", lambda parent, title, text, *a: shown.append((title, text)))
    return shown


def _text_scales(svg) -> set:
    """The scale of every group of text (tick labels, titles) in an SVG file, rotation aside. pyqtgraph's axes
    replay pictures recorded at the screen's dots per inch: written at another, they came out shrunk by 72/96,
    off the plot they label."""
    import re
    import xml.dom.minidom

    scales = set()
    for g in xml.dom.minidom.parse(str(svg)).getElementsByTagName("g"):
        if g.getElementsByTagName("text") and not g.getElementsByTagName("g"):
            m = re.match(r"matrix\(([^,]+),([^,]+),", g.getAttribute("transform") or "matrix(1,0,")
            scales.add(round(math.hypot(float(m.group(1)), float(m.group(2))), 3))
    return scales


def test_export_writes_files_that_load_back(tmp_path, trained):
    pngs = file_menu.export_to(trained, "png", tmp_path / "png")
    assert {"density", "samples", "loss"} <= {p.stem for p in pngs}  # a family panel may add more
    for p in pngs:
        img = QImage(str(p))
        assert not img.isNull() and img.width() >= 1000
    for p in file_menu.export_to(trained, "svg", tmp_path / "svg"):
        assert p.read_text().lstrip().startswith(("<?xml", "<svg"))
        assert _text_scales(p) == {1.0}, p.name  # axis labels at the plot's own scale, aligned with its data
    (csv,) = file_menu.export_to(trained, "csv", tmp_path / "samples.csv")
    pts = np.loadtxt(csv, delimiter=",", skiprows=1)
    assert pts.shape == (1000, 2) and np.allclose(pts, trained.latest.arrays["samples"], atol=1e-4)
    (npz,) = file_menu.export_to(trained, "npz", tmp_path / "arrays.npz")
    with np.load(npz) as z:
        assert z["log_density"].shape == (96, 96) and z["samples"].shape == (1000, 2)
    (metrics,) = file_menu.export_to(trained, "metrics", tmp_path / "metrics.csv")
    rows = metrics.read_text().splitlines()
    assert rows[0].split(",") == ["step", "loss", "nll", "val_nll"]
    assert len(rows) == 1 + 31  # steps 0..30: val metrics from the start snapshot, a loss for every step
    val_steps = [int(r.split(",")[0]) for r in rows[1:] if r.split(",")[3]]
    assert val_steps == [0, 5, 10, 15, 20, 25, 30]
    (ckpt,) = file_menu.export_to(trained, "checkpoint", tmp_path / "model.pt")
    model, payload = checkpoint.load_full(ckpt)
    assert payload["step"] == 30 and (payload.get("dataset") or {}).get("name", payload["extra"].get("dataset")) == "moons" and len(payload["optimizers"]) == 1
    x = trained.controller.dataset.val[:64]
    assert np.allclose(model.log_prob(x).detach().numpy(),
                       trained.controller.model.log_prob(x).detach().numpy(), atol=1e-5)


def test_checkpoint_reopens_with_config_and_history_and_continues(qtbot, tmp_path, trained):
    from genviz.gui.main_window import MainWindow

    file_menu.export_to(trained, "checkpoint", tmp_path / "model.pt")
    file_menu.export_to(trained, "metrics", tmp_path / "metrics.csv")
    w = MainWindow()
    qtbot.addWidget(w)
    assert file_menu.load_checkpoint(w, tmp_path / "model.pt")
    assert w.controller.step == 30 and w.model_form.values()["hidden"] == 16
    assert len(w.loss.series["loss"].data()[0]) == 30  # the history came back from metrics.csv
    w.train_form.set_values({"steps": 35})
    w.play()
    qtbot.waitUntil(lambda: not w.controller.running() and w.controller.step == 35, timeout=30_000)


def test_corrupt_checkpoint_shows_an_error_and_keeps_the_model(tmp_path, window, errors):
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"PK\x03\x04 this is not a checkpoint")
    model = window.controller.model
    assert not file_menu.load_checkpoint(window, bad)
    assert errors and "not a readable checkpoint" in errors[0][1]
    assert window.controller.model is model


def test_run_folder_written_by_a_session_opens(qtbot, tmp_path, window, errors, tiny_run):
    folder = tiny_run
    assert file_menu.load_run(window, folder), errors
    assert window.controller.step == 12 and window.model_form.values()["hidden"] == 8
    assert np.array_equal(window.loss.series["loss"].data()[0], np.arange(1, 13))
    assert not file_menu.load_run(window, tmp_path)  # not a run folder: a message, nothing lost
    assert "not a genviz run folder" in errors[-1][1]


def test_concept_labs_open_lazily_or_explain_their_absence(qtbot, window, monkeypatch):
    import importlib

    shown = []
    monkeypatch.setattr(QMessageBox, "information", lambda p, title, text, *a: shown.append(text))
    real = importlib.import_module
    monkeypatch.setattr(importlib, "import_module",
                        lambda name, *a: (_ for _ in ()).throw(ImportError(name)) if name == "genviz.gui.labs"
                        else real(name, *a))
    file_menu.open_labs(window)
    assert shown and "not part of this build" in shown[0] and window.labs is None
    monkeypatch.setattr(importlib, "import_module", real)
    file_menu.open_labs(window)
    assert window.labs.isVisible()
    window.close()
    assert not window.labs.isVisible()
