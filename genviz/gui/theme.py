"""One look for the whole app: pyqtgraph options and the Qt stylesheet (resources/style.qss)."""
from __future__ import annotations

from pathlib import Path

import pyqtgraph as pg

BACKGROUND = "#16181d"
FOREGROUND = "#c9cdd4"
ACCENT = "#4fa3ff"
# Loss curves cycle through these; readable on the dark plot background.
CURVE_COLORS = ("#4fa3ff", "#ff9f43", "#2ed573", "#ff6b81", "#a29bfe", "#feca57", "#48dbfb")


def configure_pyqtgraph() -> None:
    """Antialiasing off (speed), row-major images (no transposes), the dark plot palette."""
    pg.setConfigOptions(antialias=False, imageAxisOrder="row-major", background=BACKGROUND,
                        foreground=FOREGROUND)


def stylesheet() -> str:
    """The QSS text, from the installed package `genviz.resources` or the source tree's resources/; its
    @RESOURCES@ (images such as the check box's tick) becomes that folder's path, as QSS urls need one."""
    try:
        from importlib.resources import files

        folder = files("genviz.resources")
        text = (folder / "style.qss").read_text(encoding="utf-8")
    except (ImportError, FileNotFoundError, OSError):
        folder = Path(__file__).resolve().parents[2] / "resources"
        path = folder / "style.qss"
        text = path.read_text(encoding="utf-8") if path.is_file() else ""
    return text.replace("@RESOURCES@", Path(str(folder)).as_posix())
