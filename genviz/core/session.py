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
from genviz.core import registry, rng, weight_decay
from genviz.core.checkpoint import cpu_copy
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
    status: str = "running"  # running | paused | done | stopped | diverged | error
    message: str = ""
    steps_per_s: float = 0.0
    elapsed_s: float = 0.0

    @property
    def eta_s(self) -> float:
        left = self.total_steps - self.step
        return left / self.steps_per_s if self.steps_per_s > 0 else math.inf


# Settings that may change while a session runs, with what they change.
LIVE_TRAIN_FIELDS = ("lr", "snapshot_every", "grad_clip", "steps", "lr_schedule", "early_stop", "weight_decay", "l1")

# A loss "explodes" when it leaves its running range by this factor (of max(|typical loss|, 1)).
EXPLODE_FACTOR = 1e3
TERMINAL = ("done", "stopped", "diverged", "error")
HELD_OUT_OBJECTIVES = ("nll", "nelbo", "loss")
# A snapshot's work (held-out metrics, the verified state, the panel's arrays) stays within SNAPSHOT_BUDGET of the
# training time (#17: ≤ 10%). The metrics come with every snapshot; the arrays get what they leave, at least
# MIN_ARRAYS_SHARE (a model whose held-out pass is costly still redraws its views).
SNAPSHOT_BUDGET = 0.09
MIN_ARRAYS_SHARE = 0.02
# A run folder's checkpoint is written at a snapshot, whose held-out metrics verify the weights it saves. With a
# large held-out set (NADE on 10,000 MNIST digits: ~5 s) a checkpoint every 10 s spent a third of the run
# evaluating; such a snapshot waits until training since the last held-out evaluation took CHECKPOINT_BUDGET⁻¹
# times what that evaluation cost (the interval stretches from 10 s to ~100 s for NADE; small models keep 10 s).
CHECKPOINT_BUDGET = 0.05
# between snapshots (a GAN on MNIST: ~20 s apart; NADE 250 steps) the step, rate and loss still reach the
# caller this often through Session.on_progress: a window's status bar never sits at "step 0" while it trains
PROGRESS_EVERY_S = 0.25


