"""The menu bar and the dialogs behind it. Every action asks for a path (or points) and then calls one of the
window's public verbs (open_path, export, use_points); tests trigger these same QActions with the file
dialogs patched. The core (torch) is imported inside the actions: the menus exist before it is loaded."""
from __future__ import annotations

import importlib
from pathlib import Path

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QFileDialog, QMessageBox

EXPORTS = (("Plots as PNG…", "png"), ("Plots as SVG…", "svg"), ("Samples as CSV…", "csv"),
           ("Samples as NPZ…", "npz"), ("Checkpoint…", "checkpoint"), ("Metrics as CSV…", "metrics"))
SUFFIX = {"csv": "csv", "npz": "npz", "checkpoint": "pt", "metrics": "csv"}


def build_menus(w) -> None:
    bar = w.menuBar()
    file = bar.addMenu("&File")
    _add(w, file, "Open checkpoint…", lambda: _ask_open(w, "checkpoint"), QKeySequence("Ctrl+O"))
    _add(w, file, "Open run folder…", lambda: _ask_open(w, "run"), QKeySequence("Ctrl+Shift+O"))
    _add(w, file, "Write run to folder…", lambda: _ask_write_run(w))
    ex = file.addMenu("Export")
    for label, kind in EXPORTS:
        _add(w, ex, label, lambda k=kind: _ask_export(w, k))
    file.addSeparator()
    _add(w, file, "Quit", w.close, QKeySequence("Ctrl+Q"))  # named keys: some platforms' standard Quit is none
    data = bar.addMenu("&Data")
    _add(w, data, "Draw points…", lambda: draw_points(w))
    _add(w, data, "Load points from CSV…", lambda: _ask_csv(w))
    view = bar.addMenu("&View")
    view.addAction(w.setup_dock.toggleViewAction())
    view.addAction(w.loss_dock.toggleViewAction())
    view.addAction(w.runs_dock.toggleViewAction())  # "Runs": the run folders under a root, compared
    view.addSeparator()
    _add(w, view, "Concept labs…", lambda: open_labs(w))
    _add(w, view, "Arena…", lambda: open_arena(w))
    help_menu = bar.addMenu("&Help")
    _add(w, help_menu, "Keyboard shortcuts…", lambda: show_shortcuts(w), QKeySequence("F1"))
    _add(w, help_menu, "About genviz…", lambda: show_about(w))


def _add(w, menu, text, slot, shortcut=None) -> QAction:
    act = QAction(text, w)
    act.setObjectName("action_" + "".join(c for c in text.lower() if c.isalnum()))
    if shortcut is not None:
        act.setShortcut(shortcut)
    # triggered(bool) hands `checked` to the first parameter it finds: never let it reach the slot's defaults
    act.triggered.connect(lambda _checked=False: slot())
    menu.addAction(act)
    return act


def action(w, text: str) -> QAction:
    """The menu action with this text (tests and scripts trigger it as a user would)."""
    for act in w.findChildren(QAction):
        if act.text() == text:
            return act
    raise KeyError(text)


# -- open -------------------------------------------------------------------------------------------
def load_checkpoint(w, path) -> bool:
    return w.open_path(path)


def load_run(w, folder) -> bool:
    return w.open_path(Path(folder))


def _ask_open(w, kind: str) -> None:
    if kind == "run":
        path = QFileDialog.getExistingDirectory(w, "Open run folder")
    else:
        path, _ = QFileDialog.getOpenFileName(w, "Open checkpoint", "", "Checkpoints (*.pt);;All files (*)")
    if path:
        w.open_path(path)


# -- write the run to a folder -------------------------------------------------------------------------
def suggested_run_folder(w) -> Path:
    """<Runs dock root>/<model>-<dataset>-<n>, n the first number whose folder holds no run yet."""
    from genviz.core import runs

    c = w.controller
    return runs.next_free_folder(w.runs_dock.panel.root, f"{c.model_name}-{c.dataset.name}")


def write_run(w, folder) -> bool:
    """The current run writes `folder` from now on (config.json, metrics.csv with its history, checkpoint.pt).
    A refusal (a folder holding another run, a file, an unwritable place) is said in the status bar in the
    CLI's words and changes nothing."""
    from genviz.core import runs

    c = w.controller
    if c is None or c.model is None:
        w.status.say("refused — there is no model to write: pick a model first", error=True)
        return False
    if w.follower is not None and w.follower.following():  # that run has its writer (or its folder)
        w.status.say(f"refused — this window follows {w.follower.folder.name}, which has its own folder: Detach "
                     "and train continues it there", error=True)
        return False
    try:
        folder = c.attach_folder(folder, lambda: (w.flush(), w.loss.history())[1],
                                 tuple((w.latest.metrics if w.latest else {}) or ()))
    except (runs.RunFolderError, OSError, ValueError) as e:
        w.status.say(f"refused — {e}", error=True)
        return False
    dock = w.runs_dock.panel
    if dock.root.resolve() in folder.resolve().parents:
        dock.refresh()  # listed now, not at the dock's next poll
    return True


