"""A training session: a plain generator that steps a model and yields plain-data snapshots.

Core tests and the CLI iterate it synchronously; the GUI's worker pumps it on a QThread. Commands arrive
through `send()` (a thread-safe queue) and are drained between steps, so the GUI never touches the model.
Snapshots hold Python floats and numpy arrays copied out under no_grad: no tensor crosses a thread.
"""
from __future__ import annotations

import copy
import dataclasses
import math
import queue
import time
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch

from genviz.core import config as config_mod
from genviz.core import registry
from genviz.core.data import Dataset


@dataclass
class Snapshot:
    """What a panel draws. `losses` holds every step's values since the last snapshot (numpy, per name)."""

    step: int
    total_steps: int
    steps: np.ndarray  # step numbers of the loss values below
    losses: dict[str, np.ndarray]
    metrics: dict[str, float]  # held-out metrics at this step
    arrays: dict[str, np.ndarray]  # the family panel's plot data
    status: str = "running"  # running | paused | done | stopped | error
    message: str = ""
    steps_per_s: float = 0.0
    elapsed_s: float = 0.0

    @property
    def eta_s(self) -> float:
        left = self.total_steps - self.step
        return left / self.steps_per_s if self.steps_per_s > 0 else math.inf


# Settings that may change while a session runs, with what they change.
LIVE_TRAIN_FIELDS = ("lr", "snapshot_every", "grad_clip", "steps", "lr_schedule")


