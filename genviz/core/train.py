"""Headless training with a tqdm progress bar: what `genviz train` and the benchmarks run.

A run folder belongs to one run: `train` refuses a folder that holds another run unless it resumes it,
locks it while writing, checkpoints every few seconds and on every way out (end, Ctrl-C, SIGTERM, a lost
torchrun peer, divergence), and resumes exactly: the checkpoint carries the whole training config, the
dataset's description, the optimizer states and every random stream.
"""
from __future__ import annotations

import dataclasses
import math
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from genviz.core import checkpoint, registry, runs, tensorboard_log
from genviz.core import config as config_mod
from genviz.core import data as data_mod
from genviz.core.config import ConfigError
from genviz.core.distributed import Dist
from genviz.core.session import LIVE_TRAIN_FIELDS, Session, apply_optimizer_settings, build_optimizers

# Exit statuses of `genviz train` (README: "What the CLI promises").
EXIT = {"done": 0, "error": 1, "bad_input": 2, "diverged": 3, "peer_lost": 4, "SIGINT": 130, "SIGTERM": 143}


@dataclass
class TrainResult:
    status: str  # done | stopped | diverged | peer_lost
    step: int
    folder: Path | None
    metrics: dict = field(default_factory=dict)
    message: str = ""
    seconds: float = 0.0
    in_sync: bool = True
    signal: str = ""  # SIGINT / SIGTERM when a signal stopped the run

    def summary(self) -> str:
        # a metric not defined yet (distillation's KL while its teacher trains) is left out, not printed as nan
        m = ", ".join(f"val {k} {v:.4g}" for k, v in self.metrics.items() if not math.isnan(v))
        where = f" -> {self.folder}" if self.folder else ""
        how = f" by {self.signal}" if self.signal and self.status == "stopped" else ""
        text = f"{self.status}{how} at step {self.step} in {self.seconds:.1f} s{', ' + m if m else ''}{where}"
        if not self.in_sync:
            text += " (WARNING: ranks disagree on the weights)"
        return text + (f"\n{self.message}" if self.message else "")

    @property
    def exit_code(self) -> int:
        if self.status in ("peer_lost", "diverged"):  # also when the launcher's SIGTERM followed
            return EXIT[self.status]
        if self.signal:
            return EXIT[self.signal]
        return EXIT.get(self.status, 0 if self.status == "stopped" else 1)


@dataclass
class Resumed:
    """What a checkpoint brings to a resumed run."""

    path: Path
    model: torch.nn.Module
    payload: dict

    @property
    def step(self) -> int:
        return int(self.payload.get("step", 0))

    @property
    def folder(self) -> Path | None:
        return self.path.parent if self.path.name == "checkpoint.pt" and (self.path.parent / "config.json").exists() \
            else None


def open_resume(path) -> Resumed:
    """The checkpoint at `path` (a file, or a run folder holding checkpoint.pt), validated."""
    p = Path(path)
    file = p / "checkpoint.pt" if p.is_dir() else p
    model, payload = checkpoint.load_full(file)
    return Resumed(file, model, payload)


def resumed_configs(res: Resumed, model_cfg: dict, train_cfg: dict) -> tuple[config_mod.TrainConfig, list[str]]:
    """The resumed run's TrainConfig: the stored one plus the overrides that may change on resume.

    Model settings may change only if the model declares them live (the others change its shape or
    meaning: refused). `steps` is the run's planned total; the schedule is planned over it. The seed is
    refused: the random streams continue from the checkpoint. Returns (config, notes for the user).
    """
    model, stored_cfg = res.model, res.payload["model_config"]
    notes = []
    for k, v in model_cfg.items():
        new = config_mod.coerce(type(model.cfg), k, v)
        if new == stored_cfg.get(k):
            continue
        if k not in getattr(model, "live_fields", ()):
            raise ConfigError(k, f"the run was trained with {k}={stored_cfg.get(k)!r}; a resumed run keeps its "
                                 f"model, so it cannot become {new!r}. Start a new run (another --out) to change it")
        model.set_live(k, new)
        notes.append(f"{k}: {stored_cfg.get(k)!r} -> {new!r}")
    stored = dict(res.payload.get("train") or {})
    base = registry.train_config(res.payload["model"], stored)
    changes = {}
    for k, v in train_cfg.items():
        new = config_mod.coerce(config_mod.TrainConfig, k, v)
        if new == getattr(base, k):
            continue
        if k == "seed":
            raise ConfigError("seed", f"the run's random streams continue from its checkpoint (seed "
                                      f"{base.seed}); start a new run to use seed {new}")
        if k not in (*LIVE_TRAIN_FIELDS, "device", "batch_size", "tensorboard"):
            raise ConfigError(k, "cannot change when resuming")
        changes[k] = new
        notes.append(f"{k}: {getattr(base, k)!r} -> {new!r}")
    train = config_mod.make(config_mod.TrainConfig, {**config_mod.to_dict(base), **changes})
    if train.steps <= res.step:
        if "steps" in changes or train.steps < res.step:
            raise ConfigError("steps", f"the run is at step {res.step}; --steps is the run's planned total, "
                                       f"so give more than {res.step}")
        raise ConfigError("steps", f"the run already finished its {train.steps} planned steps; give "
                                   f"--steps N with N > {res.step} (the new total) to train on")
    return train, notes


