"""Menus and their file actions: open a checkpoint or run folder, export plots/samples/metrics/checkpoint,
draw or load points, concept labs. The `load_*` / `export_*` functions take explicit paths (tests use them);
the menu actions only ask for the path first."""
from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QFileDialog, QMessageBox

from genviz.core import checkpoint, registry, runs
from genviz.core import config as config_mod
from genviz.core import data as data_mod
from genviz.gui import export


def build_menus(w) -> None:
    bar = w.menuBar()
    file = bar.addMenu("&File")
    _add(w, file, "Open checkpoint…", lambda: _ask_open(w, "checkpoint"), QKeySequence.Open)
    _add(w, file, "Open run folder…", lambda: _ask_open(w, "run"))
    ex = file.addMenu("Export")
    for label, kind in (("Plots as PNG…", "png"), ("Plots as SVG…", "svg"), ("Samples as CSV…", "csv"),
                        ("Samples as NPZ…", "npz"), ("Checkpoint…", "checkpoint"), ("Metrics as CSV…", "metrics")):
        _add(w, ex, label, lambda k=kind: _ask_export(w, k))
    file.addSeparator()
    _add(w, file, "Quit", w.close, QKeySequence.Quit)
    data = bar.addMenu("&Data")
    _add(w, data, "Draw points…", lambda: draw_points(w))
    _add(w, data, "Load points from CSV…", lambda: _ask_csv(w))
    view = bar.addMenu("&View")
    view.addAction(w.setup_dock.toggleViewAction())
    view.addAction(w.loss_dock.toggleViewAction())
    view.addSeparator()
    _add(w, view, "Concept labs…", lambda: open_labs(w))


def _add(w, menu, text, slot, shortcut=None) -> QAction:
    act = QAction(text, w)
    if shortcut is not None:
        act.setShortcut(shortcut)
    act.triggered.connect(slot)
    menu.addAction(act)
    return act


# -- open -------------------------------------------------------------------------------------------
def load_checkpoint(w, path, metrics_folder=None) -> bool:
    """Restore model, forms and (if the folder has metrics.csv) the loss history; False + a message box if bad."""
    try:
        model, payload = checkpoint.load_full(path)
        spec = registry.get(payload["model"])
        ds_name = (payload.get("extra") or {}).get("dataset") or spec.default_dataset
        if ds_name == "custom" and w.custom_points is None:
            raise checkpoint.CheckpointError("it was trained on drawn points; draw or load them first")
        train = config_mod.make(config_mod.TrainConfig, {**(payload.get("train") or {}), "device": "cpu"})
        dataset = data_mod.load(ds_name, seed=train.seed, points=w.custom_points)
        w.controller.adopt(model.train(), payload, dataset, train)
    except (checkpoint.CheckpointError, config_mod.ConfigError, data_mod.DataError) as e:
        QMessageBox.critical(w, "Cannot open checkpoint", str(e))
        return False
    _show_loaded(w, payload, ds_name, train)
    folder = Path(metrics_folder or Path(path).parent)
    if (folder / "metrics.csv").is_file():
        _load_history(w, folder)
    w.status.say(f"opened {Path(path).name}: {payload['model']} at step {payload['step']:,} — "
                 "Play continues training")
    return True


def _show_loaded(w, payload, ds_name, train) -> None:
    """Put the loaded choices in the pickers and forms without triggering a reset."""
    for widget in (w.picker, w.train_form, w.run):
        widget.blockSignals(True)
    w.picker.select(payload["model"], ds_name)
    w._on_model_changed(payload["model"], reset=False)
    w.model_form.blockSignals(True)
    w.model_form.set_values(payload["model_config"])
    w.model_form.blockSignals(False)
    w.train_form.set_values(config_mod.to_dict(train))
    w.run.snapshot_every.setValue(train.snapshot_every)
    for widget in (w.picker, w.train_form, w.run):
        widget.blockSignals(False)
    w.begin_view()