class Session:
    """Train `model` on `data`; iterate `run()` for snapshots.

    Commands: ("pause",), ("play",), ("step", n), ("stop",), ("set", field, value), ("delay", seconds),
    ("view", {...}), ("model_set", field, value) for the model's `live_fields`.

    The session owns the run's random streams: `gen` draws the batches, `stream` is the training noise
    (swapped into torch's global generator only while a step runs, see rng.py). `training_state()` holds
    everything besides the weights that exact continuation needs; pass it back as `state=`.
    """

    def __init__(self, model_name: str, data: Dataset, model_config: dict | None = None,
                 train: config_mod.TrainConfig | dict | None = None, model=None, optimizer_state=None,
                 start_step: int = 0, view: dict | None = None, start_paused: bool = False, writer=None,
                 with_arrays: bool = True, state: dict | None = None, rank: int = 0):
        self.model_name = model_name
        self.spec = registry.get(model_name)
        self.train = (train if isinstance(train, config_mod.TrainConfig)
                      else registry.train_config(model_name, train, kind=data.kind))
        config_mod.validate(self.train)
        if data.kind not in self.spec.data_kinds:
            raise config_mod.ConfigError("dataset", f"{self.spec.title or model_name} trains on "
                                         f"{'/'.join(self.spec.data_kinds)} data, not {data.kind} ({data.name})")
        if self.train.batch_size > len(data.train):
            raise config_mod.ConfigError("batch_size", f"{self.train.batch_size} is larger than the "
                                         f"{len(data.train)} training examples")
        self.device = resolve_device(self.train.device)
        if model is None:
            model = registry.build(model_name, data_shape=data.shape, seed=self.train.seed, **(model_config or {}))
        self.model = model.to(self.device)
        self.data = data.to(self.device)
        self.optimizers = build_optimizers(self.model, self.train)
        self.step = int(start_step)
        self._loss_level: dict[str, float] = {}  # each loss term's running level of |value| (explosion checks)
        # early stopping: the best held-out objective so far and its step
        self.best: dict = {"step": None, "value": math.inf}
        self.gen = torch.Generator().manual_seed(self.train.seed + 1 + rank)  # each rank its own batches
        self.stream = rng.TrainingStream(self.train.seed + STREAM_SEED_OFFSET, self.device)
        if optimizer_state is not None:
            load_optimizer_states(self.optimizers, optimizer_state)
        if state is not None:
            self.load_training_state(state)
        self.first_step = self.step  # where this session started (a resumed run's checkpoint step)
        self._set_lr(self._lr_factor())  # a loaded optimizer state brings its old lr; the config decides
        self.view = {"bbox": data.bbox() if data.kind == "2d" else None, "res": 96, "n_samples": 1000,
                     **(view or {})}
        # SimpleQueue: its put() is reentrant, so the CLI's signal handler may send while this thread drains
        self.commands: queue.SimpleQueue = queue.SimpleQueue()
        self.paused = start_paused
        self.delay = 0.0
        self.writer = writer
        # on_progress(step, total steps, steps/s, loss or None): called from the training thread after a step, at most
        # every PROGRESS_EVERY_S; plain numbers, no evaluation (a GUI's worker passes them on by a signal)
        self.on_progress = None
        self._progress_t = 0.0
        self.with_arrays = with_arrays  # headless runs skip the plot data: nobody looks at it
        # The panel's arrays (density grids, samples, traces) cost far more than the losses. They are
        # recomputed once training since the last ones took share⁻¹ times what they cost (_arrays_share: what
        # the rest of the snapshots leave of SNAPSHOT_BUDGET), so snapshots stay within it at any snapshot
        # rate; a first, single-step, paused or final snapshot and any view change always get fresh ones.
        self._arrays_cost = 0.0
        self._train_at_arrays = 0.0
        self._metrics_cost = 0.0  # the last held-out evaluation's seconds, and training seconds when it ran
        self._train_at_metrics = 0.0
        self._arrays_due = True
        self._arrays_step = None
        self.last_good = None  # (step, CPU weights, training_state) at the last verified snapshot
        self.last_snapshot: Snapshot | None = None
        self.stop_at: int | None = None  # stop (resumably) at this step; the plan stays train.steps
        # where this session's time went (bench_snapshots.py); "arrays" is the part of "snapshot" spent on views
        self.seconds = {"train": 0.0, "snapshot": 0.0, "arrays": 0.0}

    # -- state for checkpoints and continuation ---------------------------------------------------------
    def training_state(self) -> dict:
        """Step, optimizer states, random streams and model-held extras: CPU copies, safe to keep."""
        return {"step": int(self.step),
                "optimizers": [cpu_copy(o.state_dict()) for o in self.optimizers],
                "rng": {"batches": rng.generator_state(self.gen), "train": self.stream.state()},
                "model_extras": cpu_copy(self.model.training_extras()),
                "loss_levels": dict(self._loss_level), "best": dict(self.best)}

    def load_training_state(self, state: dict) -> None:
        """Take a `training_state()` (e.g. from a checkpoint); ValueError says what does not fit."""
        if not isinstance(state, dict):
            raise ValueError("the training state is not a dict")
        step = state.get("step", 0)
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise ValueError(f"the step must be a whole number ≥ 0, got {step!r}")
        load_optimizer_states(self.optimizers, state.get("optimizers") or [])
        streams = state.get("rng") or {}
        if "batches" in streams:
            rng.load_generator_state(self.gen, streams["batches"])
        if "train" in streams:
            self.stream.load(streams["train"])
        self.model.load_training_extras(state.get("model_extras") or {})
        best = state.get("best")
        if isinstance(best, dict) and {"step", "value"} <= set(best):
            self.best = dict(best)
        levels = state.get("loss_levels") or {}
        self._loss_level = {str(k): float(v) for k, v in levels.items()} if isinstance(levels, dict) else {}
        self.step = step

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
            self._arrays_due = True
        elif kind == "model_set":  # a model-level live setting, e.g. ("model_set", "train_players", "D")
            self.model.set_live(cmd[1], cmd[2])
            self._arrays_due = True
        else:
            raise ValueError(f"unknown session command {cmd!r}")

    def _set(self, name: str, value) -> None:
        if name not in LIVE_TRAIN_FIELDS:
            raise config_mod.ConfigError(name, "cannot change while training; reset to apply it")
        new = dataclasses.replace(self.train, **{name: config_mod.coerce(config_mod.TrainConfig, name, value)})
        config_mod.validate(new)
        self.train = new
        if name in ("lr", "lr_schedule", "weight_decay", "l1"):
            self._set_lr(self._lr_factor())

    def _lr_factor(self) -> float:
        """The schedule's multiplier of lr at the current step (1 for a constant rate).

        The plan is the run's total `steps`, stored in its config, so a resumed run continues the same curve.
        """
        if self.train.lr_schedule != "cosine":
            return 1.0
        frac = min(self.step / max(self.train.steps, 1), 1.0)
        return 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * frac))

    def _set_lr(self, factor: float) -> None:
        apply_optimizer_settings(self.optimizers, self.train, factor)

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
        """Yield a snapshot at start, every `snapshot_every` steps, on each single step, on pause and at the end.

        No two snapshots compute the same step: a pause or stop right after a snapshot repeats its data
        with the new status instead of evaluating the model again.
        """
        self._pending, self._stopped, self._notice, self._data_sent = 0, False, "", False
        self._objective_phase = getattr(self.model, "objective_phase", 0)
        self._progress_t = 0.0  # the first step of every Play is reported at once
        self._buf_steps, self._buf_losses = [], []
        self._drain()  # commands sent before run() (e.g. start paused) apply to the first snapshot
        self._t0, self._s0 = time.perf_counter(), self.step
        self.model.train()
        first = self._snapshot("paused" if self.paused else "running")
        yield first
        if first.status in TERMINAL:
            return
        was_paused = self.paused
        while True:
            self._drain()
            if self._notice:
                yield self._status_snapshot("paused" if self.paused else "running", self._notice)
                self._notice = ""
            if self._stopped:
                yield self._finish("stopped")
                return
            if self.paused and not was_paused:
                self._arrays_due = True
                yield self._status_snapshot("paused")
            if not self.paused and was_paused:
                self._t0, self._s0 = time.perf_counter(), self.step  # steps/s counts running time only
            was_paused = self.paused
            if self.step >= self.train.steps:
                yield self._finish("done")
                return
            if self._early_stop_due():
                b = self.best
                yield self._finish("stopped", f"early stop at step {self.step}: held-out {b.get('metric', 'nll')} "
                                              f"has not improved for {self.step - b['step']:,} steps; best "
                                              f"{b['value']:.4g} at step {b['step']:,}")
                return
            if self.stop_at is not None and self.step >= self.stop_at:
                yield self._finish("stopped", f"stopped at step {self.step} as asked; resume to go on")
                return
            if self.paused and self._pending == 0:
                self._drain(block=True)  # idle until play / step / stop arrives
                continue
            single = self.paused and self._pending > 0
            if single:
                self._pending -= 1
            phase = getattr(self.model, "objective_phase", 0)
            if phase != self._objective_phase:  # the loss now measures something else (distillation: KL after NLL)
                self._objective_phase = phase
                if self._buf_steps:  # the old objective's steps are checked against their own level first
                    snap = self._snapshot("paused" if self.paused else "running")
                    yield snap
                    if snap.status in TERMINAL:
                        return
                self._loss_level = {k: v for k, v in self._loss_level.items() if not _objective(k)}  # new level
            self._train_one_step()
            if self.step >= self.train.steps or self.step == self.stop_at:
                continue  # the final snapshot comes from _finish, once
            due = self.writer is not None and self.writer.checkpoint_due() and self._checkpoint_affordable()
            if single or due or self.step % self.train.snapshot_every == 0:
                self._arrays_due |= single
                snap = self._snapshot("paused" if self.paused else "running")
                yield snap
                if snap.status in TERMINAL:
                    return
            if self.delay:
                time.sleep(self.delay)

    def _train_one_step(self) -> None:
        if self.train.lr_schedule != "constant":
            self._set_lr(self._lr_factor())
        gen_before = self.gen.get_state()
        t0 = time.perf_counter()
        try:
            with self.stream:
                batch = self.model.fetch_batch(self.data, self.train.batch_size, self.gen)
                terms = self.model.train_step(batch, self.optimizers, self.train)
        except BaseException:
            self.gen.set_state(gen_before)  # a failed step leaves the batch stream where it was
            raise
        now = time.perf_counter()
        self.seconds["train"] += now - t0
        self.step += 1
        self._buf_steps.append(self.step)
        self._buf_losses.append(terms)
        if self.on_progress is not None and now - self._progress_t >= PROGRESS_EVERY_S:
            self._progress_t = now
            first = next(iter(terms.values()), None)  # the loss the status bar shows for a snapshot too
            self.on_progress(self.step, self.train.steps, self._rate()[0], None if first is None else float(first))

    def _finish(self, status: str, message: str = "") -> Snapshot:
        """The run's last snapshot (computed unless nothing happened since the last one) and the writer's close."""
        self._arrays_due = True
        last = self.last_snapshot
        if not self._buf_steps and last is not None and last.step == self.step and last.status not in TERMINAL:
            snap = self._status_snapshot(status, message)
        else:
            snap = self._snapshot(status, message)
        if snap.status == "diverged":
            return snap  # _diverged closed the writer already
        snap.status = status
        if self.writer is not None:
            self.writer.close(self, status)
        return snap

    def _status_snapshot(self, status: str, message: str = "") -> Snapshot:
        """A new status for the last snapshot's step: no evaluation; losses since then are passed on."""
        last = self.last_snapshot
        if self._buf_steps or last is None or last.step != self.step:
            return self._snapshot(status, message)
        rate, elapsed = self._rate()
        arrays = {}
        if self._arrays_due and self.with_arrays and self._arrays_step != self.step:
            arrays = self._arrays()  # the picture catches up with the weights it stops at
        return Snapshot(self.step, self.train.steps, np.zeros(0, np.int64), {}, dict(last.metrics), arrays,
                        status, message, rate, elapsed)

    def _rate(self) -> tuple[float, float]:
        elapsed = time.perf_counter() - self._t0
        rate = (self.step - self._s0) / elapsed if elapsed > 0 and self.step > self._s0 else 0.0
        return rate, elapsed

    def _take_buffer(self) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        losses = {}
        if self._buf_losses:
            for k in self._buf_losses[0]:
                losses[k] = torch.stack([t[k].float() for t in self._buf_losses]).cpu().numpy()
        steps = np.asarray(self._buf_steps, dtype=np.int64)
        self._buf_steps, self._buf_losses = [], []
        return steps, losses

    def _snapshot(self, status: str, message: str = "") -> Snapshot:
        t0 = time.perf_counter()
        try:
            return self._compute_snapshot(status, message)
        finally:
            self.seconds["snapshot"] += time.perf_counter() - t0

    def _compute_snapshot(self, status: str, message: str = "") -> Snapshot:
        steps, losses = self._take_buffer()
        rate, elapsed = self._rate()
        problem = self._health(losses)
        metrics = {}
        if problem is None:
            t0 = time.perf_counter()
            with torch.no_grad():
                self.model.eval()
                metrics = self.model.val_metrics(self.data)
                self.model.train()
            self._metrics_cost, self._train_at_metrics = time.perf_counter() - t0, self.seconds["train"]
            bad = [k for k, v in metrics.items() if not math.isfinite(float(v)) and k not in self.model.pending_metrics]
            if bad:  # held-out metrics on these exact weights: the weights are not usable
                problem = f"the held-out {', '.join(bad)} became NaN/inf"
            else:
                problem = self._explosion(metrics, "held-out ")
        if problem is not None:
            return self._diverged(steps, losses, problem, rate, elapsed)
        self._track_best(metrics)  # first: the verified state restored after a divergence keeps this best
        self.last_good = (self.step, cpu_copy(self.model.state_dict()), self.training_state())
        arrays = {}
        budget_ok = (self.seconds["train"] - self._train_at_arrays) * self._arrays_share() >= self._arrays_cost
        if self.with_arrays and (self._arrays_due or budget_ok):
            arrays = self._arrays()
        if not self._data_sent and self.data.kind == "2d":  # static: sent once per run
            self._data_sent = True
            arrays = {**arrays, "data": _subsample(self.data.train, 2000)}
        snap = Snapshot(self.step, self.train.steps, steps, losses, metrics, arrays, status, message, rate, elapsed)
        self.last_snapshot = snap
        if self.writer is not None:
            self.writer.record(self, snap)
        return snap

    def _checkpoint_affordable(self) -> bool:
        """Whether a checkpoint's snapshot (held-out metrics included) keeps them within CHECKPOINT_BUDGET."""
        return (self.seconds["train"] - self._train_at_metrics) * CHECKPOINT_BUDGET >= self._metrics_cost

    def _track_best(self, metrics: dict) -> None:
        """Early stopping's bookkeeping on a verified snapshot: a new best is saved (best.pt) by the writer."""
        key = next((k for k in HELD_OUT_OBJECTIVES if k in metrics), None)
        if key is not None and metrics[key] < self.best["value"]:
            self.best = {"step": self.step, "value": float(metrics[key]), "metric": key}
            if self.writer is not None:
                self.writer.save_best(self)

    def _early_stop_due(self) -> bool:
        """Judged right after a snapshot's held-out metrics, with patience in steps, not snapshots: extra
        snapshots (a checkpoint's, a pause's) must not shorten it."""
        b, last = self.best, self.last_snapshot
        return (self.train.early_stop > 0 and b["step"] is not None and last is not None
                and last.step == self.step and self.step - b["step"] >= self.train.early_stop)

    def _arrays_share(self) -> float:
        """The arrays' share of training time: what held-out metrics and the rest of the snapshots have left
        of SNAPSHOT_BUDGET so far (on a slower machine or with a costly held-out pass, views refresh less
        often rather than training slowing down)."""
        rest = (self.seconds["snapshot"] - self.seconds["arrays"]) / max(self.seconds["train"], 1e-9)
        return max(MIN_ARRAYS_SHARE, SNAPSHOT_BUDGET - rest)

    def _arrays(self) -> dict:
        t0 = time.perf_counter()
        with torch.no_grad():
            self.model.eval()
            arrays = self.model.visualize(self.data, self.view)
            self.model.train()
        self._arrays_cost = time.perf_counter() - t0
        self.seconds["arrays"] += self._arrays_cost
        self._train_at_arrays = self.seconds["train"]
        self._arrays_due, self._arrays_step = False, self.step
        return arrays

    # -- divergence -----------------------------------------------------------------------------------
    def _health(self, losses: dict[str, np.ndarray]) -> str | None:
        """None when the losses, weights and gradients look sane; else what went wrong, in words."""
        bad = [k for k, v in losses.items() if not np.all(np.isfinite(v))]
        if bad:
            i = int(np.argmax(~np.isfinite(losses[bad[0]])))
            return f"the {', '.join(bad)} became NaN/inf at step {self.step - len(losses[bad[0]]) + 1 + i}"
        params = [p for p in self.model.parameters()]
        if not _all_finite(params):
            return "the weights became NaN/inf"
        if not _all_finite([p.grad for p in params if p.grad is not None]):
            return "the gradients became NaN/inf"
        return self._explosion(losses, "")

    def _explosion(self, values: dict, prefix: str) -> str | None:
        """The objectives (loss, loss_d, ...; held out: nll, nelbo) must stay within EXPLODE_FACTOR of
        their running level; monitoring terms (a KL watched while a teacher trains, D's outputs) may roam."""
        for k, v in values.items():
            if not (_objective(k) or (prefix and k in HELD_OUT_OBJECTIVES)):
                continue
            v = np.atleast_1d(np.asarray(v, np.float64))
            if not len(v):
                continue
            key = prefix + k
            level = self._loss_level.get(key)
            # the first steps set the scale: their weights are the initial ones, or barely moved from them
            ref = float(np.min(np.abs(v[:3]))) if level is None else level
            over = np.abs(v) > EXPLODE_FACTOR * max(ref, 1.0)
            if over.any():
                i = int(np.argmax(over))
                at = self.step - len(v) + 1 + i
                return (f"the {prefix}{k} exploded to {float(v[i]):.3g} at step {at} "
                        f"(its running level was {ref:.3g})")
            self._loss_level[key] = min(ref, float(np.median(np.abs(v))))
        return None

    def _diverged(self, steps, losses, problem: str, rate: float, elapsed: float) -> Snapshot:
        """Restore the last verified state, checkpoint it, and end the run with status "diverged"."""
        at = self.step
        good = self.last_good
        if self.restore_last_good() is not None:
            where = f"restored to step {good[0]}, the last state whose weights and held-out metrics were finite"
        else:
            where = "no earlier state was verified, so nothing was restored"
        msg = (f"diverged by step {at}: {problem}. The model was {where}. Try a lower learning rate "
               f"or grad_clip.")
        snap = Snapshot(self.step, self.train.steps, steps, losses, {}, {}, "diverged", msg, rate, elapsed)
        self.last_snapshot = snap
        if self.writer is not None:
            self.writer.record(self, snap)
            self.writer.close(self, "diverged", checkpoint=good is not None)
        return snap

    def restore_last_good(self) -> int | None:
        """Go back to the last verified snapshot's weights, optimizer and random states; its step (or None)."""
        if self.last_good is None:
            return None
        step, weights, state = self.last_good
        self.model.load_state_dict(weights)
        self.load_training_state(state)
        self._buf_steps, self._buf_losses = [], []
        return step

    def optimizer_state(self) -> list[dict]:
        return [o.state_dict() for o in self.optimizers]


