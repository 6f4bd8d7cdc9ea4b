"""Run folders: what `genviz train` writes and the app opens.

<run>/config.json (model, dataset, configs), metrics.csv (one row per step), checkpoint.pt (atomic, the
last finite state), samples.png and density.png (2D) or samples.png (images).
"""
from __future__ import annotations

import csv
import getpass
import json
import os
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from filelock import FileLock, Timeout

from genviz.core import checkpoint, raster, rng, run_reader
from genviz.core import config as config_mod
from genviz.core.run_reader import OWNER_NAME  # one name for the writer that leaves it and the readers

CHECKPOINT_EVERY_S = 10.0  # a kill -9 loses at most this much training (more where held-out metrics are
# costly: session.CHECKPOINT_BUDGET)
RUN_FILES = ("config.json", "metrics.csv", "checkpoint.pt")
LOCK_NAME = ".genviz.lock"


class RunFolderError(RuntimeError):
    """The run folder cannot be used as asked (taken by another run, locked, not writable); one-line message."""


def describe(folder) -> str:
    """'realnvp on moons, step 300' for a run folder (or what can be read of it)."""
    try:
        cfg = json.loads((Path(folder) / "config.json").read_text())
        return f"{cfg.get('model')} on {cfg.get('dataset')}, step {cfg.get('step')}"
    except (OSError, ValueError):
        return "a run"


def holds_run(folder) -> bool:
    folder = Path(folder)
    return folder.is_dir() and any((folder / f).exists() for f in RUN_FILES)


def next_free_folder(root, stem: str) -> Path:
    """<root>/<stem>-<n> for the first n ≥ 1 whose folder holds no run and is not a file: where a new run goes
    when nobody named its folder (`genviz train` without --out, the app's Write run to folder…). A second
    `genviz train realnvp` used to be refused for the first one's folder."""
    root, n = Path(root), 1
    while holds_run(root / f"{stem}-{n}") or (root / f"{stem}-{n}").is_file():
        n += 1
    return root / f"{stem}-{n}"


