"""The one owner of the app's run state: model choice and config, dataset, training settings, the panel's view
settings and live model settings, the model between sessions and the worker during one.

Menus, render and tests drive the app through its verbs (prepare, adopt, open, play, pause, step_once, stop,
set_live, send, preview, save_checkpoint). Every Session it starts gets the whole state replayed: the view
settings, the live model settings and the delay, so nothing depends on a command reaching a session that
was running at the time. Each run has an id; a snapshot or end signal of an older run that is still in
Qt's queue when a Reset or switch happens is dropped, so nothing from it reaches the screen. No widget code.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PySide6.QtCore import QCoreApplication, QObject, Signal

from genviz.core import checkpoint, registry, runs
from genviz.core import config as config_mod
from genviz.core import data as data_mod
from genviz.core.session import Session
from genviz.gui.worker import ENDED, FAILED, SessionWorker  # noqa: F401 - ENDED, FAILED: re-exported


@dataclass
class Opened:
    """What `open()` restored: the checkpoint's payload, its dataset name and train config, and the loss history
    of its run folder (metrics.csv columns by name, 'step' included; empty without one)."""

    payload: dict
    dataset: str
    train: config_mod.TrainConfig
    history: dict = field(default_factory=dict)


class TrainingController(QObject):
    """Verbs: prepare (fresh model), adopt / open (a saved model), play, pause, step_once, stop; signals out.

    `prepared(info)` says a new run replaced the previous one (fresh, switched, reset or opened): views clear
    and begin on `info` (empty when there is no model: the last choice was refused).
    """

    prepared = Signal(dict)
    snapshot_ready = Signal(object)
    finished = Signal(str)
    failed = Signal(str)
    progress = Signal(int, int, float, object)  # step, total steps, steps/s, loss: training between snapshots
    folder_changed = Signal(object)  # the run folder this run now writes (a Path), or None: no longer

    def __init__(self, parent=None):
        super().__init__(parent)
        self.model_name = ""
        self.dataset = None
        self.points: np.ndarray | None = None  # the drawn / loaded points of the 'custom' dataset
        self.model_cfg: dict = {}
        self.train = config_mod.TrainConfig()
        self.view: dict = {}  # the panel's view settings, replayed into every Session of this run
        self.model_live: dict = {}  # live model settings (e.g. a GAN's train_players), replayed likewise
        self.model = None
        # step, optimizer states, random streams and model extras of the last session: the next continues it
        self.training_state: dict | None = None
        self.step = 0
        self.delay = 0.0
        self.worker: SessionWorker | None = None
        self.run_id = 0  # the id of the run whose signals are shown; older ones are dropped
        self._retired: list[SessionWorker] = []
        self._collected = True
        self._data_cache = None  # ((name, seed), Dataset) of the last named dataset loaded
        # a run folder this run writes (Detach and train): each session gets a RunWriter of it, which holds its lock
        self.run_folder: Path | None = None
        self._writer = None  # an opened RunWriter that the next session takes over
        self._quiet_finish = False
        self.checkpoint_every = runs.CHECKPOINT_EVERY_S  # a written folder's checkpoint interval, as `genviz train`

    # -- set-up -----------------------------------------------------------------------------------
    def load_dataset(self, name: str, seed: int, points=None):
        """The dataset by name (custom: `points`, else the controller's own); DataError if it cannot load.
        A generated or image set asked for again (Reset, a model switch) is reused, not read again."""
        if name == "custom":
            return data_mod.load(name, seed=seed, points=self.points if points is None else points)
        if self._data_cache is None or self._data_cache[0] != (name, seed):
            self._data_cache = ((name, seed), data_mod.load(name, seed=seed))
        return self._data_cache[1]

    def prepare(self, model_name: str, dataset, model_cfg: dict, train: config_mod.TrainConfig) -> None:
        """Validate everything and build a fresh model; raises ConfigError naming the bad field."""
        self.stop()
        spec = registry.get(model_name)
        cfg = registry.make_config(model_name, model_cfg)
        _check_fits(spec, dataset, train)
        model = registry.build(model_name, data_shape=dataset.shape, seed=train.seed, **config_mod.to_dict(cfg))
        self._set(model_name, dataset, config_mod.to_dict(cfg), train, model, None)

    def adopt(self, model, payload: dict, dataset, train: config_mod.TrainConfig) -> None:
        """Take over a loaded checkpoint's model, optimizer state and step (to look at or continue)."""
        self.stop()
        _check_fits(registry.get(payload["model"]), dataset, train)
        self._set(payload["model"], dataset, dict(payload["model_config"]), train, model,
                  checkpoint.training_state(payload))

    def open(self, path) -> Opened:
        """Adopt a checkpoint file or a run folder (its checkpoint.pt and metrics.csv).

        Raises CheckpointError / ConfigError / DataError (nothing changes then)."""
        path = Path(path)
        folder = path if path.is_dir() else path.parent
        if path.is_dir():
            runs.read_config(path)  # a clear error when the folder is not a run folder
            path = path / "checkpoint.pt"
        model, payload = checkpoint.load_full(path)
        spec = registry.get(payload["model"])
        ds_spec = checkpoint.dataset_spec(payload) or {"name": spec.default_dataset}
        if ds_spec["name"] == "custom" and ds_spec.get("points") is None:
            if self.points is None:
                raise checkpoint.CheckpointError("it was trained on drawn points; draw or load them first")
            ds_spec = {**ds_spec, "points": self.points}
        train = config_mod.make(config_mod.TrainConfig, {**(payload.get("train") or {}), "device": "cpu"})
        dataset = data_mod.load_spec({"seed": train.seed, **{k: v for k, v in ds_spec.items() if v is not None}})
        ds_name = ds_spec["name"]
        history = _read_history(folder)
        self.adopt(model.train(), payload, dataset, train)
        return Opened(payload, ds_name, train, history)

    def take_over(self, model, payload: dict) -> None:
        """A newer checkpoint of the same run (a followed folder): its model and state, without a new run."""
        self.model, self.training_state = model, checkpoint.training_state(payload)
        self.step = self.training_state["step"]

    def write_to(self, writer) -> None:
        """From now on this run writes `writer`'s folder (an opened runs.RunWriter: it holds the lock), as
        `genviz train --resume` would; the next session takes it, later ones open their own."""
        self.run_folder, self._writer = writer.folder, writer
        self.folder_changed.emit(self.run_folder)

    def attach_folder(self, folder, history=None, val_names=()) -> Path:
        """File → Write run to folder: this run (trained or not) from now on writes `folder` as `genviz train`
        does. The folder gets config.json, metrics.csv with `history` (the loss plot's name -> (steps, values),
        'val_<name>' for held-out metrics) and checkpoint.pt of the current state at once, so it is a complete
        run folder (listed, comparable, `genviz train --resume`-able); every later session writes it through a
        RunWriter (a checkpoint every `checkpoint_every` s and when it stops; the lock held while it trains).
        A running session is stopped and restarted around the attach: no step is lost or trained twice
        (`history` may be a callable, asked once the stopped session's last snapshots have been delivered).
        Raises RunFolderError (the CLI's message) when the folder is a file or already holds a run."""
        if self.model is None:
            raise ValueError("there is no model to write: pick a model first")
        folder = Path(folder)
        runs.check_new_folder(folder)
        if self.train.tensorboard:  # refused before anything is written or stopped (ConfigError)
            from genviz.core import tensorboard_log

            tensorboard_log.require()
        was_training = self.running() and self.worker.status == "running"
        if self.running():
            self._quiet_finish = True  # the run goes on after the attach: its views hear of no end
            try:
                if not self.worker.stop(timeout_s=10.0):
                    raise runs.RunFolderError("the running step did not end in time; pause, then try again")
                QCoreApplication.sendPostedEvents()  # the ended thread's queued snapshots: every step reaches the views
            finally:
                self._quiet_finish = False
            self._collect()
        writer = runs.RunWriter(folder, self.dataset.spec, checkpoint_every=self.checkpoint_every).open()
        try:
            _write_history(folder / "metrics.csv", (history() if callable(history) else history) or {}, val_names)
            session = self._session(paused=True)  # never run: it only describes the current state
            writer.close(session, "stopped", previews=False)  # checkpoint.pt + config.json; the lock released
        except BaseException:
            writer.discard()
            raise
        self._drop_writer()
        self.run_folder = folder
        self.folder_changed.emit(folder)
        if was_training:
            self.play()
        return folder

    def clear(self) -> None:
        """No model (the last choice was refused): nothing of the previous run may stay on screen."""
        self.stop()
        self._set("", None, {}, self.train, None, None)

    def _set(self, name, dataset, cfg, train, model, state: dict | None) -> None:
        """A new run; `state`: a Session's training_state() to continue from (None: a fresh model)."""
        self.model_name, self.dataset, self.model_cfg, self.train = name, dataset, cfg, train
        self.model, self.training_state = model, state
        self.step = int(state["step"]) if state else 0
        self._drop_writer()  # a new run writes no folder (Detach and train attaches one after opening)
        if self.worker is not None and self.worker.is_running():
            self._retired.append(self.worker)
        self.view, self.model_live = {}, {}  # a new run starts with a new panel's defaults
        self.worker, self._collected = None, True
        self.run_id += 1
        self.prepared.emit(self.info() if model is not None else {})

    def info(self) -> dict:
        """What a panel's begin() gets ('config': the model config the run's model was built from)."""
        d = self.dataset
        spec = registry.get(self.model_name)
        return {"model": self.model_name, "family": spec.family, "title": spec.title or self.model_name,
                "config": dict(self.model_cfg), "dataset": d.name, "kind": d.kind, "data_shape": d.shape,
                "bbox": d.bbox() if d.kind == "2d" else None,
                "data": _spread_subset(d.train, 2000) if d.kind == "2d" else None}

    # -- running ----------------------------------------------------------------------------------
    def running(self) -> bool:
        return self.worker is not None and not self._collected

    def play(self) -> None:
        if self.running() and self.worker.status == "running":
            self.worker.send("play")
        else:
            self._collect()
            self._start(paused=False)

    def pause(self) -> None:
        """Pause; a run that writes a folder stops instead (its writer checkpoints and lets the lock go, so the
        folder is complete and `genviz train --resume` may take it); Play continues it exactly."""
        if self.running():
            self.worker.send("stop" if self.run_folder is not None else "pause")

    def step_once(self) -> None:
        """Exactly one optimisation step, then paused."""
        if self.running() and self.worker.status == "running":
            self.worker.send("pause")
            self.worker.send("step", 1)
        elif self.run_folder is not None:  # one step, then its writer checkpoints and lets the folder go, as Pause
            self._collect()
            self._start(paused=False, stop_at=self.step + 1)
        else:
            self._collect()
            self._start(paused=True)
            self.worker.send("step", 1)

    def set_live(self, name: str, value) -> None:
        """A training setting the running session may change (lr, snapshot_every, grad_clip, steps)."""
        self.train = dataclasses.replace(self.train, **{name: value})
        if self.running():
            self.worker.send("set", name, value)

    def set_delay(self, seconds: float) -> None:
        self.delay = seconds
        if self.running():
            self.worker.send("delay", seconds)

    def send(self, command: tuple) -> None:
        """A panel's command: ("view", {...}) or ("model_set", field, value). Kept, so every later Session of
        this run gets it too, and forwarded to the running one."""
        if command[0] == "view":
            self.view.update(command[1])
        elif command[0] == "model_set":
            self.model_live[command[1]] = command[2]
        if self.running():
            self.worker.send(*command)

    def _session(self, paused: bool, train=None) -> Session:
        if self.model is None:
            raise RuntimeError("prepare() or adopt() a model first")
        train = train or self.train
        if self.step >= train.steps:  # the budget is spent: Play trains `steps` more
            train = dataclasses.replace(train, steps=self.step + train.steps)
        session = Session(self.model_name, self.dataset, self.model_cfg, train, model=self.model,
                          state=self.training_state, start_paused=paused, view=dict(self.view))
        session.send("delay", self.delay)
        for name, value in self.model_live.items():  # applied before the first step
            session.send("model_set", name, value)
        return session

    def preview(self) -> None:
        """One snapshot of the current model without training (an opened run shows its density at once)."""
        if self.model is None:
            return
        self.stop()
        session = self._session(paused=True, train=dataclasses.replace(self.train, steps=self.step + 1))
        gen = session.run()
        snap = next(gen)
        gen.close()
        self.model = session.model
        # the run's own plan, not the one-step session's: an opened 30-step run reads "step 30/30", not 30/31
        self.snapshot_ready.emit(dataclasses.replace(snap, status="paused", metrics={}, total_steps=self.train.steps))

    def run_sync(self, on_snapshot) -> str:
        """Train to the step budget on this thread (headless rendering); returns the final status."""
        self.stop()
        session, status = self._session(paused=False), "stopped"
        for snap in session.run():
            on_snapshot(snap)
            status = snap.status
        self._take_back(session)
        return status

    def _start(self, paused: bool, stop_at: int | None = None) -> None:
        if self.worker is not None and self.worker.is_running():
            self._retired.append(self.worker)  # still stopping: a QThread must not be destroyed while it runs
        self._retired = [w for w in self._retired if w.is_running()]
        session = self._session(paused)
        if self.run_folder is not None:
            if self.train.tensorboard:  # a missing package is refused now (ConfigError), not at the first row
                from genviz.core import tensorboard_log

                tensorboard_log.require()
            writer, self._writer = self._writer, None
            if writer is None:  # raises RunFolderError (naming the holder) when another process has the folder
                writer = runs.RunWriter(self.run_folder, self.dataset.spec, resume_step=self.step,
                                        checkpoint_every=self.checkpoint_every).open()
            session.writer = writer
        session.stop_at = stop_at
        self.run_id += 1
        self.worker = SessionWorker(session, self.run_id)
        self._collected = False
        self.worker.snapshot_ready.connect(self._on_snapshot)
        self.worker.failed.connect(self._on_failed)
        self.worker.finished.connect(self._on_finished)
        self.worker.progress.connect(self._on_progress)
        self.worker.start()

    def _on_snapshot(self, run_id: int, snap) -> None:
        if run_id == self.run_id:
            self.snapshot_ready.emit(snap)

    def _on_progress(self, run_id: int, step: int, total: int, rate: float, loss) -> None:
        if run_id == self.run_id:
            self.progress.emit(step, total, rate, loss)

    def _on_failed(self, run_id: int, message: str) -> None:
        if run_id == self.run_id:
            self.failed.emit(message)

    def _on_finished(self, run_id: int, status: str) -> None:
        if run_id != self.run_id:
            return  # a run that a Reset, switch or open already replaced
        self._collect()
        if not self._quiet_finish:
            self.finished.emit(status)

    def _collect(self) -> None:
        """Take the model, optimizer state and step back from a session that has ended."""
        if self.worker is None or self._collected:
            return
        if not self.worker.stop(timeout_s=5.0):
            return  # still inside a long step: collect when its finished signal arrives
        self._take_back(self.worker.session)
        self._collected = True

    def _take_back(self, s) -> None:
        """The ended session's model, step and optimizer state (and, where the core has it, its whole
        training state) carry over to the next Session."""
        self.model, self.training_state, self.step = s.model, s.training_state(), s.step
        if getattr(s, "writer", None) is not None:
            s.writer.lock.release()  # no-op when the session's own close already let it go

    def stop(self, timeout_s: float = 1.0) -> bool:
        """Stop the worker (if any) within `timeout_s`; True when no thread is left running. Signals the
        stopped run still has queued are dropped: the caller decides what the screen shows next."""
        if self.worker is None:
            return True
        was_running = self.running()
        ok = self.worker.stop(timeout_s)
        if ok:
            self._collect()
        if was_running:
            self.run_id += 1
        return ok

    def _drop_writer(self) -> None:
        """Give up the folder of a run that is replaced (the lock is released; a running session's writer is
        closed by its worker's stop)."""
        if self._writer is not None:
            self._writer.abort()
        had = self.run_folder is not None
        self.run_folder, self._writer = None, None
        if had:
            self.folder_changed.emit(None)

    # -- saving -----------------------------------------------------------------------------------
    def save_checkpoint(self, path, **extra):
        """Atomic checkpoint of the current model; while training, of the last finite snapshot's state."""
        if self.model is None:
            raise ValueError("there is no model to save: pick a model first")
        model, state = self.model, self.training_state
        if self.running() and self.worker.session.last_good is not None:
            _, weights, state = self.worker.session.last_good  # CPU copies made by the worker: safe to read
            model = registry.build(self.model_name, data_shape=self.dataset.shape, **self.model_cfg)
            model.load_state_dict(weights)
        if state is None:  # a fresh model: nothing trained yet
            return checkpoint.save(model, path, step=self.step, train=self.train, dataset=self.dataset.spec,
                                   **extra)
        return checkpoint.save(model, path, state=state, train=self.train, dataset=self.dataset.spec, **extra)


def _write_history(path: Path, history: dict, val_names=()) -> None:
    """metrics.csv from the loss plot's history (name -> (steps, values)): one row per step, as a RunWriter
    writes it (losses, then 'val_<name>' columns; `val_names` adds columns later snapshots will fill). No file
    without loss rows (the first session's writer then makes it)."""
    losses = {k: v for k, v in history.items() if not k.startswith("val_") and len(v[0])}
    if not losses:
        return
    vals = [k for k in history if k.startswith("val_")]
    vals += [f"val_{n}" for n in val_names if f"val_{n}" not in vals]
    steps = np.unique(np.concatenate([np.asarray(s, np.float64) for s, _ in losses.values()]))
    table = np.full((len(steps), 1 + len(losses) + len(vals)), np.nan)
    table[:, 0] = steps
    for j, name in enumerate([*losses, *vals], start=1):
        s, v = history.get(name, ((), ()))
        s, v = np.asarray(s, np.float64), np.asarray(v, np.float64)
        idx = np.minimum(np.searchsorted(steps, s), len(steps) - 1)
        ok = steps[idx] == s  # a held-out value at a step with no loss row is dropped, as a writer would
        table[idx[ok], j] = v[ok]
    lines = [",".join(["step", *losses, *vals])]
    lines += [",".join([str(int(r[0]))] + [f"{x:.6g}" if np.isfinite(x) else "" for x in r[1:]]) for r in table]
    with open(path, "w", newline="") as fh:  # csv.writer's line ends, as the RunWriter that appends after
        fh.write("\r\n".join(lines) + "\r\n")


def _read_history(folder: Path) -> dict:
    """metrics.csv of a run folder by column; {} if absent or damaged (that only costs the curve)."""
    if not (folder / "metrics.csv").is_file():
        return {}
    try:
        return runs.read_metrics(folder)
    except (OSError, ValueError):
        return {}


def _spread_subset(x: torch.Tensor, n: int):
    """Up to n rows of x, evenly spread (the points overlaid on the plots), as float32 numpy."""
    idx = torch.linspace(0, len(x) - 1, min(n, len(x))).long()
    return x[idx.to(x.device)].float().cpu().numpy()


def _check_fits(spec, dataset, train) -> None:
    if dataset.kind not in spec.data_kinds:
        raise config_mod.ConfigError("dataset", f"{spec.title or spec.name} trains on "
                                     f"{'/'.join(spec.data_kinds)} data, not {dataset.kind} ({dataset.name})")
    if train.batch_size > len(dataset.train):
        raise config_mod.ConfigError("batch_size", f"{train.batch_size} is larger than the "
                                     f"{len(dataset.train)} training examples")
