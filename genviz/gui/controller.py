"""Owns the model between sessions and the worker during one; the window only calls these verbs.

A Session trains until its step budget; the controller keeps the model, optimizer state and step when it
ends, so Play continues in a new Session and Reset builds a fresh model. No widget code lives here.
"""
from __future__ import annotations

import dataclasses

import torch
from PySide6.QtCore import QObject, Signal

from genviz.core import checkpoint, registry
from genviz.core import config as config_mod
from genviz.core.session import Session
from genviz.gui.worker import SessionWorker


class _SavedOptimizer:
    """Stands in for an optimizer in checkpoint.save when only its state dict is at hand."""

    def __init__(self, state: dict):
        self._state = state

    def state_dict(self) -> dict:
        return self._state


class TrainingController(QObject):
    """Verbs: prepare (fresh model), adopt (loaded model), play, pause, step_once, stop; signals out."""

    snapshot_ready = Signal(object)
    finished = Signal(str)
    failed = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.model_name = ""
        self.dataset = None
        self.model_cfg: dict = {}
        self.train = config_mod.TrainConfig()
        self.model = None
        self.optimizer_state = None
        self.step = 0
        self.delay = 0.0
        self.worker: SessionWorker | None = None
        self._retired: list[SessionWorker] = []
        self._collected = True

    # -- set-up -----------------------------------------------------------------------------------
    def prepare(self, model_name: str, dataset, model_cfg: dict, train: config_mod.TrainConfig) -> None:
        """Validate everything and build a fresh model; raises ConfigError naming the bad field."""
        self.stop()
        spec = registry.get(model_name)
        cfg = registry.make_config(model_name, model_cfg)
        _check_fits(spec, dataset, train)
        torch.manual_seed(train.seed)
        model = spec.model_class()(cfg, dataset.shape)
        self._set(model_name, dataset, config_mod.to_dict(cfg), train, model, None, 0)

    def adopt(self, model, payload: dict, dataset, train: config_mod.TrainConfig) -> None:
        """Take over a loaded checkpoint's model, optimizer state and step (to look at or continue)."""
        self.stop()
        _check_fits(registry.get(payload["model"]), dataset, train)
        self._set(payload["model"], dataset, dict(payload["model_config"]), train, model,
                  payload.get("optimizers") or None, int(payload.get("step", 0)))

    def _set(self, name, dataset, cfg, train, model, opt_state, step) -> None:
        self.model_name, self.dataset, self.model_cfg, self.train = name, dataset, cfg, train
        self.model, self.optimizer_state, self.step = model, opt_state, step

    def info(self) -> dict:
        """What a panel's begin() gets."""
        d = self.dataset
        spec = registry.get(self.model_name)
        return {"model": self.model_name, "family": spec.family, "dataset": d.name, "kind": d.kind,
                "data_shape": d.shape, "bbox": d.bbox() if d.kind == "2d" else None,
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
        if self.running():
            self.worker.send("pause")

    def step_once(self) -> None:
        """Exactly one optimisation step, then paused."""
        if self.running() and self.worker.status == "running":
            self.worker.send("pause")
            self.worker.send("step", 1)
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
        """A panel's command (e.g. ("view", {...})); dropped when nothing runs."""
        if self.running():
            self.worker.send(*command)

    def _session(self, paused: bool) -> Session:
        if self.model is None:
            raise RuntimeError("prepare() or adopt() a model first")
        train = self.train
        if self.step >= train.steps:  # the budget is spent: Play trains `steps` more
            train = dataclasses.replace(train, steps=self.step + train.steps)
        session = Session(self.model_name, self.dataset, self.model_cfg, train, model=self.model,
                          optimizer_state=self.optimizer_state, start_step=self.step, start_paused=paused)
        session.send("delay", self.delay)
        return session

    def run_sync(self, on_snapshot) -> str:
        """Train to the step budget on this thread (headless rendering); returns the final status."""
        self.stop()
        session, status = self._session(paused=False), "stopped"
        for snap in session.run():
            on_snapshot(snap)
            status = snap.status
        self.model, self.optimizer_state, self.step = session.model, session.optimizer_state(), session.step
        return status

    def _start(self, paused: bool) -> None:
        if self.worker is not None and self.worker.is_running():
            self._retired.append(self.worker)  # still stopping: a QThread must not be destroyed while it runs
        self._retired = [w for w in self._retired if w.is_running()]
        self.worker = SessionWorker(self._session(paused))
        self._collected = False
        self.worker.snapshot_ready.connect(self.snapshot_ready)
        self.worker.failed.connect(self.failed)
        self.worker.finished.connect(self._on_finished)
        self.worker.start()

    def _on_finished(self, status: str) -> None:
        self._collect()
        self.finished.emit(status)

    def _collect(self) -> None:
        """Take the model, optimizer state and step back from a session that has ended."""
        if self.worker is None or self._collected:
            return
        if not self.worker.stop(timeout_s=5.0):
            return  # still inside a long step: collect when its finished signal arrives
        s = self.worker.session
        self.model, self.optimizer_state, self.step = s.model, s.optimizer_state(), s.step
        self._collected = True

    def stop(self, timeout_s: float = 1.0) -> bool:
        """Stop the worker (if any) within `timeout_s`; True when no thread is left running."""
        if self.worker is None:
            return True
        ok = self.worker.stop(timeout_s)
        if ok:
            self._collect()
        return ok

    # -- saving -----------------------------------------------------------------------------------
    def save_checkpoint(self, path, **extra):
        """Atomic checkpoint of the current model; while training, of the last finite snapshot's state."""
        if self.running() and self.worker.session.last_good is not None:
            s = self.worker.session
            step, state, opt_states = s.last_good  # CPU copies made by the worker: safe to read here
            model = registry.build(self.model_name, data_shape=self.dataset.shape, **self.model_cfg)
            model.load_state_dict(state)
        else:
            model, opt_states, step = self.model, self.optimizer_state or [], self.step
        return checkpoint.save(model, path, [_SavedOptimizer(o) for o in opt_states], step=step,
                               train=self.train, dataset=self.dataset.name, **extra)


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