def _ask_write_run(w) -> None:
    if w.controller is None or w.controller.model is None:
        w.status.say("refused — there is no model to write: pick a model first", error=True)
        return
    path, _ = QFileDialog.getSaveFileName(w, "Write run to folder (a new folder)", str(suggested_run_folder(w)),
                                          "Run folder (*)")
    if path:
        write_run(w, path)


# -- export -----------------------------------------------------------------------------------------
def export_to(w, kind: str, path) -> list[Path]:
    """kind: png | svg (path = a folder) | csv | npz (samples) | checkpoint | metrics."""
    return w.export(kind, path)


def _ask_export(w, kind: str) -> None:
    if kind in ("png", "svg"):
        path = QFileDialog.getExistingDirectory(w, f"Export plots as {kind.upper()} into folder")
    else:
        path, _ = QFileDialog.getSaveFileName(w, "Export", f"{kind}.{SUFFIX[kind]}", f"*.{SUFFIX[kind]}")
    if not path:
        return
    from genviz.core import checkpoint, runs

    try:
        written = w.export(kind, path)
    except runs.RunFolderError as e:  # a run folder has one writer: say who, and change nothing
        w.status.say(str(e), error=True)
        return
    except (OSError, ValueError, checkpoint.CheckpointError) as e:
        QMessageBox.critical(w, "Export failed", str(e))
        return
    w.status.say(f"wrote {', '.join(p.name for p in written)} to {Path(written[0]).parent}")


# -- data -------------------------------------------------------------------------------------------
def use_points(w, points) -> bool:
    """Train on these points (the 'custom' dataset); a refusal is shown and changes nothing."""
    from genviz.core import data as data_mod

    try:
        return w.use_points(points)
    except data_mod.DataError as e:
        QMessageBox.critical(w, "Cannot use these points", str(e))
        return False


def draw_points(w) -> None:
    from genviz.gui.draw import DrawDialog

    dlg = DrawDialog(w.controller.points, w)
    if dlg.exec() == QDialog.Accepted:
        use_points(w, dlg.points())


def _ask_csv(w) -> None:
    path, _ = QFileDialog.getOpenFileName(w, "Load points", "", "CSV files (*.csv *.txt);;All files (*)")
    if not path:
        return
    from genviz.core import data as data_mod

    try:
        from genviz.gui.draw import load_points

        points = load_points(path)
    except data_mod.DataError as e:
        QMessageBox.critical(w, "Cannot load points", str(e))
        return
    use_points(w, points)


def open_labs(w) -> None:
    """Concept labs live in genviz.gui.labs (written separately); say so kindly if it is not there yet."""
    try:
        labs = importlib.import_module("genviz.gui.labs")
    except ImportError:
        QMessageBox.information(w, "Concept labs", "The concept labs are not part of this build yet.")
        return
    if w.labs is None:
        w.labs = labs.LabsWindow()
    w.labs.show()
    w.labs.raise_()


def open_arena(w) -> None:
    """The Arena (every family on one 2D dataset, side by side): one window, made on first use."""
    from genviz.gui.arena_window import ArenaWindow

    arena = getattr(w, "arena", None)
    if arena is None or arena.closed:
        arena = w.arena = ArenaWindow()
        w.destroyed.connect(arena.close)
    arena.show()
    arena.raise_()


# -- help -------------------------------------------------------------------------------------------------
SHORTCUTS = (("Space", "Play / Pause"), ("Ctrl+O", "Open checkpoint…"), ("Ctrl+Shift+O", "Open run folder…"),
             ("Ctrl+Q", "Quit"), ("F1", "these shortcuts"),
             ("drag / wheel on a plot", "pan / zoom it; its 'A' button frames the data again"))


def shortcuts_text() -> str:
    """A two-column table (tabs in a message box do not line up)."""
    rows = "".join(f"<tr><td><b>{key}</b></td><td>&nbsp;&nbsp;{what}</td></tr>" for key, what in SHORTCUTS)
    return f"<table>{rows}</table>"


def about_text(w) -> str:
    """What a bug report needs: versions, where data and settings live, the devices this machine offers."""
    import platform

    import pyqtgraph as pg
    import PySide6
    import torch

    from genviz import __version__
    from genviz.core.images import data_root

    root, offline = data_root()
    cuda = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    return (f"genviz {__version__}: deep generative models, trained live\n\n"
            f"Python {platform.python_version()} · torch {torch.__version__} (CPU threads {torch.get_num_threads()},"
            f" CUDA device: {cuda}) · PySide6 {PySide6.__version__} · pyqtgraph {pg.__version__}\n"
            f"data: {root} ({'GENVIZ_DATA: offline, read only' if offline else 'downloads here when missing'})\n"
            f"settings: {w.settings.fileName()}")


def show_shortcuts(w) -> None:
    QMessageBox.information(w, "Keyboard shortcuts", shortcuts_text())


def show_about(w) -> None:
    QMessageBox.about(w, "About genviz", about_text(w))