def check_new_folder(folder) -> None:
    """Refuse (RunFolderError) an --out that is a file, sits under a file, or already holds a run."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise RunFolderError(f"--out {folder} is a file, not a folder; pick another --out")
    for parent in folder.parents:
        if parent.exists():
            if not parent.is_dir():
                raise RunFolderError(f"--out {folder} lies under the file {parent}; pick another --out")
            if not os.access(parent, os.W_OK):
                raise RunFolderError(f"cannot create {folder}: {parent} is not writable")
            break
    if holds_run(folder):
        raise RunFolderError(f"{folder} already holds a run ({describe(folder)}). Continue it with "
                             f"--resume {folder}, or pick another --out")


class RunLock:
    """One writer per run folder: an OS lock (filelock) that dies with its process, plus who holds it."""

    def __init__(self, folder):
        self.folder = Path(folder)
        # not thread-local: the app takes the lock on the GUI thread and its training thread lets it go
        self._lock = FileLock(str(self.folder / LOCK_NAME), timeout=0, thread_local=False)

    def acquire(self) -> None:
        try:
            self._lock.acquire()
        except Timeout:
            raise RunFolderError(f"{self.folder} is being written by {self.holder()}; wait for it to finish "
                                 "or pick another --out") from None
        owner = {"pid": os.getpid(), "host": socket.gethostname(), "user": _user(),
                 "command": " ".join(sys.argv[:8]), "since": time.strftime("%Y-%m-%d %H:%M:%S")}
        try:
            (self.folder / OWNER_NAME).write_text(json.dumps(owner))
        except OSError:
            pass  # the lock itself is what counts; the note only helps the refusal message

    def holder(self) -> str:
        o = run_reader.owner(self.folder)
        try:
            return f"process {o['pid']} on {o['host']} ({o['command']}, since {o['since']})"
        except KeyError:
            return "another process"

    def release(self) -> None:
        if self._lock.is_locked:
            (self.folder / OWNER_NAME).unlink(missing_ok=True)
            self._lock.release()


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in some containers
        return "?"


class RunWriter:
    """Session hook for one run folder: metrics at each snapshot, a checkpoint every `checkpoint_every`
    seconds and at the end, config.json always describing the checkpoint next to it.

    `open()` takes the folder's lock; `resume_step` cuts metrics.csv back to the checkpoint's step (rows
    written after it by a killed run would otherwise repeat), `metrics_from` starts a fork's metrics from
    another run's rows. `parallel` (Dist.describe) is recorded in config.json. With the session's
    `train.tensorboard`, every metrics row also goes to TensorBoard (<run>/tb/).
    """

    def __init__(self, folder, dataset: dict | str, dataset_n: int | None = None, resume_step: int | None = None,
                 checkpoint_every: float = CHECKPOINT_EVERY_S, metrics_from=None, parallel: dict | None = None):
        self.folder = Path(folder)
        self.dataset = dataset if isinstance(dataset, dict) else {"name": dataset, "n": dataset_n}
        self.resume_step = resume_step
        self.checkpoint_every = float(checkpoint_every)
        self.metrics_from = Path(metrics_from) if metrics_from else None
        self.lock = RunLock(self.folder)
        self._fh = self._csv = None
        self._columns: list[str] = []
        self._last_ckpt = time.monotonic()
        self.opened = self.closed = False
        self.checkpoint_step: int | None = None
        self.parallel = parallel
        self.tb = None  # TensorBoardLog, opened at the first record of a run that asks for it

    @property
    def dataset_name(self) -> str:
        return self.dataset.get("name", "?")

    def open(self) -> "RunWriter":
        self.created = not self.folder.exists()
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise RunFolderError(f"cannot create {self.folder}: {e.strerror or e}") from None
        self.lock.acquire()
        try:
            for tmp in self.folder.glob(".*.tmp"):  # left by a writer killed mid-checkpoint
                tmp.unlink(missing_ok=True)
            if self.resume_step is None and holds_run(self.folder):
                raise RunFolderError(f"{self.folder} already holds a run ({describe(self.folder)}). Continue "
                                     f"it with --resume {self.folder}, or pick another --out")
            if self.resume_step is not None:
                self._cut_metrics(self.metrics_from or self.folder, self.resume_step)
        except BaseException:
            self.lock.release()
            raise
        self.opened = True
        self._last_ckpt = time.monotonic()
        return self

    def _cut_metrics(self, source: Path, step: int) -> None:
        """metrics.csv := the rows of source's metrics.csv up to `step` (atomically)."""
        src = source / "metrics.csv"
        if not src.exists():
            return
        with open(src, newline="") as fh:
            rows = list(csv.reader(fh))
        if not rows:
            return
        keep = [rows[0]] + [r for r in rows[1:] if r and r[0].isdigit() and int(r[0]) <= step]  # steps: whole numbers
        _atomic_write(self.folder / "metrics.csv", lambda fh: csv.writer(fh).writerows(keep), newline="")

    # -- during the run -------------------------------------------------------------------------------
    def checkpoint_due(self) -> bool:
        return time.monotonic() - self._last_ckpt >= self.checkpoint_every

    def record(self, session, snap) -> None:
        if not self.opened:
            self.open()
        if self.tb is None and getattr(session.train, "tensorboard", False):
            from genviz.core.tensorboard_log import TensorBoardLog

            self.tb = TensorBoardLog(self.folder, self.resume_step)  # before this session's rows: see its backfill
        if len(snap.steps):
            self._write_rows(snap)
        if snap.status not in ("diverged", "error") and self.checkpoint_due():
            self.save_checkpoint(session)

    def _write_rows(self, snap) -> None:
        if self._csv is None:
            path = self.folder / "metrics.csv"
            header = _read_header(path)
            self._columns = header or ["step", *snap.losses, *(f"val_{k}" for k in snap.metrics)]
            self._fh = open(path, "a", newline="")
            self._csv = csv.writer(self._fh)
            if not header:
                self._csv.writerow(self._columns)
        names = [c for c in self._columns[1:] if not c.startswith("val_")]
        vals = [c for c in self._columns if c.startswith("val_")]
        for i, step in enumerate(snap.steps):
            row = {k: snap.losses[k][i] for k in names if k in snap.losses}
            if i == len(snap.steps) - 1:
                row.update({c: snap.metrics[c[4:]] for c in vals if c[4:] in snap.metrics})
            self._csv.writerow([int(step)] + [_fmt(row[c]) if c in row else "" for c in self._columns[1:]])
            if self.tb is not None:
                self.tb.add_row(int(step), row)
        self._fh.flush()

    def save_checkpoint(self, session, status: str = "running") -> Path:
        """checkpoint.pt, then config.json naming its step: both atomic, so they always agree."""
        self._last_ckpt = time.monotonic()
        if self._fh is not None:
            self._fh.flush()
            os.fsync(self._fh.fileno())
        if self.tb is not None:
            self.tb.flush()
        path = checkpoint.save(session.model, self.folder / "checkpoint.pt", state=session.training_state(),
                               train=session.train, dataset=self.dataset)
        self.checkpoint_step = session.step
        self._write_config(session, status)
        return path

    def save_best(self, session) -> Path:
        """best.pt: the state with the best held-out objective so far (what papers report test NLL of)."""
        if not self.opened:
            self.open()
        return checkpoint.save(session.model, self.folder / "best.pt", state=session.training_state(),
                               train=session.train, dataset=self.dataset, best=dict(session.best))

    def _write_config(self, session, status: str) -> None:
        cfg = {"model": session.model_name, "family": session.spec.family,
               "dataset": self.dataset_name, "dataset_n": self.dataset.get("n"),
               "data": {k: v for k, v in self.dataset.items() if k != "points"},
               "model_config": config_mod.to_dict(session.model.cfg),
               "train": config_mod.to_dict(session.train),
               "parallel": self._parallel(session.train.batch_size),
               "step": self.checkpoint_step if self.checkpoint_step is not None else session.step,
               "status": status, "best": session.best if session.best["step"] is not None else None}
        _atomic_write(self.folder / "config.json", lambda fh: fh.write(json.dumps(cfg, indent=2)))

    def _parallel(self, batch_size: int) -> dict:
        """How many processes trained and the batch each drew: one optimizer step sees the global batch."""
        par = dict(self.parallel or {"world_size": 1, "nodes": 1, "processes_per_node": 1})
        return {**par, "batch_size_per_process": batch_size, "global_batch_size": batch_size * par["world_size"]}

    def close(self, session, status: str = "done", checkpoint: bool = True, previews: bool = True) -> None:
        """Flush metrics, checkpoint, write previews, release the lock. Safe to call twice."""
        if self.closed:
            return
        if not self.opened:
            self.open()
        self.closed = True
        try:
            if checkpoint:
                self.save_checkpoint(session, status)
            elif self.checkpoint_step is not None:
                self._write_config(session, status)
            if self._fh is not None:
                self._fh.close()
                self._fh = None
            self._close_tb()
            if checkpoint and previews:
                write_previews(session.model, session.data, session.view, self.folder)
        finally:
            self.lock.release()

    def discard(self) -> None:
        """Undo a new run that never trained a step: remove the folder this writer created."""
        self.abort()
        if self.created and self.resume_step is None:
            shutil.rmtree(self.folder, ignore_errors=True)

    def abort(self) -> None:
        """Give the folder up after a failure: close files, release the lock (the checkpoint stays as it was)."""
        self.closed = True
        if self._fh is not None:
            try:
                self._fh.close()
            except OSError:
                pass
            self._fh = None
        self._close_tb()
        for tmp in self.folder.glob(".*.tmp"):
            tmp.unlink(missing_ok=True)
        self.lock.release()

    def _close_tb(self) -> None:
        if self.tb is not None:
            try:
                self.tb.close()
            except OSError:
                pass  # TensorBoard's copy is a convenience; metrics.csv is the record
            self.tb = None


