"""Starting the desktop app: a QApplication, the theme, the main window (RealNVP + moons, not playing)."""
from __future__ import annotations

import os
import sys


def display_problem() -> str | None:
    """Why Qt could not open a window here (Linux without a display), with what to do; None if fine."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return None
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    return ("genviz needs a display to open its window, and none was found (DISPLAY and WAYLAND_DISPLAY "
            "are unset).\n  - on a desktop: run it from a graphical session\n"
            "  - on a server: xvfb-run genviz   (a virtual display)\n"
            "  - to render without any display: QT_QPA_PLATFORM=offscreen genviz render --model realnvp "
            "--dataset moons --steps 500 --out window.png\n"
            "  - to train headless: genviz train realnvp --dataset moons --steps 3000 --out runs/moons")


def application(argv: list[str] | None = None):
    """The QApplication (created once), with the app's names so QSettings finds its file."""
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        app = QApplication(list(argv) if argv is not None else sys.argv[:1])
        app.setOrganizationName("genviz")
        app.setApplicationName("genviz")
        app.setStyle("Fusion")  # the stylesheet is written against Fusion: same look on every OS
    from genviz.gui.theme import configure_pyqtgraph

    configure_pyqtgraph()
    _leave_a_core_for_the_gui()
    return app


def _leave_a_core_for_the_gui() -> None:
    """Torch's intra-op threads default to every core; the training thread then starves the event loop."""
    if "OMP_NUM_THREADS" in os.environ:
        return  # the user chose
    import torch

    torch.set_num_threads(max(1, min(torch.get_num_threads(), (os.cpu_count() or 2) - 1)))


def run_app(argv: list[str] | None = None, open_path: str | None = None) -> int:
    """Open the main window (optionally a checkpoint file or run folder) and run the event loop."""
    app = application(argv)
    from pathlib import Path

    from genviz.gui.main_window import MainWindow

    window = MainWindow()
    window.show()
    if open_path:
        window.open_path(Path(open_path))
    return app.exec()
