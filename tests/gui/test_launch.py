"""Fast from the first click: the window paints before torch is imported, and Play works once it is ready."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from PySide6.QtCore import Qt

from conftest import wait_step

FIRST_PAINT = textwrap.dedent("""
    import sys
    from PySide6.QtCore import QSettings
    from genviz.gui.app import application
    from genviz.gui.main_window import MainWindow

    app = application()
    w = MainWindow(settings=QSettings(sys.argv[1], QSettings.IniFormat), persist=False, defer=True)
    seen = {}
    w.painted.connect(lambda: seen.setdefault("painted", "torch" in sys.modules))
    w.ready.connect(lambda: (seen.setdefault("ready", w.run.play_btn.isEnabled()), app.quit()))
    w.show()
    app.exec()
    print("torch-at-paint", seen.get("painted"), "play-enabled", seen.get("ready"))
""")


def test_the_window_paints_before_torch_is_imported(tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run([sys.executable, "-c", FIRST_PAINT, str(tmp_path / "s.ini")], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "torch-at-paint False play-enabled True" in out.stdout, out.stdout + out.stderr[-2000:]


def test_launch_shows_loading_then_play_trains_at_once(qtbot):
    """The app's launch path: greyed controls and a loading note, then `ready`, then a click on Play trains."""
    from genviz.gui.main_window import MainWindow

    w = MainWindow(defer=True)
    qtbot.addWidget(w)
    with qtbot.waitSignal(w.ready, timeout=60_000):
        w.show()
        assert not w.run.play_btn.isEnabled()
        assert "loading" in w.status.message.text()
    assert w.run.play_btn.isEnabled()
    assert w.picker.current_model() == "realnvp"
    w.model_form.set_values({"n_layers": 2, "hidden": 16, "depth": 1})
    w.train_form.set_values({"batch_size": 64})
    w.run.snapshot_every.setValue(5)
    qtbot.mouseClick(w.run.reset_btn, Qt.LeftButton)
    qtbot.mouseClick(w.run.play_btn, Qt.LeftButton)
    wait_step(qtbot, w, 10)
    qtbot.mouseClick(w.run.pause_btn, Qt.LeftButton)
    w.controller.stop(timeout_s=5.0)
