"""`genviz arena`, run as a user runs it: parallel processes write ordinary run folders, then the scoreboard
(CSV and Markdown) and grid.png; a refused arena starts nothing."""
from __future__ import annotations

import csv

from PySide6.QtGui import QImage

from genviz import cli
from genviz.core import runs


def _arena(*args, cwd, monkeypatch) -> int:
    """The command's own entry point, in this process (its training processes are spawned as usual)."""
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    return cli.main(["arena", *args])


def test_arena_writes_run_folders_scoreboard_and_grid(tmp_path, monkeypatch, capsys):
    code = _arena("--dataset", "ring8", "--models", "made-2d,gan_preset", "--steps", "20", "--out", "ar", "-q",
                  cwd=tmp_path, monkeypatch=monkeypatch)
    assert code == 0, capsys.readouterr().err
    out = tmp_path / "ar"
    for name in ("made-2d", "gan_preset"):  # ordinary, resumable run folders
        cfg = runs.read_config(out / name)
        assert (cfg["model"], cfg["dataset"], cfg["step"], cfg["status"]) == (name, "ring8", 20, "done")
        assert (out / name / "checkpoint.pt").is_file() and len(runs.read_metrics(out / name)["step"]) == 20
    with open(out / "scoreboard.csv", newline="") as fh:
        rows = {r["model"]: r for r in csv.DictReader(fh)}
    assert list(rows) == ["made-2d", "gan_preset"]
    assert rows["made-2d"]["nll_kind"] == "exact" and rows["gan_preset"]["nll_kind"] == "KDE estimate"
    assert rows["gan_preset"]["gap"] == "" and rows["made-2d"]["entropy"] == ""  # ring8: entropy not known
    assert all(r["n_modes"] == "8" and r["step"] == "20" and float(r["mmd2"]) == float(r["mmd2"]) for r in rows.values())
    md = (out / "scoreboard.md").read_text()
    assert "| made-2d | autoregressive | 20 |" in md and "KDE estimate" in md
    img = QImage(str(out / "grid.png"))
    assert not img.isNull() and img.width() > 2 * 360 and img.height() > 500
    # the same folder again: refused before any process starts, nothing changes
    before = (out / "made-2d" / "checkpoint.pt").stat().st_mtime_ns
    capsys.readouterr()
    again = _arena("--dataset", "ring8", "--models", "made-2d", "--steps", "20", "--out", "ar", cwd=tmp_path,
                   monkeypatch=monkeypatch)
    assert again == 2 and "ar/made-2d" in capsys.readouterr().err
    assert (out / "made-2d" / "checkpoint.pt").stat().st_mtime_ns == before


def test_arena_refuses_a_model_that_does_not_learn_from_points(tmp_path, monkeypatch, capsys):
    code = _arena("--models", "made-2d,planar", "--steps", "5", "--out", "x", cwd=tmp_path, monkeypatch=monkeypatch)
    assert code == 2 and "planar cannot join the arena" in capsys.readouterr().err
    code = _arena("--dataset", "mnist", "--steps", "5", "--out", "x", cwd=tmp_path, monkeypatch=monkeypatch)
    assert code == 2 and "2D datasets" in capsys.readouterr().err and not (tmp_path / "x").exists()
    code = _arena("--models", "nosuch", "--out", "x", cwd=tmp_path, monkeypatch=monkeypatch)
    assert code == 2 and "unknown model 'nosuch'" in capsys.readouterr().err
