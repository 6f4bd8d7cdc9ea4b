"""What `genviz train` promises about run folders, run as a user runs it (the real command).

A folder belongs to one run (refused otherwise, nothing changes), one writer at a time (a lock that dies
with its process), resume continues the stored run exactly, work is checkpointed on every way out, and
bad input is one line with exit status 2 that creates nothing.
"""
from __future__ import annotations

import csv
import json
import signal
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from genviz import cli
from genviz.core import checkpoint, runs

TINY = ["--n-points", "2000", "--set", "hidden=8", "--set", "n_layers=2", "-q"]


def _train(*args) -> int:
    return cli.main(["train", *args])


def _files(folder: Path) -> dict:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def _steps(folder: Path) -> list[int]:
    with open(folder / "metrics.csv", newline="") as fh:
        return [int(float(r[0])) for r in list(csv.reader(fh))[1:]]


def _wait_for(pred, timeout=60.0):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if pred():
            return True
        time.sleep(0.1)
    raise AssertionError("timed out waiting")


def test_out_holding_another_run_is_refused_and_untouched(tmp_path, capsys):
    out = tmp_path / "X"
    assert _train("realnvp", "--steps", "20", "--out", str(out), *TINY) == 0
    before = _files(out)
    assert _train("vae", "--dataset", "moons", "--steps", "5", "--out", str(out), "-q") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "already holds a run (realnvp on moons, step 20)" in err
    assert f"--resume {out}" in err
    assert _files(out) == before


