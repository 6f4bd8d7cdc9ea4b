"""File → Write run to folder…: the app's own run writes an ordinary run folder (config.json, metrics.csv with
the history so far, checkpoint.pt), listed by the Runs dock and continued by the real `genviz train --resume`;
a folder holding another run is refused in the CLI's words; Reset detaches; the tensorboard setting writes
<run>/tb (and a missing package is refused before anything trains)."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import pytest
import torch
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from conftest import wait_step
from genviz.gui.file_menu import action


def _rows(folder):
    with open(folder / "metrics.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], [int(r[0]) for r in rows[1:]]


def _config(folder) -> dict:
    return json.loads((folder / "config.json").read_text())


def _pick(monkeypatch, folder, seen=None):
    def ask(parent, caption, suggested, *a, **k):
        if seen is not None:
            seen.append(suggested)
        return str(folder), ""
    monkeypatch.setattr(QFileDialog, "getSaveFileName", ask)


def _pause(qtbot, w):
    qtbot.mouseClick(w.run.pause_btn, Qt.LeftButton)
    qtbot.waitUntil(lambda: not w.controller.running(), timeout=20_000)


def test_write_run_to_folder_while_training_then_resume_with_the_cli(qtbot, tmp_path, window, monkeypatch):
    w = window
    root = tmp_path / "runs"
    w.runs_dock.panel.set_root(root)
    qtbot.mouseClick(w.run.play_btn, Qt.LeftButton)
    wait_step(qtbot, w, 60)  # trained before the folder exists: this history must reach metrics.csv

    seen = []
    folder = root / "realnvp-moons-1"
    _pick(monkeypatch, folder, seen)
    action(w, "Write run to folder…").trigger()  # while training: nothing is lost, nothing trained twice
    assert seen == [str(folder)]  # the suggestion: <Runs dock root>/<model>-<dataset>-<n>
    assert w.controller.run_folder == folder and str(folder) in w.windowTitle()
    assert {"config.json", "metrics.csv", "checkpoint.pt"} <= {p.name for p in folder.iterdir()}
    assert w.controller.running()
    wait_step(qtbot, w, w.controller.step + 250)
    _pause(qtbot, w)

    step = w.controller.step
    assert f"paused at step {step:,}" in w.status.message.text()
    cfg = _config(folder)
    assert cfg["model"] == "realnvp" and cfg["dataset"] == "moons" and cfg["step"] == step
    assert torch.load(folder / "checkpoint.pt", weights_only=False)["step"] == step
    header, steps = _rows(folder)
    assert header[:2] == ["step", "loss"]
    assert steps == list(range(1, step + 1))  # the history, then every step once, in order
    assert not (folder / ".genviz.owner").exists()  # paused: the lock is let go

    w.runs_dock.panel.refresh()
    assert folder.name in w.runs_dock.panel.names()
    assert w.runs_dock.panel.infos[folder].step == step

    out = subprocess.run([sys.executable, "-m", "genviz", "train", "--resume", str(folder), "--steps",
                          str(step + 40), "-q"], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert _config(folder)["step"] == step + 40 and _config(folder)["status"] == "done"
    assert _rows(folder)[1] == list(range(1, step + 41))


def test_a_folder_holding_another_run_is_refused_and_reset_detaches(qtbot, tmp_path, window, monkeypatch):
    w = window
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "metrics.csv").write_text("step,loss\n1,2.0\n")
    _pick(monkeypatch, taken)
    action(w, "Write run to folder…").trigger()
    msg = w.status.message.text()
    assert "already holds a run" in msg and f"--resume {taken}" in msg and w.status.message.property("error")
    assert w.controller.run_folder is None and (taken / "metrics.csv").read_text() == "step,loss\n1,2.0\n"
    assert sorted(p.name for p in taken.iterdir()) == ["metrics.csv"]
    w.follower.folder = taken  # following a run: it has its own folder, never forked silently into another
    action(w, "Write run to folder…").trigger()
    assert "follows taken" in w.status.message.text() and w.controller.run_folder is None
    w.follower.folder = None

    folder = tmp_path / "mine"
    _pick(monkeypatch, folder)
    action(w, "Write run to folder…").trigger()  # untrained: a step-0 run folder
    assert _config(folder)["step"] == 0 and not (folder / "metrics.csv").exists()
    assert "writing" in w.windowTitle()
    qtbot.mouseClick(w.run.step_btn, Qt.LeftButton)  # one step, then checkpointed and the folder let go
    qtbot.waitUntil(lambda: not w.controller.running(), timeout=20_000)
    assert w.controller.step == 1 and _config(folder)["step"] == 1 and _rows(folder)[1] == [1]
    assert not (folder / ".genviz.owner").exists()
    qtbot.mouseClick(w.run.reset_btn, Qt.LeftButton)
    assert w.controller.run_folder is None and "writing" not in w.windowTitle()
    qtbot.mouseClick(w.run.play_btn, Qt.LeftButton)
    wait_step(qtbot, w, 10)
    qtbot.mouseClick(w.run.pause_btn, Qt.LeftButton)  # no folder now: an ordinary pause
    assert w.controller.stop(timeout_s=5.0) and w.controller.step >= 10
    assert _config(folder)["step"] == 1 and not (folder / ".genviz.owner").exists()  # kept as it was


def test_tensorboard_setting_writes_events_or_is_refused_up_front(qtbot, tmp_path, window, monkeypatch):
    from genviz.core import tensorboard_log
    from genviz.core.config import ConfigError

    w = window
    w.train_form.set_values({"tensorboard": True})
    folder = tmp_path / "tb-run"
    _pick(monkeypatch, folder)
    action(w, "Write run to folder…").trigger()

    def missing():
        raise ConfigError("tensorboard", "needs the tensorboard package (No module named 'tensorboard')")
    with monkeypatch.context() as m:
        m.setattr(tensorboard_log, "require", missing)
        qtbot.mouseClick(w.run.play_btn, Qt.LeftButton)
        assert "refused" in w.status.message.text() and "tensorboard" in w.status.message.text()
        assert not w.controller.running() and w.controller.step == 0

    try:
        tensorboard_log.require()
    except ConfigError:
        pytest.skip("tensorboard is not installed")
    qtbot.mouseClick(w.run.play_btn, Qt.LeftButton)
    wait_step(qtbot, w, 20)
    _pause(qtbot, w)
    assert list((folder / "tb").glob("events.out.tfevents.*"))