def _all_finite(tensors: list) -> bool:
    """Whether every value of every tensor is finite, in one pass of torch's foreach norm (as clip_grad_norm_
    takes it). A NaN or inf value makes its tensor's 2-norm NaN or inf; a 2-norm that is not finite may also
    come from huge finite values (squares past float32's range), so those tensors are checked again by their
    largest |value|, which is not finite exactly when one of the values is not. The 2-norm first: on a CPU its
    kernel is vectorized and the max-norm's is not (the VAE's 1.3M weights: 0.12 ms against 2.1, twice at
    every snapshot)."""
    tensors = [t.detach() for t in tensors if t.numel()]
    if not tensors:
        return True
    ok = torch.isfinite(torch.stack(torch._foreach_norm(tensors, 2))).tolist()
    again = [t for t, fine in zip(tensors, ok) if not fine]
    return not again or bool(torch.isfinite(torch.stack(torch._foreach_norm(again, float("inf")))).all())


def build_optimizers(model, train: config_mod.TrainConfig) -> list:
    """The model's optimizers, with weight decay's pull on its weights attached (weight_decay.py)."""
    optimizers = model.configure_optimizers(train)
    weight_decay.attach(model, optimizers)
    return optimizers


def apply_optimizer_settings(optimizers, train: config_mod.TrainConfig, lr_factor: float = 1.0) -> None:
    """The config owns every group's lr (times the schedule's factor) and the pulls on the model's weights, not
    its biases ("l2" = weight_decay, "l1"; Adam's own weight_decay stays 0); a loaded optimizer state brings its
    own, and a model's configure_optimizers sets only lr."""
    for opt in optimizers:
        if (train.weight_decay or train.l1) and not getattr(opt, "decays_weights", False):
            raise RuntimeError("weight_decay and l1 need the optimizers from build_optimizers (weight_decay.attach)")
        for g in opt.param_groups:  # lr_scale keeps per-group ratios (e.g. a GAN's D/G rates)
            g["lr"] = train.lr * lr_factor * g.get("lr_scale", 1.0)
            if "weight_decay" in g:
                g["weight_decay"] = 0.0  # a state saved before the pull brings Adam's decay on every tensor
            g["l2"], g["l1"] = train.weight_decay, train.l1


