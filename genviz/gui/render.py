"""Headless rendering of the whole window to a PNG: train synchronously, feed a real MainWindow, grab it.

Used by `genviz render` (docs, reports, checks); works with no display via Qt's offscreen platform.
"""
from __future__ import annotations

import os
from pathlib import Path

from genviz.gui.app import display_problem


def render_window(model: str, dataset: str | None, steps: int, out: str, size=(1400, 900), train_overrides=None,
                  model_overrides=None, points=None) -> Path:
    """Train `model` on `dataset` (None: the model's default; 'custom' with `points` (n, 2)) for `steps` steps
    without a thread, then save the whole window as `out` (PNG). Bad settings raise ConfigError/DataError."""
    if display_problem():
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from genviz.gui.app import application
    from genviz.gui.main_window import MainWindow

    app = application()
    window = MainWindow(settings=_blank_settings(), persist=False, model=model, dataset=dataset)
    window.resize(*size)
    _apply_overrides(window, steps, dict(train_overrides or {}), model_overrides or {})
    window.show()
    if points is not None:
        window.controller.points = points
    if not window.reset():
        window.close()
        raise window.last_error
    for _ in range(3):
        app.processEvents()  # the panel gets its size before the plots frame their data
    window.train_headless()  # draws everything queued
    for _ in range(3):
        app.processEvents()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not window.grab().save(str(out)):
        raise OSError(f"could not write {out}")
    window.close()
    return out


def _blank_settings():
    """A fresh temporary INI file, so a render never depends on (or changes) the user's saved choices."""
    import tempfile

    from PySide6.QtCore import QSettings

    path = Path(tempfile.mkdtemp(prefix="genviz-render-")) / "settings.ini"
    return QSettings(str(path), QSettings.IniFormat)


def _apply_overrides(window, steps: int, train: dict, model: dict) -> None:
    """Put CLI-style overrides into the window's forms and run controls (unknown names are refused)."""
    from genviz.core import config as config_mod
    from genviz.core import registry

    # validate first: a spin box would silently clamp an out-of-range value instead of refusing it
    cfg = registry.make_config(window.picker.current_model(), model)
    window.model_form.set_values({k: getattr(cfg, k) for k in model})
    train_cfg = config_mod.make(config_mod.TrainConfig, {**train, "steps": steps})
    train = {k: getattr(train_cfg, k) for k in train}
    window.train_form.set_values({**train, "steps": steps})
    if "snapshot_every" in train:
        window.run.snapshot_every.setValue(int(train["snapshot_every"]))
    if "device" in train:
        if window.run.device.findText(train["device"]) < 0:
            window.run.device.addItem(train["device"])  # the session then says clearly if it is unusable
        window.run.device.setCurrentText(train["device"])