class Session:
    """Train `model` on `data`; iterate `run()` for snapshots.

    Commands: ("pause",), ("play",), ("step", n), ("stop",), ("set", field, value), ("delay", seconds),
    ("view", {...}), ("model_set", field, value) for the model's `live_fields`.
    """

    def __init__(self, model_name: str, data: Dataset, model_config: dict | None = None,
                 train: config_mod.TrainConfig | dict | None = None, model=None, optimizer_state=None,
                 start_step: int = 0, view: dict | None = None, start_paused: bool = False, writer=None,
                 with_arrays: bool = True):
        self.model_name = model_name
        self.spec = registry.get(model_name)
        self.train = train if isinstance(train, config_mod.TrainConfig) else registry.train_config(model_name, train)
        if data.kind not in self.spec.data_kinds:
            raise config_mod.ConfigError("dataset", f"{self.spec.title or model_name} trains on "
                                         f"{'/'.join(self.spec.data_kinds)} data, not {data.kind} ({data.name})")
        if self.train.batch_size > len(data.train):
            raise config_mod.ConfigError("batch_size", f"{self.train.batch_size} is larger than the "
                                         f"{len(data.train)} training examples")
        self.device = resolve_device(self.train.device)
        torch.manual_seed(self.train.seed)
        if model is None:
            model = registry.build(model_name, data_shape=data.shape, **(model_config or {}))
        self.model = model.to(self.device)
        self.data = data.to(self.device)
        self.optimizers = self.model.configure_optimizers(self.train)
        if optimizer_state is not None:
            for opt, st in zip(self.optimizers, optimizer_state):
                opt.load_state_dict(st)
        self.step = start_step
        self.view = {"bbox": data.bbox() if data.kind == "2d" else None, "res": 96, "n_samples": 1000,
                     **(view or {})}
        self.commands: queue.Queue = queue.Queue()
        self.paused = start_paused
        self.delay = 0.0
        self.writer = writer
        self.with_arrays = with_arrays  # headless runs skip the plot data: nobody looks at it
        self.last_good = None  # (step, model state, optimizer states) at the last finite snapshot
        self.gen = torch.Generator().manual_seed(self.train.seed + 1)

    # -- commands (any thread) --------------------------------------------------------------------
    def send(self, *command) -> None:
        self.commands.put(command)

    def _apply(self, cmd) -> None:
        kind = cmd[0]
        if kind == "pause":
            self.paused = True
        elif kind == "play":
            self.paused = False
        elif kind == "step":
            self._pending += int(cmd[1]) if len(cmd) > 1 else 1
        elif kind == "stop":
            self._stopped = True
        elif kind == "delay":
            self.delay = max(0.0, float(cmd[1]))
        elif kind == "set":
            self._set(cmd[1], cmd[2])
        elif kind == "view":
            self.view.update(cmd[1])
        elif kind == "model_set":  # a model-level live setting, e.g. ("model_set", "train_players", "D")
            self.model.set_live(cmd[1], cmd[2])
        else:
            raise ValueError(f"unknown session command {cmd!r}")

    def _set(self, name: str, value) -> None:
        if name not in LIVE_TRAIN_FIELDS:
            raise config_mod.ConfigError(name, "cannot change while training; reset to apply it")
        new = dataclasses.replace(self.train, **{name: config_mod.coerce(config_mod.TrainConfig, name, value)})
        config_mod.validate(new)
        self.train = new
        if name in ("lr", "lr_schedule"):
            self._set_lr(self._lr_factor())

    def _lr_factor(self) -> float:
        """The schedule's multiplier of lr at the current step (1 for a constant rate)."""
        if self.train.lr_schedule != "cosine":
            return 1.0
        frac = min(self.step / max(self.train.steps, 1), 1.0)
        return 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * frac))

    def _set_lr(self, factor: float) -> None:
        for opt in self.optimizers:
            for g in opt.param_groups:  # lr_scale keeps per-group ratios (e.g. a GAN's D/G rates)
                g["lr"] = self.train.lr * factor * g.get("lr_scale", 1.0)

    def _drain(self, block: bool = False) -> None:
        """Apply queued commands; with `block`, first wait (in short slices) until one arrives."""
        while block:
            try:
                self._apply_safely(self.commands.get(timeout=0.05))
                break
            except queue.Empty:
                continue
        while True:
            try:
                self._apply_safely(self.commands.get_nowait())
            except queue.Empty:
                return

    def _apply_safely(self, cmd) -> None:
        try:
            self._apply(cmd)
        except (ValueError, KeyError) as e:  # a bad live setting is reported, training goes on
            self._notice = str(e)

    # -- the loop -----------------------------------------------------------------------------------
    def run(self) -> Iterator[Snapshot]:
        """Yield a snapshot at start, every `snapshot_every` steps, on each single step, on pause and at the end."""
        self._pending, self._stopped, self._notice, self._data_sent = 0, False, "", False
        buf_steps, buf_losses = [], []
        self._drain()  # commands sent before run() (e.g. start paused) apply to the first snapshot
        t0, steps_at_t0 = time.perf_counter(), self.step
        self.model.train()
        yield self._snapshot([], [], "paused" if self.paused else "running", t0, steps_at_t0)
        was_paused = self.paused
        while True:
            self._drain()
            if self._notice:
                yield self._snapshot(buf_steps, buf_losses, "paused" if self.paused else "running", t0,
                                     steps_at_t0, self._notice)
                buf_steps, buf_losses, self._notice = [], [], ""
            if self._stopped:
                yield self._finish(buf_steps, buf_losses, "stopped", t0, steps_at_t0)
                return
            if self.paused and not was_paused:
                yield self._snapshot(buf_steps, buf_losses, "paused", t0, steps_at_t0)
                buf_steps, buf_losses = [], []
            if not self.paused and was_paused:
                t0, steps_at_t0 = time.perf_counter(), self.step  # steps/s counts running time only
            was_paused = self.paused
            if self.step >= self.train.steps:
                yield self._finish(buf_steps, buf_losses, "done", t0, steps_at_t0)
                return
            if self.paused and self._pending == 0:
                self._drain(block=True)  # idle until play / step / stop arrives
                continue
            if self.train.lr_schedule != "constant":
                self._set_lr(self._lr_factor())
            single = self.paused and self._pending > 0
            if single:
                self._pending -= 1
            batch = self.model.fetch_batch(self.data, self.train.batch_size, self.gen)
            terms = self.model.train_step(batch, self.optimizers, self.train)
            self.step += 1
            buf_steps.append(self.step)
            buf_losses.append(terms)
            if single or self.step % self.train.snapshot_every == 0 or self.step >= self.train.steps:
                snap = self._snapshot(buf_steps, buf_losses, "paused" if self.paused else "running",
                                      t0, steps_at_t0)
                buf_steps, buf_losses = [], []
                if snap.status == "error":
                    yield self._finish([], [], "error", t0, steps_at_t0, snap.message, snap)
                    return
                yield snap
            if self.delay:
                time.sleep(self.delay)

    def _finish(self, buf_steps, buf_losses, status, t0, s0, message="", snap=None) -> Snapshot:
        snap = snap or self._snapshot(buf_steps, buf_losses, status, t0, s0, message)
        snap.status = status
        if self.writer is not None:
            self.writer.close(self)
        return snap

    def _snapshot(self, buf_steps, buf_losses, status, t0, s0, message="") -> Snapshot:
        losses = {}
        if buf_losses:
            for k in buf_losses[0]:
                losses[k] = torch.stack([t[k].float() for t in buf_losses]).cpu().numpy()
        bad = [k for k, v in losses.items() if not np.all(np.isfinite(v))]
        elapsed = time.perf_counter() - t0
        rate = (self.step - s0) / elapsed if elapsed > 0 and self.step > s0 else 0.0
        steps = np.asarray(buf_steps, dtype=np.int64)
        if bad:
            return self._on_nonfinite(steps, losses, bad, rate, elapsed)
        self.last_good = (self.step, _cpu_state(self.model), [copy.deepcopy(o.state_dict()) for o in self.optimizers])
        with torch.no_grad():
            self.model.eval()
            metrics = self.model.val_metrics(self.data)
            arrays = self.model.visualize(self.data, self.view) if self.with_arrays else {}
            self.model.train()
        if not self._data_sent and self.data.kind == "2d":  # static: sent once per run
            self._data_sent = True
            arrays = {**arrays, "data": _subsample(self.data.train, 2000)}
        snap = Snapshot(self.step, self.train.steps, steps, losses, metrics, arrays, status, message, rate, elapsed)
        if self.writer is not None:
            self.writer.record(self, snap)
        return snap

    def _on_nonfinite(self, steps, losses, bad, rate, elapsed) -> Snapshot:
        good_step = self.last_good[0] if self.last_good else 0
        msg = (f"training stopped: the {', '.join(bad)} became NaN/inf by step {self.step}. The model was "
               f"restored to step {good_step}, the last finite state; try a lower learning rate or grad_clip.")
        if self.last_good:
            self.step = good_step
            self.model.load_state_dict(self.last_good[1])
            for opt, st in zip(self.optimizers, self.last_good[2]):
                opt.load_state_dict(st)
        return Snapshot(self.step, self.train.steps, steps, losses, {}, {}, "error", msg, rate, elapsed)

    def optimizer_state(self) -> list[dict]:
        return [o.state_dict() for o in self.optimizers]


def _cpu_state(model) -> dict:
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def _subsample(x: torch.Tensor, n: int) -> np.ndarray:
    idx = torch.linspace(0, len(x) - 1, min(n, len(x))).long().to(x.device)
    return x[idx].float().cpu().numpy()


def resolve_device(name: str) -> torch.device:
    """'cpu', 'cuda', 'cuda:N' or 'auto'; CUDA asked for but absent is a clear ConfigError."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise config_mod.ConfigError("device", "CUDA was asked for but torch sees no CUDA device; use cpu")
    return torch.device(name)
