"""Driving training from the real window: play, pause, step, reset, continue, close mid-training."""
from __future__ import annotations

import time

import numpy as np
import pytest
from conftest import wait_step


def test_window_builds_with_realnvp_on_moons_ready_not_playing(window):
    assert window.picker.current_model() == "realnvp"
    assert window.picker.current_dataset() == "moons"
    assert window.controller.model is not None and not window.controller.running()
    assert window.run.play_btn.isEnabled() and not window.run.pause_btn.isEnabled()
    # only datasets whose kind the model trains on are offered (RealNVP: 2D)
    items = [window.picker.dataset.itemText(i) for i in range(window.picker.dataset.count())]
    assert "moons" in items and "custom" in items and "mnist" not in items


def test_play_feeds_loss_plot_and_density_panel_without_dropping_values(qtbot, window):
    window.play()
    wait_step(qtbot, window, 20)
    window.pause()
    qtbot.waitUntil(lambda: window.latest.status == "paused", timeout=10_000)
    window.flush()
    steps, values = window.loss.series["loss"].data()
    # every step's loss arrives, even when several snapshots were merged into one redraw
    assert np.array_equal(steps, np.arange(1, window.latest.step + 1))
    assert np.all(np.isfinite(values))
    img = window.panel.image.image
    assert img is not None and img.shape == (96, 96) and np.all(img >= 0)
    assert window.panel.sample_scatter.data.shape[0] == 1000
    assert window.panel.data_scatter.data.shape[0] > 0  # training points overlaid


def test_step_advances_exactly_one_step_then_stays_paused(qtbot, window):
    window.step_once()
    qtbot.waitUntil(lambda: window.latest is not None and window.latest.step == 1, timeout=20_000)
    qtbot.wait(300)
    window.flush()
    assert window.latest.step == 1 and window.latest.status == "paused"
    window.step_once()
    qtbot.waitUntil(lambda: window.latest.step == 2, timeout=10_000)
    qtbot.wait(300)
    window.flush()
    assert window.latest.step == 2


def test_pause_stops_stepping_and_step_from_pause_adds_one(qtbot, window):
    window.play()
    wait_step(qtbot, window, 10)
    window.pause()
    qtbot.waitUntil(lambda: window.latest.status == "paused", timeout=10_000)
    paused_at = window.latest.step
    qtbot.wait(300)
    window.flush()
    assert window.latest.step == paused_at
    window.step_once()
    qtbot.waitUntil(lambda: window.latest.step == paused_at + 1, timeout=10_000)


def test_reset_builds_a_fresh_model_and_clears_history(qtbot, window):
    before = {k: v.clone() for k, v in window.controller.model.state_dict().items()}
    window.play()
    wait_step(qtbot, window, 10)
    window.reset()
    assert window.controller.step == 0 and not window.controller.running()
    assert window.latest is None and not window.loss.series
    after = window.controller.model.state_dict()
    # same seed: the fresh model equals the first fresh model, not the trained one
    assert all(np.allclose(before[k].numpy(), after[k].cpu().numpy()) for k in before)


def test_finished_session_continues_from_its_state_on_play(qtbot, window):
    window.train_form.set_values({"steps": 15})
    window.play()
    qtbot.waitUntil(lambda: not window.controller.running() and window.controller.step == 15, timeout=30_000)
    window.play()  # budget spent: 15 more steps on the same model and optimizer
    qtbot.waitUntil(lambda: not window.controller.running() and window.controller.step == 30, timeout=30_000)
    window.flush()
    steps, _ = window.loss.series["loss"].data()
    assert np.array_equal(steps, np.arange(1, 31))


def test_invalid_value_is_refused_naming_the_field(qtbot, window):
    window.train_form.widgets["lr"].setValue(0.0)
    window.play()
    assert not window.controller.running()
    assert "lr" in window.status.message.text() and "> 0" in window.status.message.text()
    assert window.train_form.widgets["lr"].property("invalid") is True


def test_batch_larger_than_data_is_refused(qtbot, window):
    window.train_form.widgets["batch_size"].setValue(60_000)
    window.reset()
    assert "batch_size" in window.status.message.text()


def test_close_mid_training_stops_the_worker_within_a_second(qtbot, window):
    window.run.speed.setValue(5)  # slow motion: the worker is inside a sleep when we close
    window.play()
    wait_step(qtbot, window, 5)
    worker = window.controller.worker
    t0 = time.perf_counter()
    window.close()
    assert time.perf_counter() - t0 < 1.0
    assert not worker.is_running()


def test_choices_persist_across_restarts(qtbot, window):
    from genviz.gui.main_window import MainWindow

    window.model_form.set_values({"hidden": 24})
    window.train_form.set_values({"lr": 3e-3})
    window.picker.dataset.setCurrentText("8gaussians")
    window.close()
    again = MainWindow()
    qtbot.addWidget(again)
    assert again.picker.current_dataset() == "8gaussians"
    assert again.model_form.values()["hidden"] == 24
    assert abs(again.train_form.values()["lr"] - 3e-3) < 1e-12


def test_lr_change_reaches_the_running_optimizer(qtbot, window):
    window.play()
    wait_step(qtbot, window, 5)
    window.train_form.widgets["lr"].setValue(5e-4)
    session = window.controller.worker.session
    qtbot.waitUntil(lambda: session.optimizers[0].param_groups[0]["lr"] == 5e-4, timeout=10_000)
    assert session.train.lr == 5e-4
    window.pause()


