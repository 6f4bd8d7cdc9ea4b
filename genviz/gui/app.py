"""Starting the desktop app: a QApplication, the theme, the main window (RealNVP + moons, not playing)."""
from __future__ import annotations

import os
import sys

from genviz import __version__


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
        # QSettings' file name, the WM class and the name docks and dialogs show (applicationDisplayName
        # falls back to it). Setting a display name explicitly would make Qt append " — genviz" to every
        # window title, which already begins with "genviz — ".
        app.setApplicationName("genviz")
        app.setApplicationVersion(__version__)
        app.setWindowIcon(app_icon())
        app.setStyle("Fusion")  # the stylesheet is written against Fusion: same look on every OS
        # Python's cycle collector runs in whichever thread allocates: run by a training thread, it destroyed
        # widgets there and deadlocked against the GUI thread (Qt's mutex vs the GIL). pyqtgraph's collector
        # turns automatic collection off and collects on a timer in this (the GUI) thread.
        from pyqtgraph.util.garbage_collector import GarbageCollector

        app._genviz_gc = GarbageCollector(interval=1.0)
    from genviz.gui.theme import configure_pyqtgraph

    configure_pyqtgraph()
    return app


def app_icon():
    """The app's icon (resources/genviz.png, shipped as genviz.resources); an empty icon if it is missing."""
    from PySide6.QtGui import QIcon, QPixmap

    pixmap = QPixmap()
    data = _resource_bytes("genviz.png")
    if data:
        pixmap.loadFromData(data, "PNG")
    return QIcon(pixmap)


def _resource_bytes(name: str) -> bytes:
    """A file of the installed package `genviz.resources`, or of the source tree's resources/."""
    try:
        from importlib.resources import files

        return (files("genviz.resources") / name).read_bytes()
    except (ImportError, OSError):
        from pathlib import Path

        path = Path(__file__).resolve().parents[2] / "resources" / name
        return path.read_bytes() if path.is_file() else b""


def run_app(argv: list[str] | None = None, open_path: str | None = None) -> int:
    """Open the main window (optionally a checkpoint file or run folder) and run the event loop. The window
    paints before torch is imported; the run is opened once the core has loaded."""
    app = application(argv)
    from pathlib import Path

    from genviz.gui.main_window import MainWindow

    window = MainWindow(defer=True)
    window.setWindowIcon(app.windowIcon())
    if open_path:
        window.ready.connect(lambda: window.open_path(Path(open_path)))
    if os.environ.get("GENVIZ_LAUNCH_PROBE"):
        _launch_probe(app, window, os.environ["GENVIZ_LAUNCH_PROBE"])
    window.show()
    return app.exec()


def _launch_probe(app, window, mode: str) -> None:
    """GENVIZ_LAUNCH_PROBE=1 (bench/bench_launch.py): print `genviz-launch <event> <unix time>` when the window
    has painted and when Play is enabled, then quit; =play: also press Play then and time the first snapshot
    drawn; =warm-play: press Play only once the background warm-up has finished."""
    import threading
    import time

    def say(event: str) -> None:
        print(f"genviz-launch {event} {time.time():.4f}", flush=True)

    def first_snapshot_drawn() -> None:  # the tick after the snapshot is merged draws the panel
        ticks = []
        window.timer.timeout.connect(lambda: ticks.append(1) if window.latest is not None else None)
        window.timer.timeout.connect(lambda: (say("drawn"), app.quit()) if len(ticks) == 2 else None)

    def on_ready() -> None:
        say("ready" if window.run.play_btn.isEnabled() else "ready-but-play-disabled")
        if mode == "1":
            app.quit()
            return
        while mode == "warm-play" and any(t.name == "genviz-warm" for t in threading.enumerate()):
            time.sleep(0.01)
        first_snapshot_drawn()
        say("play")
        window.run.play_btn.click()

    window.painted.connect(lambda: say("painted"))
    window.ready.connect(on_ready)