def test_runs_without_out_each_get_the_next_free_folder(tmp_path, monkeypatch, capsys):
    """`genviz train realnvp` twice: the second was refused for the first's runs/realnvp-moons. Unnamed runs
    take the next free runs/<model>-<dataset>-<n>, the name the app's Write run to folder… suggests."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs" / "realnvp-moons-2").mkdir(parents=True)  # an empty folder holds no run: it may be used
    for _ in range(3):
        assert _train("realnvp", "--steps", "5", *TINY) == 0
    made = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert made == ["realnvp-moons-1", "realnvp-moons-2", "realnvp-moons-3"]
    assert all(_steps(tmp_path / "runs" / m) == [1, 2, 3, 4, 5] for m in made)
    assert "-> runs/realnvp-moons-3" in capsys.readouterr().out
    assert runs.next_free_folder(tmp_path / "runs", "realnvp-moons") == tmp_path / "runs" / "realnvp-moons-4"


def test_resume_restores_the_runs_data_and_config_and_refuses_shape_changes(tmp_path, capsys):
    out = tmp_path / "g"
    assert _train("realnvp", "--dataset", "8gaussians", "--lr", "3e-4", "--batch-size", "64", "--set",
                  "lr_schedule=cosine", "--steps", "30", "--out", str(out), *TINY) == 0
    assert _train("--resume", str(out), "--set", "n_layers=3", "--steps", "40", "-q") == 2
    assert "n_layers" in capsys.readouterr().err
    assert _train("--resume", str(out), "--dataset", "moons", "--steps", "40", "-q") == 2
    assert "trained on 8gaussians" in capsys.readouterr().err
    assert _train("--resume", str(out), "--steps", "45", "--lr", "1e-4", "-q") == 0  # a live setting applies
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["dataset"] == "8gaussians" and cfg["data"]["n"] == 2000 and cfg["step"] == 45
    assert cfg["train"]["batch_size"] == 64 and cfg["train"]["lr_schedule"] == "cosine"
    assert cfg["train"]["lr"] == 1e-4 and cfg["train"]["steps"] == 45  # the override is recorded
    assert _steps(out) == list(range(1, 46))
    assert _train("--resume", str(out), "-q") == 2  # the plan is done: say how to extend it
    assert "--steps N" in capsys.readouterr().err


def test_vae_resumes_on_its_2d_data(tmp_path):
    out = tmp_path / "v"
    assert _train("vae", "--dataset", "moons", "--n-points", "2000", "--steps", "10", "--out", str(out), "-q") == 0
    assert _train("vae", "--resume", str(out), "--steps", "20", "-q") == 0
    assert checkpoint.read(out / "checkpoint.pt")["step"] == 20


def test_cli_resume_equals_straight_run(tmp_path):
    """30 of a 60-step cosine plan (--until), then --resume: the same weights as 60 straight, bit for bit."""
    a, b = tmp_path / "a", tmp_path / "b"
    common = ["--steps", "60", "--set", "lr_schedule=cosine", *TINY]
    assert _train("realnvp", *common, "--out", str(a)) == 0
    assert _train("realnvp", *common, "--until", "30", "--snapshot-every", "7", "--out", str(b)) == 0
    assert checkpoint.read(b / "checkpoint.pt")["step"] == 30
    assert _train("--resume", str(b), "-q") == 0
    wa, wb = (checkpoint.read(f / "checkpoint.pt")["state_dict"] for f in (a, b))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert _steps(b) == list(range(1, 61))


def test_sigterm_and_two_ctrl_c_leave_a_consistent_checkpoint(tmp_path, spawn):
    for sig, code in ((signal.SIGTERM, 143), (signal.SIGINT, 130)):
        out = tmp_path / sig.name
        p = spawn("realnvp", "--steps", "10000000", "--snapshot-every", "50", "--checkpoint-every", "1000",
                   "--out", str(out), *TINY, cwd=tmp_path)
        _wait_for(lambda: (out / "metrics.csv").exists() and len(_steps(out)) >= 100)
        p.send_signal(sig)
        if sig == signal.SIGINT:
            p.send_signal(sig)  # impatient: a second Ctrl-C must not lose the checkpoint
        _, err = p.communicate(timeout=60)
        assert p.returncode == code, err[-800:]
        step = checkpoint.read(out / "checkpoint.pt")["step"]
        assert step >= 100 and json.loads((out / "config.json").read_text())["step"] == step
        assert not list(out.glob(".*.tmp")) and "Traceback" not in err
    # resume after the interruption: metrics.csv keeps one row per step
    out = tmp_path / "SIGTERM"
    step = checkpoint.read(out / "checkpoint.pt")["step"]
    assert _train("--resume", str(out), "--steps", str(step + 20), "-q") == 0
    assert _steps(out) == list(range(1, step + 21))


def test_kill_9_loses_at_most_the_checkpoint_interval_and_the_lock_is_not_stale(tmp_path, capsys, spawn):
    out = tmp_path / "k"
    p = spawn("realnvp", "--steps", "10000000", "--snapshot-every", "100000", "--checkpoint-every", "0.5",
               "--out", str(out), *TINY, cwd=tmp_path)
    _wait_for(lambda: (out / "checkpoint.pt").exists())
    # while it runs, a second writer is refused with one line naming the holder
    assert _train("--resume", str(out), "--steps", "9999999", "-q") == 2
    err = capsys.readouterr().err
    assert "is being written by process" in err and str(p.pid) in err
    time.sleep(1.5)
    p.kill()
    p.wait(timeout=30)
    step = checkpoint.read(out / "checkpoint.pt")["step"]
    assert step > 0
    rows = _steps(out)  # rows past the checkpoint were written by the killed run
    assert _train("--resume", str(out), "--steps", str(step + 5), "-q") == 0  # the dead lock does not block
    assert _steps(out) == list(range(1, step + 6)) and len(rows) >= step


def test_diverged_run_exits_3_and_its_checkpoint_trains_on(tmp_path, capsys):
    out = tmp_path / "m"
    assert _train("maf", "--lr", "10", "--snapshot-every", "1", "--steps", "50", "--out", str(out),
                  "--n-points", "2000", "--set", "hidden=16", "-q") == 3
    assert "diverged" in capsys.readouterr().out
    model, payload = checkpoint.load_full(out / "checkpoint.pt")
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert all(torch.isfinite(t).all() for o in payload["optimizers"] for s in o["state"].values()
               for t in s.values() if isinstance(t, torch.Tensor))
    from genviz.core import data
    assert torch.isfinite(model.log_prob(torch.from_numpy(data.toy2d("moons", 100)))).all()
    assert json.loads((out / "config.json").read_text())["status"] == "diverged"
    assert _train("--resume", str(out), "--lr", "1e-3", "--steps", "60", "-q") == 0


def test_disk_full_is_one_line_and_keeps_the_previous_checkpoint(tmp_path, monkeypatch, capsys):
    out = tmp_path / "d"
    assert _train("realnvp", "--steps", "20", "--out", str(out), *TINY) == 0
    before = (out / "checkpoint.pt").read_bytes()
    real_save = torch.save

    def full(obj, fh, *a, **k):
        fh.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", full)
    assert _train("--resume", str(out), "--steps", "40", "-q") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "No space left on device" in err
    monkeypatch.setattr(torch, "save", real_save)
    assert (out / "checkpoint.pt").read_bytes() == before
    assert json.loads((out / "config.json").read_text())["step"] == 20 == checkpoint.read(out / "checkpoint.pt")["step"]
    assert not list(out.glob(".*.tmp"))
    assert _train("--resume", str(out), "--steps", "40", "-q") == 0  # the lock was released


@pytest.mark.parametrize("args,needle", [
    (["realnvp", "--seed", "-1"], "seed"),
    (["realnvp", "--n-points", "-5"], "points"),
    (["realnvp", "--checkpoint-every", "0"], "checkpoint-every"),
])
def test_bad_numbers_are_one_line_and_create_nothing(args, needle, tmp_path, capsys):
    out = tmp_path / "never"
    assert _train(*args, "--out", str(out), "-q", "--steps", "5") == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1 and not out.exists()


def test_out_that_cannot_be_a_folder_is_one_line(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("x")
    for out in (f, f / "below", Path("/proc/genviz-run")):
        assert _train("realnvp", "--out", str(out), "-q", "--steps", "5", *TINY) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and str(out) in err


def test_damaged_checkpoints_and_mnist_files_are_one_line(tmp_path, monkeypatch, capsys):
    out = tmp_path / "r"
    assert _train("realnvp", "--steps", "5", "--out", str(out), *TINY) == 0
    payload = torch.load(out / "checkpoint.pt", weights_only=True)
    for damage in ({"step": "many"}, {"data_shape": "2"}, {"optimizers": [{"state": {}, "param_groups": "x"}]},
                   {"optimizers": [{"state": {0: {"exp_avg": torch.zeros(3)}}, "param_groups":
                                    payload["optimizers"][0]["param_groups"]}]}):
        bad = tmp_path / "bad.pt"
        torch.save({**payload, **damage}, bad)
        assert _train("realnvp", "--resume", str(bad), "--out", str(tmp_path / "o"), "--steps", "9", "-q") == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "bad.pt" in err and not (tmp_path / "o").exists()
    raw = tmp_path / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in runs_files():
        (raw / name).write_bytes(rng.bytes(4096))
    monkeypatch.setenv("GENVIZ_DATA", str(tmp_path / "data"))
    assert _train("made", "--out", str(tmp_path / "mn"), "--steps", "3", "-q") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "damaged" in err and not (tmp_path / "mn").exists()


def runs_files():
    from genviz.core.images import RAW_FILES
    return RAW_FILES


def test_weight_decay_is_recorded_and_kept_on_resume(tmp_path):
    out = tmp_path / "wd"
    assert _train("realnvp", "--steps", "20", "--set", "weight_decay=1e-3", "--out", str(out), *TINY) == 0
    assert json.loads((out / "config.json").read_text())["train"]["weight_decay"] == 1e-3
    assert checkpoint.read(out / "checkpoint.pt")["optimizers"][0]["param_groups"][0]["l2"] == 1e-3
    assert _train("--resume", str(out), "--steps", "30", "--set", "weight_decay=0", "-q") == 0  # a live setting
    assert json.loads((out / "config.json").read_text())["train"]["weight_decay"] == 0
    assert _train("realnvp", "--steps", "5", "--set", "weight_decay=-1", "--out", str(tmp_path / "bad"), *TINY) == 2
