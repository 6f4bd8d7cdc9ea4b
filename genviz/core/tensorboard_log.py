"""TensorBoard scalars for a run folder (<run>/tb/), through PyTorch's own SummaryWriter.

People who already watch runs in TensorBoard keep that habit; genviz's model-aware views stay in the app.
The scalars are exactly metrics.csv's rows: one tag per column (`loss`, `val_nll`, ...) at the same steps.
`tensorboard` is an optional extra (pip install 'genviz[tensorboard]'), so it is imported only when asked
for, and `require()` lets a run refuse to start without it rather than fail mid-run.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from genviz.core.config import ConfigError
from genviz.core.run_reader import read_metrics

TB_DIR = "tb"
FLUSH_SECS = 5  # TensorBoard re-reads the folder every few seconds: keep a live run's curves current


def require():
    """The SummaryWriter class, or ConfigError('tensorboard', ...) in one line when it cannot be imported."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as e:  # torch re-raises a missing or too old package as ImportError
        raise ConfigError("tensorboard", f"needs the tensorboard package ({e}); pip install "
                                         "'genviz[tensorboard]', or train without --tensorboard") from None
    return SummaryWriter


class TensorBoardLog:
    """Scalars of one run folder. Opened on a resumed run it continues without duplicate steps: events at or
    after the first step trained again are purged (purge_step), and a folder that had no TensorBoard log yet
    (a run that turns it on when resumed, a fork into a new folder) gets metrics.csv's rows first."""

    def __init__(self, folder, resume_step: int | None):
        self.dir = Path(folder) / TB_DIR
        had_events = any(self.dir.glob("events.out.tfevents.*"))
        purge = resume_step + 1 if resume_step is not None and had_events else None
        self._w = require()(log_dir=str(self.dir), purge_step=purge, flush_secs=FLUSH_SECS)
        from tensorboard.compat.proto.summary_pb2 import Summary

        self._summary = Summary
        if not had_events:
            self._backfill(Path(folder) / "metrics.csv")

    def _backfill(self, metrics_csv: Path) -> None:
        try:
            cols = read_metrics(metrics_csv.parent)
        except OSError:
            return
        steps = cols.pop("step", np.zeros(0))
        for i, step in enumerate(steps):
            if np.isfinite(step):
                self.add_row(int(step), {h: float(v[i]) for h, v in cols.items() if not np.isnan(v[i])})

    def add_row(self, step: int, values: dict[str, float]) -> None:
        """One metrics.csv row: {column: value} at `step`, as one event holding every value (what add_scalar
        writes, one event per row rather than per value: half the cost, TensorBoard's pure-Python CRC
        dominating it; ~30 µs of CPU per row)."""
        if values:
            summary = self._summary(value=[self._summary.Value(tag=k, simple_value=float(v))
                                           for k, v in values.items()])
            self._w._get_file_writer().add_summary(summary, int(step))

    def flush(self) -> None:
        self._w.flush()

    def close(self) -> None:
        self._w.close()