def test_an_l1_pull_typed_while_training_reaches_the_running_optimizer(qtbot, window):
    window.play()
    wait_step(qtbot, window, 5)
    window.train_form.widgets["l1"].setValue(1e-4)
    session = window.controller.worker.session
    qtbot.waitUntil(lambda: session.optimizers[0].param_groups[0].get("l1") == 1e-4, timeout=10_000)
    assert session.train.l1 == 1e-4 and "l1 = 0.0001 — applies to the running session" in window.status.message.text()
    window.pause()


def test_the_loss_view_fits_the_curve_when_the_run_ends(qtbot, window):
    """While training the view keeps room for the curve to grow (test_follow); a finished run fills it."""
    window.train_form.set_values({"steps": 300})
    assert window.reset()
    window.play()
    vb = window.loss.item.getViewBox()
    qtbot.waitUntil(lambda: window.latest is not None and window.latest.status == "done", timeout=30_000)
    qtbot.waitUntil(lambda: window.run.play_btn.isEnabled(), timeout=10_000)
    x0, x1 = vb.viewRange()[0]
    assert x0 <= 1 and 300 <= x1 <= 1.1 * 300  # the finished run fills the plot


def test_space_toggles_play_and_pause(qtbot, window):
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QKeySequence

    # offscreen windows never become active, so the key itself cannot be delivered; check the binding
    assert window.space_shortcut.key() == QKeySequence(Qt.Key_Space)
    window.space_shortcut.activated.emit()
    assert window.controller.running() and window.run.pause_btn.isEnabled()
    window.space_shortcut.activated.emit()
    qtbot.waitUntil(lambda: window.latest is not None and window.latest.status == "paused", timeout=20_000)
    assert window.run.play_btn.isEnabled()


@pytest.mark.parametrize("status", ["error", "diverged"])
def test_a_nan_stop_is_shown_as_an_error_in_the_status_bar(qtbot, window, status):
    from genviz.core.session import Snapshot

    msg = "training stopped: the loss became NaN/inf by step 7. The model was restored to step 5"
    window.controller.snapshot_ready.emit(Snapshot(7, 100, np.arange(6, 8), {"loss": np.array([1.0, np.nan])},
                                                   {}, {}, status, msg))
    window.flush()
    assert window.status.message.text() == msg and window.status.message.property("error") is True
    assert np.array_equal(window.loss.series["loss"].data()[0], [6])  # the NaN is not plotted


def test_the_status_bar_counts_steps_between_snapshots(qtbot, window):
    """A model that snapshots rarely (a GAN on MNIST: ~20 s apart) still shows its step, rate and ETA moving
    while the plots wait; Pause then brings the snapshot, and the numbers never go back."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    window.run.snapshot_every.setValue(100_000)  # no snapshot after the first until Pause
    QTest.mouseClick(window.run.play_btn, Qt.LeftButton)
    step_of = lambda: int(window.status.fields["step"].text().split()[1].split("/")[0].replace(",", ""))  # noqa: E731
    qtbot.waitUntil(lambda: step_of() >= 30, timeout=30_000)
    assert window.latest is not None and window.latest.step == 0  # only the first snapshot has been drawn
    window.flush()
    assert window.loss.metric_series and not window.loss.hint.isVisible()  # its held-out point replaced the hint
    assert "steps/s" in window.status.fields["rate"].text() and "–" not in window.status.fields["rate"].text()
    assert window.status.fields["loss"].text() != "loss –" and window.status.fields["eta"].text() != "ETA –"
    QTest.mouseClick(window.run.pause_btn, Qt.LeftButton)
    qtbot.waitUntil(lambda: window.latest.step > 0 and window.latest.status == "paused", timeout=10_000)
    window.flush()
    assert step_of() == window.latest.step >= 30


def test_the_loss_stays_in_the_status_bar_after_pause_and_at_the_end(qtbot, window):
    """Pause right after a snapshot was drawn sends one without a new step: the status bar then said 'loss –'
    at a trained model. It keeps showing the last loss the run reported, until Reset."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    from genviz.core.session import Snapshot

    QTest.mouseClick(window.run.play_btn, Qt.LeftButton)
    wait_step(qtbot, window, 10)
    QTest.mouseClick(window.run.pause_btn, Qt.LeftButton)
    qtbot.waitUntil(lambda: window.latest.status == "paused", timeout=10_000)
    window.flush()
    last = window.loss.series["loss"].data()[1][-1]
    shown = f"loss {last:.4g}"
    assert window.status.fields["loss"].text() == shown
    # what the worker sends when Pause lands just after a snapshot was drawn: no step since (seen at step 1,150)
    s = window.latest
    window.controller.snapshot_ready.emit(Snapshot(s.step, s.total_steps, np.zeros(0, np.int64), {}, {}, {},
                                                   "paused"))
    window.flush()
    assert window.status.fields["loss"].text() == shown
    steps = window.train_form.widgets["steps"]  # typed while paused: the run ends 10 steps on
    steps.setFocus()
    steps.lineEdit().selectAll()
    QTest.keyClicks(steps.lineEdit(), str(s.step + 10))
    QTest.keyClick(steps.lineEdit(), Qt.Key_Return)
    QTest.mouseClick(window.run.play_btn, Qt.LeftButton)
    qtbot.waitUntil(lambda: window.latest.status == "done", timeout=30_000)
    assert window.latest.step == s.step + 10, window.latest.step
    window.flush()
    assert window.status.fields["loss"].text() == f"loss {window.loss.series['loss'].data()[1][-1]:.4g}"
    QTest.mouseClick(window.run.reset_btn, Qt.LeftButton)  # a new run shows no loss of the old one
    assert window.status.fields["loss"].text() == "loss –"