def _read_header(path: Path) -> list[str]:
    try:
        with open(path, newline="") as fh:
            return next(csv.reader(fh), [])
    except OSError:
        return []


def _atomic_write(path: Path, write, newline=None) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", newline=newline) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_previews(model, data, view, folder) -> None:
    """samples.png (and density.png for 2D); drawn on a fixed seed, never from the run's random streams."""
    folder = Path(folder)
    with torch.no_grad(), rng.seeded(0, model.device):
        model.eval()
        if data.kind == "2d" and hasattr(model, "sample"):
            arrays = model.visualize(data, {**view, "res": 128})
            bbox = view["bbox"]
            if "log_density" in arrays:
                raster.write_png(raster.density_image(arrays["log_density"]), folder / "density.png")
            if "samples" in arrays:
                img = np.full((512, 512, 3), 255, np.uint8)
                raster.scatter(img, data.train[:2000].cpu().numpy(), bbox, (170, 170, 170))
                raster.scatter(img, arrays["samples"], bbox, (200, 40, 40), radius=2)
                raster.write_png(img, folder / "samples.png")
        elif hasattr(model, "sample"):
            s = model.sample(64).reshape(-1, *data.shape).float().clamp(0, 1).cpu()
            raster.image_grid_png(s.numpy(), folder / "samples.png", nrow=8)
        model.train()


read_metrics = run_reader.read_metrics  # one parser for the dock, the window and TensorBoard's backfill


def read_config(folder) -> dict:
    path = Path(folder) / "config.json"
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise checkpoint.CheckpointError(f"{folder} is not a genviz run folder ({path.name}: {e})") from None


def _fmt(v) -> str:
    return f"{float(v):.6g}"