def resumed_dataset(res: Resumed, ds: data_mod.Dataset | None) -> data_mod.Dataset:
    """The run's own dataset; one given on the command line must be the same (else ConfigError)."""
    spec = checkpoint.dataset_spec(res.payload)
    if spec is None:
        if ds is None:
            raise ConfigError("dataset", f"{res.path} does not say what it was trained on; give --dataset")
        return ds
    if ds is not None:
        same = ds.spec.get("name") == spec.get("name") and all(
            ds.spec.get(k) == spec[k] for k in ("n", "seed", "points") if k in spec)
        if not same:
            raise ConfigError("dataset", f"the run trained on {_spec_text(spec)}, not {_spec_text(ds.spec)}; "
                                         "a resumed run keeps its data")
        return ds
    return data_mod.load_spec(spec)


def _spec_text(spec: dict) -> str:
    bits = [str(spec.get("name"))]
    if spec.get("name") == "custom":
        bits.append(f"({spec.get('n')} drawn/loaded points)")
    elif spec.get("n") is not None:
        bits.append(f"(n={spec.get('n')}, seed={spec.get('seed')})")
    return " ".join(bits)


def train(model_name: str | None, ds, model_cfg: dict, train_cfg: dict, out=None, resume=None,
          progress: bool = True, dist: Dist | None = None,
          checkpoint_every: float = runs.CHECKPOINT_EVERY_S, on_ready=None, until: int | None = None
          ) -> TrainResult:
    """Train to the planned total of steps; writes `out` on the main rank.

    `ds` may be None when resuming (the checkpoint's own data is loaded). Everything is validated before
    the folder is created, so a refused run leaves nothing behind. `on_ready(session)` is called once the
    run is set up (tests use it to stop a run part way).
    """
    dist = dist or Dist()
    res = open_resume(resume) if resume else None
    if res is not None:
        stored = res.payload["model"]
        if model_name not in (None, stored):
            raise checkpoint.CheckpointError(f"{resume} holds a {stored!r} model, not {model_name!r}")
        model_name = stored
        train, notes = resumed_configs(res, model_cfg, train_cfg)
        ds = resumed_dataset(res, ds)
    else:
        if model_name is None:
            raise ConfigError("model", "name a model (see `genviz list`) or --resume a run")
        registry.get(model_name)
        train, notes = registry.train_config(model_name, train_cfg, kind=getattr(ds, "kind", None)), []
    train = dataclasses.replace(train, device=dist.device(train.device))
    if train.tensorboard:
        tensorboard_log.require()  # refuse now, not at the first snapshot
    out = Path(out) if out is not None and dist.is_main else None
    metrics_from = None
    if out is not None:
        continuing = res is not None and res.folder is not None and out.resolve() == res.folder.resolve()
        if not continuing:
            runs.check_new_folder(out)
            metrics_from = res.folder if res is not None else None
    start = res.step if res is not None else 0
    if until is not None and not start < until <= train.steps:
        raise ConfigError("until", f"must be a step after {start} and at most the plan's {train.steps}, got {until}")
    session = _build_session(model_name, ds, model_cfg, train, res, dist)
    session.stop_at = until
    writer = None
    if out is not None:
        writer = runs.RunWriter(out, ds.spec or {"name": ds.name, "n": len(ds.train)},
                                resume_step=res.step if res is not None else None,
                                checkpoint_every=checkpoint_every, metrics_from=metrics_from,
                                parallel=dist.describe()).open()
        session.writer = writer
    dist.attach(session.model)
    if notes and progress:
        tqdm.write("resuming with " + "; ".join(notes))
    if on_ready is not None:
        on_ready(session)
    return _run(session, writer, dist, progress)


