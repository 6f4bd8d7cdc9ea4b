"""Journeys across models through the real UI: the pickers, the Play / Pause / Reset buttons, the menus' QActions
(file dialogs patched to temporary paths). What is checked is what a user sees: curves, titles, numbers, the
panel's share of the window, and that no exception escapes."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QFileDialog, QMessageBox

from genviz.core import registry
from genviz.gui.file_menu import EXPORTS, action

# Small enough that every model trains and snapshots in well under a second per snapshot on one core.
TINY = {
    "realnvp": {"n_layers": 2, "hidden": 16, "depth": 1}, "planar": {"n_layers": 2},
    "nice": {"n_layers": 2, "hidden": 16, "depth": 1}, "maf": {"n_blocks": 2, "hidden": 16},
    "iaf": {"n_blocks": 2, "hidden": 16}, "distill": {"teacher_steps": 4, "n_blocks": 2, "hidden": 16},
    "made": {"hidden": 32}, "nade": {"hidden": 16}, "made-2d": {"bins": 16, "hidden": 16, "depth": 1}, "mog": {"k": 3},
    "vae": {"hidden": 32, "z_dim": 2}, "gmvae": {"hidden": 32, "z_dim": 2, "k": 3},
    "iwae": {"hidden": 32, "z_dim": 2, "m_train": 2}, "ssvae": {"hidden": 32, "z_dim": 4},
    "gan": {"hidden": 16, "depth": 1}, "gan_preset": {"hidden": 16, "depth": 1}, "dcgan": {"hidden": 8},
    "fgan": {"hidden": 16, "depth": 1}, "bigan": {"hidden": 16, "depth": 1}, "cyclegan": {"hidden": 16, "depth": 1},
    "ebm": {"hidden": 16, "depth": 1, "langevin_steps": 3, "buffer_size": 256, "grid_res": 32},
    "ebm-mnist": {"channels": 4, "langevin_steps": 2, "buffer_size": 128},
}
EVERY = 2


def click(button) -> None:
    QTest.mouseClick(button, Qt.LeftButton)


def type_value(spin, text: str) -> None:
    """Type into a spin box as a user does, then Enter."""
    spin.setFocus()
    spin.lineEdit().selectAll()
    QTest.keyClicks(spin.lineEdit(), text)
    QTest.keyClick(spin.lineEdit(), Qt.Key_Return)


def choose(window, model: str) -> None:
    """Family combo, then model combo, as a user picks them."""
    picker = window.picker
    picker.family.setCurrentText(registry.get(model).family)
    picker.model.setCurrentIndex(picker.model.findData(model))
    assert picker.current_model() == model


def make_tiny(window, model: str) -> None:
    window.model_form.set_values(TINY.get(model, {}))
    window.train_form.set_values({"batch_size": 32, "steps": 10_000})
    type_value(window.run.snapshot_every, str(EVERY))
    click(window.run.reset_btn)
    assert window.last_error is None, window.status.message.text()


def panel_share(window) -> float:
    return window.central.height() / (window.central.height() + window.loss_dock.height())


@pytest.fixture
def shown(qtbot):
    from genviz.gui.main_window import MainWindow

    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(1400, 900)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.controller.stop(timeout_s=5.0)


def unreadable(window) -> list[str]:
    """What a user cannot read in the views on screen: a legend over a plot's data area, a title wider than
    its plot (cut off at the window's edge or running into its neighbour), a plot's title not shown."""
    out = []
    for view in window.findChildren(pg.GraphicsView):
        if not view.isVisible():
            continue
        items = [i for i in view.scene().items() if i.isVisible()]
        boxes = [i.sceneBoundingRect() for i in items if isinstance(i, pg.ViewBox)]
        for legend in (i for i in items if isinstance(i, pg.LegendItem) and i.items):
            r = legend.sceneBoundingRect()
            hit = [b.intersected(r) for b in boxes]
            if any(h.width() * h.height() > 4 for h in hit):
                out.append(f"legend {[label.text for _, label in legend.items]} over a plot")
        for plot in (i for i in items if isinstance(i, pg.PlotItem)):
            if plot.titleLabel.itemRect().width() > plot.width() + 1:
                out.append(f"title {plot.titleLabel.text!r} wider than its plot")
            if plot.titleLabel.text.strip() and not plot.titleLabel.isVisible():
                out.append(f"title {plot.titleLabel.text!r} missing")
    return out


def assert_nothing_stale(qtbot, window) -> None:
    qtbot.wait(150)  # anything the old run still had queued would arrive now
    window.flush()
    assert window.latest is None, "a snapshot of the previous run was drawn after Reset"
    assert not window.loss.series and not window.loss.metric_items
    assert window.status.fields["step"].text().startswith("step 0/")


def test_tour_of_every_model_select_play_reset(qtbot, shown):
    w = shown
    for model in registry.names():
        choose(w, model)
        make_tiny(w, model)
        panel = w.panel
        click(w.run.play_btn)
        qtbot.waitUntil(lambda: w.latest is not None and w.latest.step >= 2 * EVERY, timeout=60_000)
        w.flush()
        seen = set(w.latest.losses)
        assert seen and set(w.loss.series) <= seen | set(w.loss.aliases), model
        assert set(w.loss.metric_items) <= set(w.latest.metrics), f"{model}: another run's metrics"
        qtbot.wait(10)  # the layouts settle, as they do before the user sees the frame
        assert not unreadable(w), f"{model}: {unreadable(w)}"
        click(w.run.pause_btn)
        click(w.run.reset_btn)
        assert w.panel is not panel  # a fresh panel: no title, label or image of the trained model survives
        assert_nothing_stale(qtbot, w)
        assert panel_share(w) >= 0.5, f"{model}: the panel has {panel_share(w):.0%} of the height"
        assert w.width() == 1400, f"{model} widened the window"


def test_reset_while_training_then_play_starts_a_clean_curve(qtbot, shown):
    w = shown
    make_tiny(w, "realnvp")
    click(w.run.play_btn)
    qtbot.waitUntil(lambda: w.latest is not None and w.latest.step >= 20, timeout=30_000)
    click(w.run.reset_btn)  # while training
    assert_nothing_stale(qtbot, w)
    click(w.run.play_btn)
    qtbot.waitUntil(lambda: w.latest is not None and w.latest.step >= 6, timeout=30_000)
    click(w.run.pause_btn)
    qtbot.waitUntil(lambda: w.latest.status == "paused", timeout=10_000)
    w.flush()
    steps, _ = w.loss.series["loss"].data()
    assert np.all(np.diff(steps) > 0) and steps[0] == 1  # one run's curve, never joined back to step 0


def train_to_the_end(qtbot, w, model: str, steps: int) -> None:
    """Pick a tiny `model`, set its steps, press Play and wait until the run has finished and been drawn."""
    choose(w, model)
    make_tiny(w, model)
    type_value(w.train_form.widgets["steps"], str(steps))
    click(w.run.play_btn)
    qtbot.waitUntil(lambda: not w.controller.running() and w.controller.step == steps, timeout=30_000)
    w.flush()


def test_every_export_item_writes_its_file(qtbot, shown, tmp_path, monkeypatch):
    w = shown
    train_to_the_end(qtbot, w, "realnvp", 10)
    errors = []
    monkeypatch.setattr(QMessageBox, "critical", lambda *a: errors.append(a[2]))
    for label, kind in EXPORTS:
        target = tmp_path / kind
        monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, t=target: str(t))
        monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, t=target: (str(t) + ".out", ""))
        action(w, label).trigger()
        assert not errors, errors
        suffix = ".out" + (f".{kind}" if kind in ("csv", "npz") else "")  # samples get their format's suffix
        written = list(target.iterdir()) if target.is_dir() else [target.with_suffix(suffix)]
        assert written and all(p.stat().st_size > 0 for p in written), label
        assert "wrote" in w.status.message.text()


def test_an_ebm_exports_its_langevin_samples_as_csv(qtbot, shown, tmp_path, monkeypatch):
    w = shown
    train_to_the_end(qtbot, w, "ebm", 4)
    errors = []
    monkeypatch.setattr(QMessageBox, "critical", lambda *a: errors.append(a[2]))
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a: (str(tmp_path / "neg.csv"), ""))
    action(w, "Samples as CSV…").trigger()
    assert not errors, errors
    rows = np.loadtxt(tmp_path / "neg.csv", delimiter=",", skiprows=1)
    assert rows.ndim == 2 and rows.shape[1] == 2 and len(rows) > 10 and np.all(np.isfinite(rows))
    assert "wrote" in w.status.message.text()


def test_open_run_folder_from_the_menu_shows_the_model_at_once(qtbot, shown, tiny_run, monkeypatch):
    folder = tiny_run
    w = shown
    choose(w, "gan")  # another family first: nothing of it may stay
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a: str(folder))
    action(w, "Open run folder…").trigger()
    assert w.picker.current_model() == "realnvp" and w.model_form.values()["hidden"] == 8
    img = w.panel.image.image
    assert img is not None and img.max() > 0  # the model's density, before any training here
    assert w.panel.sample_scatter.data.shape[0] > 0
    assert w.status.fields["step"].text() == "step 12/12"  # the run's plan, finished
    qtbot.wait(50)
    assert panel_share(w) >= 0.5


def test_an_opened_gan_run_keeps_its_panels_metrics_off_the_loss_axis_as_live(qtbot, shown, tmp_path, monkeypatch):
    """Live, a GAN's JSD estimates and mode counts are drawn by its panel, not on the loss axis; opening its run
    folder put them all there as 'val jsd_kde', 'val modes', ... (the follower filtered them, Open did not)."""
    from genviz.core import data, runs
    from genviz.core.session import Session

    folder = tmp_path / "gan_run"
    s = Session("gan", data.load("ring8", n=2000), TINY["gan"], {"steps": 4, "batch_size": 32, "snapshot_every": 2},
                writer=runs.RunWriter(folder, "ring8"))
    for _ in s.run():
        pass
    w = shown
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a: str(folder))
    action(w, "Open run folder…").trigger()
    assert w.picker.current_model() == "gan"
    own = w.panel.own_metrics
    on_loss = set(w.loss.metric_items)
    assert on_loss and not on_loss & own, on_loss  # d_real / d_fake stay, JSD and modes do not
    # ... and the panel draws them from the run's history at once (its JSD and coverage plots stayed empty)
    from genviz.core import run_reader

    rows = run_reader.read_metrics(folder)
    written = np.isfinite(rows["val_jsd_kde"])
    assert w.panel.series["jsd_kde"].y == pytest.approx(rows["val_jsd_kde"][written].tolist())
    assert len(w.panel.series["modes_frac"].y) == written.sum()
    assert w.status.fields["loss"].text() == f"loss {rows['loss_d'][-1]:.4g}"  # as live: the first term's last


def test_a_damaged_metrics_row_costs_that_row_not_the_loss_curve(qtbot, shown, tiny_run, monkeypatch):
    """A writer killed mid-line and then resumed leaves a broken row inside metrics.csv: opening the run shows
    every other step of its loss curve (it used to show none)."""
    folder = tiny_run
    path = folder / "metrics.csv"
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    lines[5] = lines[5][: len(lines[5]) // 2] + "x"  # step 5's row, cut and damaged
    path.write_text("\r\n".join(lines) + "\r\n")
    w = shown
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a: str(folder))
    action(w, "Open run folder…").trigger()
    steps, values = w.loss.history()["loss"]
    assert steps.tolist() == [s for s in range(1, 13) if s != 5]
    kept = [line.split(",") for i, line in enumerate(lines[1:], 1) if i != 5]
    assert np.allclose(values, [float(r[header.index("loss")]) for r in kept])


def test_a_run_folder_another_process_writes_opens_to_look_but_takes_no_export(qtbot, shown, tiny_run, monkeypatch):
    import os

    from genviz.core import runs

    folder = tiny_run
    w = shown
    errors = []
    monkeypatch.setattr(QMessageBox, "critical", lambda *a: errors.append(a[2]))
    writer = runs.RunLock(folder)  # what `genviz train --resume` holds while it writes there
    writer.acquire()
    try:
        monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a: str(folder))
        action(w, "Open run folder…").trigger()  # looking is reading: it works while the run is written
        assert w.status.fields["step"].text().startswith("step 12/") and not errors
        before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file() and p.name != runs.OWNER_NAME}
        monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a: (str(folder / "checkpoint.pt"), ""))
        for label in ("Checkpoint…", "Plots as PNG…"):
            action(w, label).trigger()
            said = w.status.message.text()
            assert "refused" in said and f"process {os.getpid()}" in said, said
            assert w.status.message.property("error") and not errors
        after = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file() and p.name != runs.OWNER_NAME}
        assert after == before  # nothing written into a folder that has another writer
    finally:
        writer.release()
    action(w, "Checkpoint…").trigger()  # that run has ended: the folder takes the checkpoint
    assert "wrote checkpoint.pt" in w.status.message.text() and not errors


def test_csv_points_are_checked_before_anything_changes(qtbot, shown, tmp_path, monkeypatch):
    w = shown
    shown_errors = []
    monkeypatch.setattr(QMessageBox, "critical", lambda *a: shown_errors.append(a[2]))
    wide, few = tmp_path / "wide.csv", tmp_path / "few.csv"
    wide.write_text("".join(f"{i},{-i},{i * i}\n" for i in range(200)))
    few.write_text("".join(f"{i},{-i}\n" for i in range(20)))
    for path, words in ((wide, "3 columns"), (few, "batch size")):
        monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, p=path: (str(p), ""))
        action(w, "Load points from CSV…").trigger()
        assert shown_errors and words in shown_errors[-1]
        assert w.picker.current_dataset() == "moons" and w.controller.dataset.name == "moons"


def test_live_edits_apply_when_finished_and_are_confirmed(qtbot, shown):
    w = shown
    make_tiny(w, "realnvp")
    click(w.run.play_btn)
    qtbot.waitUntil(lambda: w.latest is not None and w.latest.step >= 4, timeout=30_000)
    type_value(w.train_form.widgets["steps"], "30000")
    assert w.controller.train.steps == 30_000 and w.controller.running()
    assert "steps = 30,000" in w.status.message.text()
    type_value(w.train_form.widgets["lr"], "0.0005")
    assert "lr = 0.0005" in w.status.message.text() and not w.status.message.property("error")
    session = w.controller.worker.session
    qtbot.waitUntil(lambda: session.optimizers[0].param_groups[0]["lr"] == 5e-4, timeout=10_000)
    click(w.run.pause_btn)


@pytest.mark.parametrize("size", [(1280, 720), (1920, 1080)])
def test_layout_holds_after_switches_and_resizes(qtbot, shown, size):
    w = shown
    w.resize(*size)
    for model in ("maf", "ebm", "gan", "made-2d", "planar"):
        choose(w, model)
        qtbot.wait(30)
        assert (w.width(), w.height()) == size, f"{model} resized the window"
        assert panel_share(w) >= 0.5, f"{model}: the panel has {panel_share(w):.0%} of the height"
        scroll = w.setup_scroll
        assert scroll.viewport().width() >= scroll.widget().minimumSizeHint().width(), "the Setup dock clips"
    w.resize(size[0], size[1] - 100)
    qtbot.wait(30)
    assert panel_share(w) >= 0.5


def click_tab(tabs, text: str) -> None:
    bar = tabs.tabBar()
    index = next(i for i in range(tabs.count()) if tabs.tabText(i) == text)
    QTest.mouseClick(bar, Qt.LeftButton, pos=bar.tabRect(index).center())
    assert tabs.currentIndex() == index


def visible_tabs(window) -> list[str]:
    tabs = window.panel.tabs
    return [tabs.tabText(i) for i in range(tabs.count()) if tabs.isTabVisible(i)]


def test_reset_keeps_the_tab_the_user_chose_even_one_that_comes_with_snapshots(qtbot, shown):
    """The VAE's posterior and β · collapse tabs appear with its first snapshot. Reset of the same model and
    config keeps them and the one the user was on; a changed config starts from what every run shows."""
    w = shown
    choose(w, "vae")
    make_tiny(w, "vae")
    assert "β · collapse" not in visible_tabs(w)  # nothing trained yet: the model has not said what it has
    click(w.run.play_btn)
    qtbot.waitUntil(lambda: "β · collapse" in visible_tabs(w), timeout=30_000)
    click(w.run.pause_btn)
    click_tab(w.panel.tabs, "β · collapse")
    before = visible_tabs(w)
    assert "posterior" in before
    click(w.run.reset_btn)
    assert_nothing_stale(qtbot, w)
    assert visible_tabs(w) == before
    assert w.panel.tabs.tabText(w.panel.tabs.currentIndex()) == "β · collapse"
    click(w.run.play_btn)  # the first snapshot agrees with what Reset kept
    qtbot.waitUntil(lambda: w.latest is not None and w.latest.step >= 2 * EVERY, timeout=30_000)
    click(w.run.pause_btn)
    w.flush()
    assert visible_tabs(w) == before and w.panel.tabs.tabText(w.panel.tabs.currentIndex()) == "β · collapse"
    w.model_form.set_values({"z_dim": 3})  # no 2D latent: no posterior tab for this config
    click(w.run.reset_btn)
    assert "posterior" not in visible_tabs(w)


def test_a_gan_picked_on_digits_gets_its_image_recipe_and_keeps_what_the_user_typed(qtbot, shown):
    """SSVAE brings MNIST; a GAN picked next keeps MNIST and shows its digit recipe (batch 64, 3,000 steps,
    a snapshot every 100 steps), not its 2D one (batch 256: a DCGAN step ~4x longer). Points bring the 2D
    recipe back, and a batch size the user typed survives both switches."""
    w = shown
    choose(w, "ssvae")
    choose(w, "gan")
    assert w.picker.current_dataset() == "mnist"
    form = w.train_form
    assert (form.value("batch_size"), form.value("steps"), w.run.snapshot_every.value()) == (64, 3000, 100)
    w.picker.dataset.setCurrentText("ring8")
    assert (form.value("batch_size"), form.value("steps"), w.run.snapshot_every.value()) == (256, 10000, 50)
    type_value(form.widgets["batch_size"], "128")
    w.picker.dataset.setCurrentText("mnist")
    assert (form.value("batch_size"), form.value("steps")) == (128, 3000)
    assert w.last_error is None and w.controller.train.batch_size == 128  # the prepared run trains with it


def test_an_image_gan_exports_the_views_it_shows_and_its_samples(qtbot, shown, tmp_path, monkeypatch):
    """A GAN on MNIST shows one tab, its images: Plots as PNG writes that view and the loss plot, not the empty
    2D game and translation views; Samples as CSV writes the fresh samples one row of 784 pixels each, and a
    name typed without a suffix gets the format's."""
    w = shown
    choose(w, "ssvae")  # brings MNIST, which the GAN keeps
    train_to_the_end(qtbot, w, "gan", 6)
    assert w.picker.current_dataset() == "mnist"
    errors = []
    monkeypatch.setattr(QMessageBox, "critical", lambda *a: errors.append(a[2]))
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a: str(tmp_path / "plots"))
    action(w, "Plots as PNG…").trigger()
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == ["images.png", "loss.png"]
    for label, name in (("Samples as CSV…", "digits"), ("Samples as NPZ…", "all")):
        monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, n=name: (str(tmp_path / n), ""))
        action(w, label).trigger()
    assert not errors, errors
    rows = np.loadtxt(tmp_path / "digits.csv", delimiter=",", skiprows=1)
    assert rows.shape == (64, 784) and 0 <= rows.min() and rows.max() <= 1 and rows.std() > 0
    with np.load(tmp_path / "all.npz") as z:
        assert np.allclose(z["samples"].reshape(64, 784), rows, atol=1e-5) and "fresh_grid" in z