def _load_history(w, folder) -> None:
    try:
        cols = runs.read_metrics(folder)
    except (OSError, ValueError):
        return  # the checkpoint opened; a missing or damaged history only costs the curve
    steps = cols.pop("step", None)
    if steps is None:
        return
    losses = {k: v for k, v in cols.items() if not k.startswith("val_")}
    ok = np.all([np.isfinite(v) for v in losses.values()], axis=0) if losses else []
    w.loss.append(steps[ok], {k: v[ok] for k, v in losses.items()})
    for k, v in cols.items():
        if k.startswith("val_"):
            for s, x in zip(steps[np.isfinite(v)], v[np.isfinite(v)]):
                w.loss.add_metrics(int(s), {k[4:]: float(x)})
    w.loss.redraw()


def load_run(w, folder) -> bool:
    folder = Path(folder)
    try:
        runs.read_config(folder)
    except checkpoint.CheckpointError as e:
        QMessageBox.critical(w, "Cannot open run folder", str(e))
        return False
    return load_checkpoint(w, folder / "checkpoint.pt", folder)


def _ask_open(w, kind: str) -> None:
    if kind == "run":
        folder = QFileDialog.getExistingDirectory(w, "Open run folder")
        if folder:
            load_run(w, folder)
        return
    path, _ = QFileDialog.getOpenFileName(w, "Open checkpoint", "", "Checkpoints (*.pt);;All files (*)")
    if path:
        load_checkpoint(w, path)


# -- export -----------------------------------------------------------------------------------------
def plots(w) -> dict:
    return {**(w.panel.plots() if w.panel is not None else {}), **w.loss.plots()}


def export_to(w, kind: str, path) -> list[Path]:
    """kind: png | svg (path = a folder) | csv | npz (samples) | checkpoint | metrics."""
    if kind in ("png", "svg"):
        return export.export_plots(plots(w), path, kind)
    if kind in ("csv", "npz"):
        if w.latest is None:
            raise ValueError("nothing to export yet: train a little first")
        return [export.export_samples(w.latest.arrays, path)]
    if kind == "checkpoint":
        return [w.controller.save_checkpoint(path)]
    if kind == "metrics":
        return [export.export_metrics(w.loss.history(), path)]
    raise ValueError(f"unknown export {kind!r}")


def _ask_export(w, kind: str) -> None:
    if kind in ("png", "svg"):
        path = QFileDialog.getExistingDirectory(w, f"Export plots as {kind.upper()} into folder")
    else:
        suffix = {"csv": "csv", "npz": "npz", "checkpoint": "pt", "metrics": "csv"}[kind]
        path, _ = QFileDialog.getSaveFileName(w, "Export", f"{kind}.{suffix}", f"*.{suffix}")
    if not path:
        return
    try:
        written = export_to(w, kind, path)
    except (OSError, ValueError, checkpoint.CheckpointError) as e:
        QMessageBox.critical(w, "Export failed", str(e))
        return
    w.status.say(f"wrote {', '.join(p.name for p in written)} to {Path(written[0]).parent}")


# -- data -------------------------------------------------------------------------------------------
def use_points(w, points: np.ndarray) -> None:
    """Train on these points: select the 'custom' dataset and build a fresh model for it."""
    w.custom_points = np.asarray(points, np.float32)
    if "2d" not in registry.get(w.picker.current_model()).data_kinds:
        w.picker.select("realnvp")
    w.picker.blockSignals(True)
    w.picker.select(w.picker.current_model(), "custom")
    w.picker.blockSignals(False)
    w.reset()


def draw_points(w) -> None:
    from genviz.gui.draw import DrawDialog

    dlg = DrawDialog(w.custom_points, w)
    if dlg.exec() == QDialog.Accepted:
        use_points(w, dlg.points())


def _ask_csv(w) -> None:
    path, _ = QFileDialog.getOpenFileName(w, "Load points", "", "CSV files (*.csv *.txt);;All files (*)")
    if not path:
        return
    try:
        use_points(w, data_mod.load_points_csv(path))
    except data_mod.DataError as e:
        QMessageBox.critical(w, "Cannot load points", str(e))


def open_labs(w) -> None:
    """Concept labs live in genviz.gui.labs (written separately); say so kindly if it is not there yet."""
    try:
        labs = importlib.import_module("genviz.gui.labs")
    except ImportError:
        QMessageBox.information(w, "Concept labs", "The concept labs are not part of this build yet.")
        return
    if getattr(w, "_labs", None) is None:
        w._labs = labs.LabsWindow()
    w._labs.show()
    w._labs.raise_()
