"""The Arena window, driven through its buttons and list: models train side by side; removing or adding one
leaves the others' runs (worker, steps, loss history) intact; the live scoreboard labels what each number is;
an arena folder opens at its runs' steps with their scoreboard."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from genviz.core import arena
from genviz.gui import file_menu
from genviz.gui.arena_board import BOARD
from genviz.gui.arena_window import ArenaWindow

TINY = {"made-2d": {"hidden": 16, "bins": 16}, "realnvp": {"n_layers": 2, "hidden": 16, "depth": 1},
        "nice": {"n_layers": 2, "hidden": 16, "depth": 1}}


@pytest.fixture
def arena_window(qtbot):
    w = ArenaWindow(models=("made-2d", "realnvp"), model_config=TINY, snapshot_every=10)
    qtbot.addWidget(w)
    w.steps_box.setValue(1_000_000)
    w.dataset_box.setCurrentText("moons")  # the line-up starts over, with the new steps
    w.resize(1000, 700)
    w.show()
    yield w
    w.close()


def item(w, name):
    return next(w.model_list.item(i) for i in range(w.model_list.count()) if w.model_list.item(i).text() == name)


def test_remove_and_add_a_model_while_the_others_keep_training(qtbot, arena_window):
    w = arena_window
    assert list(w.columns) == ["made-2d", "realnvp"]  # the line-up's order
    qtbot.mouseClick(w.play_btn, Qt.LeftButton)
    qtbot.waitUntil(lambda: all(c.step >= 20 for c in w.columns.values()), timeout=60_000)
    made = w.columns["made-2d"]
    worker, run_id = made.controller.worker, made.controller.run_id
    qtbot.mouseClick(w.columns["realnvp"].remove_btn, Qt.LeftButton)
    assert list(w.columns) == ["made-2d"] and item(w, "realnvp").checkState() == Qt.Unchecked
    before = made.step
    item(w, "nice").setCheckState(Qt.Checked)  # what a click on its box does
    assert list(w.columns) == ["made-2d", "nice"]
    qtbot.waitUntil(lambda: w.columns["nice"].step >= 20 and made.step >= before + 20, timeout=60_000)
    # the same run went on: same worker and run, the loss history from step 1 on, no step lost or repeated
    assert made.controller.worker is worker and made.controller.run_id == run_id
    steps = made.series["loss"].data()[0]
    assert steps[0] == 1 and (steps[1:] - steps[:-1] == 1).all() and steps[-1] >= before + 20
    assert w.columns["nice"].playing()  # a model added while the others play joins them
    # one model paused: it stops, the other goes on
    qtbot.mouseClick(made.pause_btn, Qt.LeftButton)
    qtbot.waitUntil(lambda: made.latest.status == "paused", timeout=30_000)
    paused_at, nice_at = made.step, w.columns["nice"].step
    qtbot.waitUntil(lambda: w.columns["nice"].step >= nice_at + 20, timeout=60_000)
    assert made.step == paused_at and made.pause_btn.text() == "Play"


def test_scoreboard_rows_say_what_each_number_is(qtbot, arena_window):
    w = arena_window
    w.scoreboard.score_share = 1.0  # score back to back: the test waits for rows, not for the CPU budget
    heads = [w.scoreboard.table.horizontalHeaderItem(i) for i in range(w.scoreboard.table.columnCount())]
    assert [h.text() for h in heads] == [b[0] for b in BOARD] and all(h.toolTip() for h in heads)
    assert "H = 1.131 nats" in w.scoreboard.entropy_label.text()
    w.scoreboard.refresh()  # before any score: parameters are already counted, the NLL is not yet there
    params = BOARD.index(next(b for b in BOARD if b[0] == "params"))
    for r in range(w.scoreboard.table.rowCount()):
        col = w.columns[w.scoreboard.table.item(r, 0).text()]
        assert w.scoreboard.table.item(r, params).text() == f"{arena.param_count(col.controller.model):,}"
        assert w.scoreboard.table.item(r, 4).text() == "—"
    qtbot.mouseClick(w.play_btn, Qt.LeftButton)
    qtbot.waitUntil(lambda: {"made-2d", "realnvp"} <= set(w.scoreboard.scores), timeout=60_000)
    w.scoreboard.refresh()
    rows = {w.scoreboard.table.item(r, 0).text(): [w.scoreboard.table.item(r, c).text() for c in range(len(BOARD))]
            for r in range(w.scoreboard.table.rowCount())}
    for name in ("made-2d", "realnvp"):
        s = w.scoreboard.scores[name]
        assert rows[name][4] == f"{s.nll:.3f}" and rows[name][5].startswith("exact")
        assert rows[name][6] == f"{s.nll - 1.131:+.3f}" and rows[name][8] == "—"  # moons: no modes defined
    w.pause_all()


def test_view_menu_opens_the_arena(qtbot, window):
    file_menu.action(window, "Arena…").trigger()
    arena = window.arena
    try:
        assert arena.isVisible() and list(arena.columns) == ["made-2d", "vae", "realnvp", "gan_preset", "ebm"]
        assert {c.controller.dataset.name for c in arena.columns.values()} == {"8gaussians"}
        arena.close()
        file_menu.action(window, "Arena…").trigger()  # closed (its workers gone): a new one opens
        assert window.arena is not arena and window.arena.isVisible() and window.arena.scoreboard.scorer.thread.isRunning()
    finally:
        arena.close()
        window.arena.close()


@pytest.fixture
def arena_folder(tmp_path):
    """What `genviz arena --out` leaves: two run folders, arena.json and scoreboard.csv (tiny models)."""
    import json

    from genviz.core import arena, checkpoint, data
    from genviz.core.train import train

    ds = data.load("moons", n=2000, seed=0)
    rows = []
    for name in ("made-2d", "realnvp"):
        res = train(name, ds, TINY[name], {"steps": 30, "batch_size": 64, "snapshot_every": 10},
                    tmp_path / name, progress=False)
        model = checkpoint.load(tmp_path / name / "checkpoint.pt")
        rows.append(arena.score(name, model, ds, step=res.step, wall_s=3.0, n_mmd=100, permutations=20))
    arena.write_csv(rows, tmp_path / "scoreboard.csv")
    (tmp_path / "arena.json").write_text(json.dumps({"dataset": "moons", "models": ["made-2d", "realnvp"]}))
    return tmp_path, rows


def test_an_arena_folder_opens_at_its_runs_steps_with_its_scoreboard(qtbot, arena_folder):
    folder, rows = arena_folder
    w = ArenaWindow(models=())
    qtbot.addWidget(w)
    try:
        w.open_folder(folder)
        w.redraw(all_columns=True)
        assert list(w.columns) == ["made-2d", "realnvp"] and w.dataset_box.currentText() == "moons"
        for name, col in w.columns.items():
            assert col.step == 30 and col.series["loss"].n == 30 and len(col.arrays["samples"])
        table = w.scoreboard.table
        assert table.item(0, 4).text() == f"{rows[0].nll:.3f}" and table.item(1, 3).text() == "3.0"
        assert table.item(1, 2).text() == "10"  # the rate its arena measured: 30 steps in 3 s
        qtbot.mouseClick(w.columns["realnvp"].pause_btn, Qt.LeftButton)  # Play continues the stored run
        qtbot.waitUntil(lambda: w.columns["realnvp"].step > 30, timeout=30_000)
        assert w.columns["realnvp"].series["loss"].data()[0][30] == 31  # its history, then on from step 31
    finally:
        w.close()


def test_genviz_arena_folder_opens_the_window(qtbot, arena_folder, monkeypatch):
    from PySide6.QtWidgets import QApplication

    from genviz import cli

    monkeypatch.setattr(QApplication, "exec", lambda self: 0)  # return at once instead of running the app
    assert cli.main(["arena", str(arena_folder[0])]) == 0
    (w,) = [t for t in QApplication.topLevelWidgets() if isinstance(t, ArenaWindow) and t.isVisible()]
    try:
        assert list(w.columns) == ["made-2d", "realnvp"] and all(c.step == 30 for c in w.columns.values())
    finally:
        w.close()


def test_loaded_points_become_every_models_data(qtbot, tmp_path, monkeypatch):
    import numpy as np
    from PySide6.QtWidgets import QFileDialog

    pts = np.random.default_rng(0).normal(size=(300, 2)).astype(np.float32)
    np.savetxt(tmp_path / "p.csv", pts, delimiter=",", header="x,y", comments="")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(tmp_path / "p.csv"), ""))
    w = ArenaWindow(models=("made-2d", "realnvp"), model_config=TINY)
    qtbot.addWidget(w)
    try:
        qtbot.mouseClick(w.load_btn, Qt.LeftButton)
        assert w.dataset_box.currentText() == "custom" and list(w.columns) == ["made-2d", "realnvp"]
        for col in w.columns.values():
            ds = col.controller.dataset
            assert ds.name == "custom" and len(ds.train) + len(ds.val) + len(ds.test) == 300
        assert "not known" in w.scoreboard.entropy_label.text()
    finally:
        w.close()


def test_the_shared_step_axis_spans_the_longest_run_until_the_user_zooms(qtbot, arena_window):
    w = arena_window
    made, nvp = w.columns["made-2d"], w.columns["realnvp"]
    made.add_history({"step": list(range(1, 2001)), "loss": [3.0] * 2000})  # the first column: the shorter run
    nvp.add_history({"step": list(range(1, 20001)), "loss": [3.0] * 20000})
    w.redraw(all_columns=True)
    for col in (made, nvp):  # linked: both show the whole 20,000 steps, not the first column's 2,000
        lo, hi = col.loss_plot.getViewBox().viewRange()[0]
        assert lo <= 1 and hi >= 20000
    made.loss_plot.getViewBox().sigRangeChangedManually.emit([True, False])  # the user zooms: the range is theirs
    made.loss_plot.setXRange(0, 500, padding=0)
    nvp.add_history({"step": [20001, 30000], "loss": [3.0, 3.0]})
    w.redraw(all_columns=True)
    assert nvp.loss_plot.getViewBox().viewRange()[0][1] < 1000


class _StubColumn:
    """What ArenaWindow.redraw reads of a column; `redraw` records that it drew."""

    def __init__(self, name, log):
        import pyqtgraph as pg

        self.name, self.log, self.dirty = name, log, True
        self.loss_plot, self.series, self.latest, self.step, self.wall_s = pg.PlotItem(), {}, None, 0, 0.0

    def playing(self):
        return False

    def redraw(self):
        if self.dirty:
            self.log.append(self.name)
        self.dirty = False


def test_redraw_draws_every_changed_column_round_robin(qtbot):
    w = ArenaWindow(models=())
    qtbot.addWidget(w)
    try:
        w.timer.stop()
        log = []
        for n in "abcde":
            w.columns[n] = _StubColumn(n, log)
        w.redraw(all_columns=True)
        assert sorted(log) == list("abcde")  # all of them, none skipped
        log.clear()
        for c in w.columns.values():
            c.dirty = True
        for _ in range(3):  # two per tick, taking turns: five columns in three ticks
            w.redraw()
        assert log == list("abcde")
    finally:
        w.columns.clear()
        w.close()


def test_the_arena_wears_the_apps_dark_theme(arena_window):
    """A window of its own, it got none of the main window's stylesheet: a white model list and scoreboard
    beside dark plots, and Fusion's near-black unchecked boxes."""
    from PySide6.QtWidgets import QListWidget

    models = arena_window.findChild(QListWidget)
    img = models.grab().toImage()
    corner = img.pixelColor(img.width() // 2, img.height() - 3)  # below the last model: the list's background
    assert corner.lightnessF() < 0.25, corner.name()
    table = arena_window.board_area.grab().toImage()
    assert table.pixelColor(table.width() - 3, table.height() - 3).lightnessF() < 0.25