def test_view_menu_hides_and_brings_back_the_docks_and_a_restart_remembers(qtbot, shown):
    """View → Loss and View → Setup were listed greyed out: the docks could not be hidden to give the plots
    the room. Now they hide and come back, and the next start shows what the user left."""
    from genviz.gui.main_window import MainWindow

    w = shown
    loss, setup = action(w, "Loss"), action(w, "Setup")
    assert loss.isEnabled() and setup.isEnabled() and loss.isChecked() and setup.isChecked()
    height = w.central.height()
    loss.trigger()
    qtbot.waitUntil(lambda: not w.loss_dock.isVisible())
    qtbot.waitUntil(lambda: w.central.height() > height)  # the panel takes the room
    loss.trigger()
    qtbot.waitUntil(lambda: w.loss_dock.isVisible())
    setup.trigger()
    qtbot.waitUntil(lambda: not w.setup_dock.isVisible())
    w.close()
    again = MainWindow()
    qtbot.addWidget(again)
    again.show()
    qtbot.waitExposed(again)
    assert not again.setup_dock.isVisible() and again.loss_dock.isVisible()
    assert not action(again, "Setup").isChecked()
    action(again, "Setup").trigger()
    qtbot.waitUntil(lambda: again.setup_dock.isVisible())
    click(again.run.play_btn)  # the brought-back controls work
    qtbot.waitUntil(lambda: again.latest is not None and again.latest.step > 0, timeout=30_000)
    again.controller.stop(timeout_s=5.0)


