"""GUI test fixtures: offscreen Qt, a temporary QSettings location, and a check that no QThread outlives
its test (as napari's conftest does)."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtCore import QSettings, QThread  # noqa: E402


@pytest.fixture(autouse=True)
def temp_settings(tmp_path_factory):
    """Every test writes its QSettings under a fresh temporary folder, never the user's."""
    folder = tmp_path_factory.mktemp("settings")
    QSettings.setPath(QSettings.IniFormat, QSettings.UserScope, str(folder))
    yield folder


@pytest.fixture(autouse=True)
def no_thread_left_running(monkeypatch, qapp):
    """Fail a test that leaves a started QThread running."""
    started: list[QThread] = []
    original = QThread.start

    def start(self, *args):
        started.append(self)
        return original(self, *args)

    monkeypatch.setattr(QThread, "start", start)
    yield
    running = [t.objectName() or repr(t) for t in started if t.isRunning()]
    for t in started:  # don't let one leak take the following tests down with it
        if t.isRunning():
            t.quit()
            t.wait(5000)
    assert not running, f"test left QThread(s) running: {running}"


TINY = {"n_layers": 2, "hidden": 16, "depth": 1}


@pytest.fixture
def window(qtbot):
    """The real main window on RealNVP + moons, with a tiny model so tests train in milliseconds per step."""
    from genviz.gui.main_window import MainWindow

    w = MainWindow()
    qtbot.addWidget(w)
    w.model_form.set_values(TINY)
    w.train_form.set_values({"batch_size": 64, "steps": 10_000})
    w.run.snapshot_every.setValue(5)
    assert w.reset()
    yield w
    w.controller.stop(timeout_s=5.0)


def wait_step(qtbot, w, step: int, timeout_ms: int = 30_000) -> None:
    """Until the window has drawn a snapshot at `step` or later."""
    qtbot.waitUntil(lambda: w.latest is not None and w.latest.step >= step, timeout=timeout_ms)


@pytest.fixture
def tiny_run(tmp_path):
    """A finished 12-step RealNVP run folder (hidden 8), written by a headless Session as `genviz train` does."""
    from genviz.core import data, runs
    from genviz.core.session import Session

    folder = tmp_path / "run"
    s = Session("realnvp", data.load("moons", n=2000), {"n_layers": 2, "hidden": 8}, {"steps": 12, "batch_size": 32},
                writer=runs.RunWriter(folder, "moons"))
    for _ in s.run():
        pass
    return folder
