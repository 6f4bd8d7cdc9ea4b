"""Headless training with a tqdm progress bar: what `genviz train` and the benchmarks run."""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from genviz.core import checkpoint, registry
from genviz.core.distributed import Dist
from genviz.core.runs import RunWriter
from genviz.core.session import Session


@dataclass
class TrainResult:
    status: str
    step: int
    folder: Path | None
    metrics: dict = field(default_factory=dict)
    message: str = ""
    seconds: float = 0.0
    in_sync: bool = True

    def summary(self) -> str:
        m = ", ".join(f"val {k} {v:.4g}" for k, v in self.metrics.items())
        where = f" -> {self.folder}" if self.folder else ""
        text = f"{self.status} at step {self.step} in {self.seconds:.1f} s{', ' + m if m else ''}{where}"
        if not self.in_sync:
            text += " (WARNING: ranks disagree on the weights)"
        return text + (f"\n{self.message}" if self.message else "")


def resume_state(path) -> tuple:
    """(model, optimizer states, step) from a checkpoint file or a run folder holding checkpoint.pt."""
    p = Path(path)
    model, payload = checkpoint.load_full(p / "checkpoint.pt" if p.is_dir() else p)
    return model, payload.get("optimizers") or None, int(payload.get("step", 0)), payload["model"]


def train(model_name: str, ds, model_cfg: dict, train_cfg: dict, out=None, resume=None,
          progress: bool = True, dist: Dist | None = None) -> TrainResult:
    """Train to completion; `train_cfg['steps']` more steps when resuming. Writes `out` on the main rank."""
    dist = dist or Dist()
    registry.get(model_name)
    model, opt_state, start = None, None, 0
    if resume:
        model, opt_state, start, stored = resume_state(resume)
        if stored != model_name:
            raise checkpoint.CheckpointError(f"{resume} holds a {stored!r} model, not {model_name!r}")
    train = registry.train_config(model_name, train_cfg)
    train = dataclasses.replace(train, steps=start + train.steps, device=dist.device(train.device))
    writer = RunWriter(out, ds.name, len(ds.train)) if out is not None and dist.is_main else None
    session = Session(model_name, ds, model_cfg, train, model=model, optimizer_state=opt_state,
                      start_step=start, writer=writer, with_arrays=False)
    session.gen.manual_seed(train.seed + 1 + dist.rank)  # each rank draws its own batches
    dist.attach(session.model)
    t0 = time.perf_counter()
    bar = tqdm(total=train.steps, initial=start, disable=not progress, unit="step", dynamic_ncols=True)
    last = None
    try:
        for snap in session.run():
            bar.update(snap.step - bar.n)
            if snap.losses:
                bar.set_postfix({k: f"{v[-1]:.4g}" for k, v in list(snap.losses.items())[:3]}, refresh=False)
            last = snap
    except KeyboardInterrupt:  # Ctrl-C: keep what was trained
        if writer is not None:
            writer.close(session)
        raise
    finally:
        bar.close()
    return TrainResult(last.status, last.step, writer.folder if writer else None, dict(last.metrics),
                       last.message, time.perf_counter() - t0, dist.in_sync(session.model))
