"""Reading run folders while another process writes them: only new bytes, partial rows, cut-backs, and never
a write or the lock."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from genviz.core import run_reader, runs
from genviz.core.run_reader import MetricsTail, config_diff, follow_state, list_runs


def _snapshot(folder):
    """Every file's bytes and mtime (ns), and the names: what 'nothing was written' means."""
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.iterdir()}


@pytest.fixture
def real_run(tmp_path):
    """A finished 6-step RealNVP run folder, written by the real RunWriter."""
    from genviz.core import data
    from genviz.core.session import Session

    folder = tmp_path / "runs" / "a"
    s = Session("realnvp", data.load("moons", n=400), {"n_layers": 2, "hidden": 8},
                {"steps": 6, "batch_size": 32, "snapshot_every": 3}, writer=runs.RunWriter(folder, "moons"),
                with_arrays=False)
    for _ in s.run():
        pass
    return folder


def test_tail_reads_only_the_new_bytes(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_bytes(b"step,loss,val_nll\r\n1,2.5,\r\n2,2.25,3.5\r\n")  # csv.writer ends rows with \r\n
    tail = MetricsTail(path)
    first = tail.poll()
    assert list(first.columns) == ["step", "loss", "val_nll"] and not first.reset
    assert first.columns["step"].tolist() == [1, 2] and first.columns["loss"].tolist() == [2.5, 2.25]
    assert np.isnan(first.columns["val_nll"][0]) and first.columns["val_nll"][1] == 3.5
    assert len(tail.poll()) == 0  # nothing new
    # scramble what was read already (same size, same file): a reader of only the new bytes cannot see it
    raw = path.read_bytes()
    with open(path, "r+b") as fh:
        fh.write(b"x" * len(raw))
        fh.write(b"3,2.0,\r\n")
    new = tail.poll()
    assert new.columns["step"].tolist() == [3] and new.columns["loss"].tolist() == [2.0] and not new.reset
    assert tail.offset == path.stat().st_size


def test_tail_keeps_a_partial_last_row_for_the_next_poll(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text("step,loss\n1,1.5\n2,1.")
    tail = MetricsTail(path)
    assert tail.poll().columns["step"].tolist() == [1]  # "2,1." is not a row yet
    with open(path, "a") as fh:
        fh.write("25\n3,1")
    assert tail.poll().columns["loss"].tolist() == [1.25]  # 1.25, not 1.0 and 25
    with open(path, "a") as fh:
        fh.write(".125\n")
    chunk = tail.poll()
    assert chunk.columns["step"].tolist() == [3] and chunk.columns["loss"].tolist() == [1.125]


def test_header_split_across_polls(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text("step,lo")
    tail = MetricsTail(path)
    assert len(tail.poll()) == 0 and tail.header is None
    with open(path, "a") as fh:
        fh.write("ss\n7,0.5\n")
    chunk = tail.poll()
    assert tail.header == ["step", "loss"] and chunk.columns["loss"].tolist() == [0.5]


def test_a_file_cut_back_on_resume_is_read_again(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text("step,loss\n" + "".join(f"{i},{i / 10}\n" for i in range(1, 6)))
    tail = MetricsTail(path)
    assert len(tail.poll()) == 5
    # resume: the writer replaces the file (os.replace) with the rows up to its checkpoint's step, then appends
    tmp = tmp_path / ".m.tmp"
    tmp.write_text("step,loss\n1,0.1\n2,0.2\n3,0.3\n4,0.45\n5,0.55\n6,0.65\n")  # longer than what was read
    os.replace(tmp, path)
    chunk = tail.poll()
    assert chunk.reset and chunk.columns["step"].tolist() == [1, 2, 3, 4, 5, 6]
    assert chunk.columns["loss"][3] == 0.45
    with open(path, "r+") as fh:  # cut in place to fewer bytes than were read: also read again
        fh.truncate(len("step,loss\n1,0.1\n"))
    chunk = tail.poll()
    assert chunk.reset and chunk.columns["step"].tolist() == [1]


def test_a_missing_file_is_empty_not_an_error(tmp_path):
    tail = MetricsTail(tmp_path / "metrics.csv")
    assert len(tail.poll()) == 0
    (tmp_path / "metrics.csv").write_text("step,loss\n1,2\n")
    assert tail.poll().columns["loss"].tolist() == [2.0]


def test_listing_reading_and_diffing_a_real_run_write_nothing_and_leave_the_lock_free(real_run):
    folder = real_run
    before = _snapshot(folder)
    tail = MetricsTail(folder / "metrics.csv")
    assert tail.poll().columns["step"].tolist() == [1, 2, 3, 4, 5, 6]
    (info,) = list_runs(folder.parent)
    assert (info.name, info.model, info.dataset, info.step, info.status) == ("a", "realnvp", "moons", 6, "done")
    last = runs.read_metrics(folder)
    assert info.final["loss"] == pytest.approx(last["loss"][-1])
    assert info.final["val_nll"] == pytest.approx(last["val_nll"][-1])
    assert info.final_text().startswith("loss ") and "val nll" in info.final_text()
    assert not run_reader.is_live(folder)
    config_diff({"a": run_reader.read_config(folder), "b": run_reader.read_config(folder)})
    lock = runs.RunLock(folder)  # a writer can take the lock while the folder is followed
    lock.acquire()
    assert run_reader.is_live(folder)  # its owner note says a writer holds it
    assert run_reader.owner(folder)["pid"] == os.getpid()
    assert len(tail.poll()) == 0
    lock.release()
    assert _snapshot(folder) == before


def test_list_runs_finds_run_folders_and_skips_the_rest(tmp_path):
    for name, step, status in (("old", 10, "done"), ("live", 3, "running")):
        f = tmp_path / name
        f.mkdir()
        (f / "config.json").write_text(json.dumps({"model": "maf", "dataset": "rings", "step": step, "status": status}))
        (f / "metrics.csv").write_text("step,loss\n1,3.0\n2,2.0\n3,1.5")  # last row still being written
    (tmp_path / "starting").mkdir()
    (tmp_path / "starting" / "metrics.csv").write_text("step,loss\n1,9.0\n")
    (tmp_path / "notes").mkdir()
    (tmp_path / "file.txt").write_text("x")
    found = {r.name: r for r in list_runs(tmp_path)}
    assert set(found) == {"old", "live", "starting"}
    assert found["live"].status == "running" and found["live"].final == {"step": 2.0, "loss": 2.0}
    assert found["starting"].status == "starting" and found["starting"].final["loss"] == 9.0
    assert list_runs(tmp_path / "nowhere") == []


def test_config_diff_keeps_only_the_fields_that_differ():
    a = {"model": "realnvp", "dataset": "moons", "step": 5, "status": "done",
         "model_config": {"hidden": 8, "n_layers": 2}, "train": {"lr": 1e-3, "seed": 0, "steps": 100}}
    b = {**a, "step": 9, "model_config": {"hidden": 16, "n_layers": 2}, "train": {"lr": 1e-3, "seed": 1, "steps": 100}}
    c = {**a, "dataset": "rings", "train": {"lr": 1e-3, "seed": 0, "steps": 100, "grad_clip": 1.0}}
    diff = config_diff({"a": a, "b": b, "c": c})
    assert diff == {"dataset": {"a": "moons", "b": "moons", "c": "rings"},
                    "model_config.hidden": {"a": 8, "b": 16, "c": 8},
                    "train.seed": {"a": 0, "b": 1, "c": 0},
                    "train.grad_clip": {"a": None, "b": None, "c": 1.0}}
    assert config_diff({"a": a, "b": dict(a)}) == {}


def test_follow_state():
    assert follow_state("running", 1.0, False, 30) == "following"
    assert follow_state("running", 31.0, False, 30) == "stalled"
    assert follow_state("done", 0.5, False, 30) == "finished"
    assert follow_state("done", 0.5, True, 30) == "following"  # a resume appends before its first checkpoint
    assert follow_state("stopped", 100.0, False, 30) == "finished"
    assert run_reader.stall_after(None) == 30 and run_reader.stall_after(20.0) == 60.0


def test_rows_parse_the_same_whole_or_one_by_one():
    header = ["step", "loss", "val_nll"]
    rows = ["1,2.5,", "2,nan,3.5", "3,-1e-3,inf"]
    cols = run_reader.parse_rows(header, rows)
    assert cols["step"].tolist() == [1, 2, 3] and cols["loss"][2] == -1e-3 and np.isinf(cols["val_nll"][2])
    assert np.isnan(cols["val_nll"][0]) and np.isnan(cols["loss"][1]) and cols["val_nll"][1] == 3.5
    # a damaged row is skipped, a short one is padded with NaN (the whole-text path gives up on both)
    mixed = run_reader.parse_rows(header, ["1,2.5,", "2,x,3", "4,5"])
    assert mixed["step"].tolist() == [1, 4] and mixed["loss"].tolist() == [2.5, 5.0]
    assert np.isnan(mixed["val_nll"]).all()