def _build_session(model_name, ds, model_cfg, train, res: Resumed | None, dist: Dist) -> Session:
    try:
        if res is None:
            return Session(model_name, ds, model_cfg, train, with_arrays=False, rank=dist.rank)
        try:
            return Session(model_name, ds, None, train, model=res.model, with_arrays=False, rank=dist.rank,
                           state=checkpoint.training_state(res.payload))
        except ValueError as e:
            if isinstance(e, ConfigError):
                raise
            raise checkpoint.CheckpointError(f"{res.path} cannot be resumed: {e}") from None
    except (torch.OutOfMemoryError, MemoryError) as e:
        raise ConfigError("model", f"the model or its data does not fit in memory ({_first_line(e)}); "
                                   "use smaller sizes (hidden, layers, batch_size)") from None
    except RuntimeError as e:
        if "allocate" in str(e) or "out of memory" in str(e):
            raise ConfigError("model", f"the model does not fit in memory ({_first_line(e)}); use smaller "
                                       "sizes (hidden, layers, batch_size)") from None
        raise


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0][:200]


def _run(session: Session, writer, dist: Dist, progress: bool) -> TrainResult:
    t0 = time.perf_counter()
    bar = tqdm(total=session.train.steps, initial=session.step, disable=not progress, unit="step",
               dynamic_ncols=True)
    last, caught, status, message = None, [], None, ""
    # the handlers stay in place while a failure is handled: a SIGTERM then must not cut the save short
    with _stop_on_signals(session, caught):
        try:
            for snap in session.run():
                bar.total = snap.total_steps
                bar.update(snap.step - bar.n)
                if snap.losses:
                    bar.set_postfix({k: f"{v[-1]:.4g}" for k, v in list(snap.losses.items())[:3]}, refresh=False)
                last = snap
        except Exception as e:
            status, message = _after_failure(session, writer, dist, e)
        finally:
            bar.close()
            if writer is not None and not writer.closed:
                writer.abort()
    if status is None:
        status, message = last.status, last.message
    in_sync = dist.in_sync(session.model) if status == "done" else True
    metrics = dict(last.metrics) if last is not None and status != "peer_lost" else {}
    return TrainResult(status, session.step, writer.folder if writer else None, metrics, message,
                       time.perf_counter() - t0, in_sync, caught[0] if caught else "")


def _after_failure(session: Session, writer, dist: Dist, e: Exception) -> tuple[str, str]:
    """A step that raised: out of memory is the user's sizes; under torchrun, a lost peer. Save what was
    verified last, then report in one line; anything else is a bug and propagates."""
    oom = isinstance(e, (torch.OutOfMemoryError, MemoryError)) or (
        isinstance(e, RuntimeError) and ("out of memory" in str(e) or "allocate" in str(e)))
    if not oom and not dist.enabled:
        raise e
    if oom and writer is not None and session.step == session.first_step:
        writer.discard()  # nothing was trained: leave no folder behind
        writer = None
    good = session.restore_last_good()
    saved = ""
    if writer is not None and good is not None:
        writer.close(session, "peer_lost" if not oom else "stopped", previews=False)
        saved = f"; saved step {session.step} (the last verified state) to {writer.folder}"
    if oom:
        raise ConfigError("model", f"training ran out of memory at step {session.step + 1} "
                                   f"({_first_line(e)}){saved}; use smaller sizes or batch_size") from None
    detail = _first_line(e).rsplit("] ", 1)[-1][:120]  # gloo prefixes its source location
    return "peer_lost", f"a torchrun peer stopped ({detail}){saved}"


@contextmanager
def _stop_on_signals(session: Session, caught: list):
    """Ctrl-C and SIGTERM ask the session to stop after its current step (it then checkpoints); more
    signals while it saves are ignored, so two quick Ctrl-C still leave a checkpoint."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, _frame):
        if not caught:
            caught.append(signal.Signals(signum).name)
            session.send("stop")

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def train_steps(name: str, data, steps: int, seed: int = 0, callback=None, train_overrides: dict | None = None,
                **model_overrides) -> torch.nn.Module:
    """Registry model `name` (config fields as kwargs) trained `steps` steps on `data`, quietly and in memory —
    no Session, no run folder: what the labs train. Batches come from a generator seeded `seed`, training noise
    from a TrainingStream seeded `seed` (torch's global generator is left alone); callback(step) after each step
    may return True to stop early. Returns the model in eval mode."""
    from genviz.core.rng import TrainingStream

    model = registry.build(name, data_shape=data.shape, seed=seed, **model_overrides)
    cfg = registry.train_config(name, {"steps": max(steps, 1), **(train_overrides or {})}, kind=data.kind)
    opts = build_optimizers(model, cfg)
    apply_optimizer_settings(opts, cfg)  # weight_decay, as a Session applies it
    gen, stream = torch.Generator().manual_seed(seed), TrainingStream(seed)
    model.train()
    for step in range(steps):
        x = model.fetch_batch(data, cfg.batch_size, gen)
        with stream:
            model.train_step(x, opts, cfg)
        if callback is not None and callback(step + 1):
            break
    return model.eval()
