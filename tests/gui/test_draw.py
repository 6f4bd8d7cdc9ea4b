"""Drawing a dataset with the mouse or loading a CSV, then training on it."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QMessageBox

from conftest import wait_step
from genviz.gui import file_menu
from genviz.gui.draw import DrawDialog


def test_mouse_drag_paints_points_near_the_cursor(qtbot):
    dlg = DrawDialog()
    qtbot.addWidget(dlg)
    dlg.show()
    dlg.per_dab.setValue(10)
    dlg.spread.setValue(0.05)
    widget = dlg.view.getViewWidget()
    centre = widget.mapFromScene(dlg.view.mapViewToScene(dlg.view.viewRect().center()))
    qtbot.mouseClick(widget.viewport(), Qt.LeftButton, pos=QPoint(int(centre.x()), int(centre.y())))
    pts = dlg.points()
    assert len(pts) == 10
    assert np.all(np.abs(pts - pts.mean(0)) < 0.5)  # a dab of spread 0.05 around one place


def test_drawn_points_train_as_the_custom_dataset(qtbot, window):
    dlg = DrawDialog()
    qtbot.addWidget(dlg)
    dlg.per_dab.setValue(50)
    for x in np.linspace(-2, 2, 8):
        dlg.add_stroke(float(x), float(x) ** 2 / 2)
    assert len(dlg.points()) == 400
    file_menu.use_points(window, dlg.points())
    assert window.picker.current_dataset() == "custom"
    assert len(window.controller.dataset.train) == 320  # 80 % train split of the drawn points
    window.play()
    wait_step(qtbot, window, 10)
    window.pause()


def test_bad_csv_is_refused_with_its_line_number(qtbot, tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr(QMessageBox, "critical", lambda p, t, text, *a: shown.append(text))
    path = tmp_path / "pts.csv"
    path.write_text("x,y\n" + "".join(f"{i},{i}\n" for i in range(12)) + "3,oops\n")
    dlg = DrawDialog()
    qtbot.addWidget(dlg)
    assert not dlg.load_csv(path)
    assert shown and "line 14" in shown[0]
    path.write_text("".join(f"{i},{-i}\n" for i in range(12)))
    assert dlg.load_csv(path) and len(dlg.points()) == 12
