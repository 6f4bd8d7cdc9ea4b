"""toolkit.Dots, the scatter the 2D panels redraw at every snapshot: what it draws, where, and in exports; and
the app's cycle collector leaving the loaded modules alone (startup.freeze_loaded_objects)."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QPointF

from genviz.gui.panels.toolkit import Dots

RED = (230, 20, 20)


@pytest.fixture
def plot(qtbot):
    w = pg.PlotWidget()
    qtbot.addWidget(w)
    w.resize(400, 300)
    w.show()
    qtbot.waitExposed(w)
    return w


def _pixel(img, x, y):
    c = img.pixelColor(int(round(x)), int(round(y)))
    return c.red(), c.green(), c.blue()


def _near(rgb, ref, tol=40):
    return all(abs(a - b) <= tol for a, b in zip(rgb, ref))


def test_dots_are_drawn_at_their_points_in_their_colour_and_frame_the_view(qtbot, plot):
    dots = Dots(size=6, brush=pg.mkBrush(*RED))
    plot.addItem(dots)
    xy = np.array([[-2.0, 1.0], [0.5, -0.5], [3.0, 2.0], [np.nan, 0.0]])  # a NaN point is not drawn
    dots.setData(xy[:, 0], xy[:, 1])
    assert dots.data.shape == (3,) and np.array_equal(dots.data["x"], [-2.0, 0.5, 3.0])
    plot.getPlotItem().enableAutoRange()
    qtbot.wait(50)
    (x0, x1), (y0, y1) = plot.getPlotItem().vb.viewRange()
    assert x0 < -2 and x1 > 3 and y0 < -0.5 and y1 > 2  # auto-range takes the dots in
    img = plot.grab().toImage()
    vb = plot.getPlotItem().vb
    for x, y in xy[:3]:
        p = plot.mapFromScene(vb.mapViewToScene(QPointF(x, y)))
        assert _near(_pixel(img, p.x(), p.y()), RED), (x, y)
    empty = plot.mapFromScene(vb.mapViewToScene(QPointF(-1.0, -0.4)))
    assert not _near(_pixel(img, empty.x(), empty.y()), RED)
    dots.setData([1.0], [1.0], brush=pg.mkBrush(20, 200, 20))  # new points and a new colour
    img = plot.grab().toImage()
    p = plot.mapFromScene(vb.mapViewToScene(QPointF(1.0, 1.0)))
    assert _near(_pixel(img, p.x(), p.y()), (20, 200, 20))
    old = plot.mapFromScene(vb.mapViewToScene(QPointF(-2.0, 1.0)))
    assert not _near(_pixel(img, old.x(), old.y()), RED)
    dots.setData([], [])
    assert dots.data.shape == (0,) and dots.boundingRect().isNull()
    plot.grab()  # nothing to draw: no error


def test_dots_keep_their_size_in_pixels_when_zoomed(qtbot, plot):
    dots = Dots(size=8, brush=pg.mkBrush(*RED))
    plot.addItem(dots)
    dots.setData([0.0], [0.0])
    vb = plot.getPlotItem().vb

    def red_pixels(span):
        vb.setRange(xRange=(-span, span), yRange=(-span, span), padding=0)
        qtbot.wait(20)
        img = plot.grab().toImage()
        return sum(_near(_pixel(img, i, j), RED) for i in range(img.width()) for j in range(img.height()))

    near, far = red_pixels(1.0), red_pixels(100.0)
    assert 20 <= near <= 90 and abs(near - far) <= 12  # an 8 px disc (~50 px) at both zooms


def test_dots_are_exported_to_png_and_to_svg_as_vector_discs(qtbot, plot, tmp_path):
    from PySide6.QtGui import QImage

    from genviz.gui import export

    dots = Dots(size=6, brush=pg.mkBrush(*RED))
    plot.addItem(dots)
    dots.setData([0.0, 1.0, 2.0], [0.0, 1.0, 0.5])
    plot.getPlotItem().enableAutoRange()
    qtbot.wait(20)
    png, svg = (export.export_plots({"p": plot.getPlotItem()}, tmp_path, fmt)[0] for fmt in ("png", "svg"))
    img = QImage(str(png))
    assert sum(_near(_pixel(img, i, j), RED) for i in range(0, img.width(), 2) for j in range(0, img.height(), 2)) > 6
    text = svg.read_text().lower()
    assert text.count("#e61414") >= 3 and "<image" not in text  # a vector shape per dot, not a bitmap


def test_the_loaded_modules_leave_the_cycle_collectors_scans_and_new_garbage_is_still_collected():
    """In a fresh process (this suite freezes its own imports first): nothing is frozen until the window has
    loaded the core, then torch, Qt, pyqtgraph and the window are; a cycle made afterwards is still freed."""
    import os
    import subprocess
    import sys

    script = (
        "import gc, weakref\n"
        "from genviz.gui.app import application\n"
        "from genviz.gui.main_window import MainWindow\n"
        "from genviz.gui.render import _blank_settings\n"
        "app = application([])\n"
        "before = gc.get_freeze_count()\n"
        "w = MainWindow(settings=_blank_settings(), persist=False)\n"
        "class Node: pass\n"
        "a, b = Node(), Node()\n"
        "a.other, b.other = b, a\n"
        "alive = weakref.ref(a)\n"
        "del a, b\n"
        "gc.collect()\n"
        "print(before, gc.get_freeze_count(), alive() is None)\n"
        "w.close()\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert out.returncode == 0, out.stderr[-2000:]
    before, after, freed = out.stdout.split()[-3:]
    assert int(before) == 0 and int(after) > 100_000 and freed == "True"