def test_distillation_legend_stops_calling_the_loss_the_teachers_nll_after_the_switch(qtbot, shown):
    """While the teacher trains, the loss is its NLL and the plot draws them as one curve, "loss = teacher_nll";
    once the student trains the loss is its KL, and the legend must not keep saying otherwise: the teacher's
    NLL gets its own curve."""
    w = shown
    train_to_the_end(qtbot, w, "distill", 12)  # TINY: 4 teacher steps, then the student's KL
    labels = [label.text for _, label in w.loss.legend.items]
    assert "loss = teacher_nll" not in labels and {"loss", "teacher_nll", "val kl"} <= set(labels), labels
    # the student's held-out KL only once it trains: before, an untrained student's KL (10³-10⁶) drew the
    # teacher's NLL as a flat line at 0
    kl_steps, kl = w.loss.metric_series["kl"].data()
    assert kl_steps.min() >= 4 and np.all(np.isfinite(kl)) and "kl" not in w.loss.series
    assert "speedup" not in w.loss.metric_items  # a ratio of speeds has its own tab, not the loss axis
    steps, nll = w.loss.series["teacher_nll"].data()
    _, loss = w.loss.series["loss"].data()
    assert np.array_equal(nll[:4], loss[:4]) and not np.array_equal(nll[4:], loss[4:])


def test_help_menu_says_the_shortcuts_and_what_a_bug_report_needs(qtbot, shown, monkeypatch):
    import torch

    from genviz import __version__

    w = shown
    said = []
    monkeypatch.setattr(QMessageBox, "information", lambda parent, title, text: said.append((title, text)))
    monkeypatch.setattr(QMessageBox, "about", lambda parent, title, text: said.append((title, text)))
    action(w, "Keyboard shortcuts…").trigger()
    action(w, "About genviz…").trigger()
    (t1, shortcuts), (t2, about) = said
    assert "Space" in shortcuts and "Play / Pause" in shortcuts and "Ctrl+Shift+O" in shortcuts
    # every shortcut listed is the one its action has
    for act in ("Open checkpoint…", "Open run folder…", "Quit", "Keyboard shortcuts…"):
        key = action(w, act).shortcut().toString()
        assert key and f"<b>{key}</b>" in shortcuts, (act, key)
    assert f"genviz {__version__}" in about and f"torch {torch.__version__}" in about
    assert w.settings.fileName() in about and "data:" in about
