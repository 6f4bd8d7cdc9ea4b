"""`genviz train --tensorboard`: TensorBoard scalars equal metrics.csv (every column, same steps), a resumed
run repeats no step, and without the tensorboard package the run is refused at start in one line."""
from __future__ import annotations

import importlib.abc
import importlib.util
import sys

import numpy as np
import pytest

from genviz import cli
from genviz.core import runs

TINY = ["--n-points", "2000", "--set", "hidden=8", "--set", "n_layers=2", "--batch-size", "64",
        "--snapshot-every", "5", "-q"]


def _scalars(tb_dir) -> dict[str, dict[int, float]]:
    """What TensorBoard itself shows: its EventAccumulator (which applies purge_step) over the folder."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(tb_dir), size_guidance={"scalars": 0})
    acc.Reload()
    out = {}
    for tag in acc.Tags()["scalars"]:
        events = acc.Scalars(tag)
        steps = [e.step for e in events]
        assert len(steps) == len(set(steps)), f"{tag}: a step is logged twice"
        out[tag] = {e.step: e.value for e in events}
    return out


def _csv(folder) -> dict[str, dict[int, float]]:
    cols = runs.read_metrics(folder)
    steps = cols.pop("step").astype(int)
    return {c: {int(s): float(v) for s, v in zip(steps, vals) if np.isfinite(v)} for c, vals in cols.items()}


def test_scalars_are_metrics_csv_and_resume_purges_rewound_steps(tmp_path):
    pytest.importorskip("tensorboard")
    from torch.utils.tensorboard import SummaryWriter

    out = tmp_path / "run"
    assert cli.main(["train", "realnvp", "--steps", "30", "--until", "15", "--out", str(out),
                     "--tensorboard", *TINY]) == 0
    # a run killed after its checkpoint at 15 had logged steps 16..22 (garbage values) that the resumed
    # run trains again: TensorBoard must show the new ones only
    stale = SummaryWriter(str(out / "tb"))
    for step in range(16, 23):
        stale.add_scalar("loss", 1e6, step)
    stale.close()
    assert cli.main(["train", "--resume", str(out), "-q"]) == 0

    tb, csv = _scalars(out / "tb"), _csv(out)
    assert set(tb) == set(csv) == {"loss", "nll", "val_nll"}
    assert sorted(tb["loss"]) == list(range(1, 31))
    assert sorted(tb["val_nll"]) == [5, 10, 15, 20, 25, 30]
    for tag in csv:
        assert sorted(tb[tag]) == sorted(csv[tag])
        np.testing.assert_allclose([tb[tag][s] for s in sorted(csv[tag])],
                                   [csv[tag][s] for s in sorted(csv[tag])], rtol=1e-5)


def test_tensorboard_turned_on_when_resuming_gets_the_earlier_rows(tmp_path):
    pytest.importorskip("tensorboard")
    out = tmp_path / "run"
    assert cli.main(["train", "realnvp", "--steps", "20", "--until", "10", "--out", str(out), *TINY]) == 0
    assert not (out / "tb").exists()
    assert cli.main(["train", "--resume", str(out), "--tensorboard", "-q"]) == 0
    tb, csv = _scalars(out / "tb"), _csv(out)
    assert sorted(tb["loss"]) == list(range(1, 21)) == sorted(csv["loss"])
    assert runs.read_config(out)["train"]["tensorboard"] is True


def test_a_damaged_metrics_row_is_skipped_when_tensorboard_backfills(tmp_path):
    """A row damaged by a killed writer must not stop `--resume --tensorboard` (it raised ValueError): the
    backfill skips that row and logs every other one."""
    pytest.importorskip("tensorboard")
    out = tmp_path / "run"
    assert cli.main(["train", "realnvp", "--steps", "20", "--until", "10", "--out", str(out), *TINY]) == 0
    path = out / "metrics.csv"
    lines = path.read_text().splitlines()
    lines[4] = lines[4][:-3] + "x"  # step 4: its last value cut and damaged
    path.write_text("\r\n".join(lines) + "\r\n")
    assert cli.main(["train", "--resume", str(out), "--tensorboard", "-q"]) == 0
    assert sorted(_scalars(out / "tb")["loss"]) == [s for s in range(1, 21) if s != 4]


class _NoTensorBoard(importlib.abc.MetaPathFinder):
    """Imports as if the tensorboard package were not installed."""

    def find_spec(self, name, path=None, target=None):
        if name == "tensorboard" or name.startswith("tensorboard."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


def test_missing_tensorboard_refuses_at_start_in_one_line(tmp_path, monkeypatch, capsys):
    for mod in [m for m in sys.modules if m.split(".")[0] == "tensorboard" or m.startswith("torch.utils.tensorboard")]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setattr(sys, "meta_path", [_NoTensorBoard(), *sys.meta_path])
    out = tmp_path / "run"
    assert cli.main(["train", "realnvp", "--steps", "10", "--out", str(out), "--tensorboard", *TINY]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("genviz: tensorboard: needs the tensorboard package (No module named 'tensorboard')")
    assert "pip install 'genviz[tensorboard]'" in err[0]
    assert not out.exists()  # refused before anything was written


def test_a_checkpoint_from_before_the_setting_opens_and_resumes(tmp_path):
    """Checkpoints written before TrainConfig had `tensorboard` open (off) and resume, also with it on."""
    import torch

    from genviz.core import checkpoint

    out = tmp_path / "run"
    assert cli.main(["train", "realnvp", "--steps", "10", "--until", "5", "--out", str(out), *TINY]) == 0
    payload = checkpoint.read(out / "checkpoint.pt")
    del payload["train"]["tensorboard"]
    torch.save(payload, out / "checkpoint.pt")
    _model, old = checkpoint.load_full(out / "checkpoint.pt")
    assert "tensorboard" not in old["train"]
    tb = importlib.util.find_spec("tensorboard") is not None  # turning it on is optional here
    assert cli.main(["train", "--resume", str(out), "-q"] + (["--tensorboard"] if tb else [])) == 0
    assert runs.read_config(out)["step"] == 10
    assert runs.read_config(out)["train"]["tensorboard"] is tb