def load_optimizer_states(optimizers, states) -> None:
    """Load saved optimizer states into `optimizers`; ValueError says what does not fit (count, type, shape)."""
    if not isinstance(states, (list, tuple)):
        raise ValueError("the optimizer states are not a list")
    if states and len(states) != len(optimizers):
        raise ValueError(f"{len(states)} optimizer states for a model with {len(optimizers)} optimizers")
    for opt, st in zip(optimizers, states):
        if not isinstance(st, dict):
            raise ValueError("an optimizer state is not a dict")
        try:
            opt.load_state_dict(copy.deepcopy(st))
        except (ValueError, KeyError, TypeError, IndexError, RuntimeError) as e:
            raise ValueError(f"the optimizer state does not fit this model ({type(e).__name__}: "
                             f"{str(e)[:200]})") from None
        for param, group in opt.state.items():  # a state that loads can still hold the wrong shapes
            for name, v in group.items():
                if isinstance(v, torch.Tensor) and v.dim() > 0 and (
                        not v.is_floating_point() or v.shape != param.shape):
                    raise ValueError(f"the optimizer state's {name} has shape {tuple(v.shape)} for a "
                                     f"parameter of shape {tuple(param.shape)}")


def _objective(term: str) -> bool:
    """A training objective ('loss', 'loss_d', ...), as against a term only watched (a KL, D's outputs)."""
    return term == "loss" or term.startswith("loss_")


STREAM_SEED_OFFSET = 0x5EED  # the training noise's seed differs from the initialisation's


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
