"""One Arena column: a model's heatmap, its samples over the data and its loss curve, with its own controls.

The column owns one TrainingController (one worker, one QThread while it trains). Snapshots are merged when
they arrive (losses appended to a growing series, the newest arrays kept) and drawn only by `redraw()`, which
the Arena window's timer calls: bursts of snapshots from five workers cost one redraw per tick.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QSizePolicy, QToolButton, QVBoxLayout

from genviz.core import registry
from genviz.gui.controller import TrainingController
from genviz.gui.loss_plot import Series, ema
from genviz.gui.panels.density2d import DATA_BRUSH, DATA_GREY, SAMPLE_BRUSH, plane
from genviz.gui.panels.toolkit import Heatmap, density_levels, plain_axes
from genviz.gui.theme import CURVE_COLORS

ARENA_VIEW = {"res": 64, "n_samples": 500}  # a 64² grid and 500 samples: cheap to compute and to draw
SNAPSHOT_EVERY = 100  # at most a few snapshots a second per model, whatever its speed
SMOOTH = 0.05  # EMA weight of the loss curve: GAN and VAE losses are noisy step to step
TITLE_SIZE = "9pt"  # five columns side by side at 1280 px: short titles in a small font


def heat_of(family: str, arrays: dict) -> tuple[np.ndarray, str, tuple] | None:
    """(image, title, levels) of what the column's heatmap shows for a snapshot's arrays; None if nothing."""
    if "log_density" in arrays:
        p = np.exp(np.clip(arrays["log_density"], -50.0, 20.0)).astype(np.float32)
        title = {"flows": "p(x) exact", "autoregressive": "p(x) exact", "ebm": "p(x) grid-norm.",
                 "vae": "p(x) IWAE k=32"}.get(family, "p(x)")
        return p, title, density_levels(p)
    if "d_grid" in arrays:  # a GAN has no density: show what its discriminator believes
        return np.asarray(arrays["d_grid"], np.float32), "D(x), no p(x)", (0.0, 1.0)
    return None


def loss_names(losses: dict) -> list[str]:
    """The objective(s) a column plots: 'loss', or a two-player model's loss_d and loss_g."""
    if "loss" in losses:
        return ["loss"]
    return [k for k in losses if k.startswith("loss")][:2] or list(losses)[:1]


class ArenaColumn(QFrame):
    """Column for one model; `controller` trains it, `redraw()` draws what arrived since the last call."""

    remove_requested = Signal(str)  # model name

    def __init__(self, model_name: str, parent=None):
        super().__init__(parent)
        self.name = model_name
        self.spec = registry.get(model_name)
        self.controller = TrainingController(self)
        self.controller.snapshot_ready.connect(self.on_snapshot)
        self.controller.finished.connect(lambda _status: self._set_playing(False))
        self.series: dict[str, Series] = {}
        self._smooth_state: dict[str, float] = {}
        self.latest = None  # the newest snapshot (its arrays are drawn)
        self.arrays: dict = {}  # the newest non-empty arrays
        self.dirty = False
        self.wall_s = 0.0  # seconds spent training in this window (wall clock, all sessions)
        self._build()

    # -- widgets ------------------------------------------------------------------------------------
    def _build(self) -> None:
        self.setFrameShape(QFrame.StyledPanel)
        self.setMinimumWidth(180)
        head = QHBoxLayout()
        head.setContentsMargins(4, 2, 4, 0)
        self.title = QLabel(f"<b>{self.name}</b> <span style='color:#8a8f98'>{self.spec.family}</span>")
        self.title.setToolTip(f"{self.spec.title}: {self.spec.summary}")
        self.title.setMinimumWidth(10)
        self.pause_btn = QToolButton(text="Play")
        self.pause_btn.setObjectName(f"arena_play_{self.name}")
        self.pause_btn.setToolTip("play or pause this model only; the others keep their state")
        self.pause_btn.clicked.connect(self.toggle)
        self.remove_btn = QToolButton(text="✕")
        self.remove_btn.setObjectName(f"arena_remove_{self.name}")
        self.remove_btn.setToolTip("remove this model from the arena (the others keep training)")
        self.remove_btn.clicked.connect(lambda: self.remove_requested.emit(self.name))
        head.addWidget(self.title, 1)
        head.addWidget(self.pause_btn)
        head.addWidget(self.remove_btn)
        self.status = QLabel("not started")
        self.status.setStyleSheet("color:#8a8f98")
        self.status.setContentsMargins(4, 0, 4, 0)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.heat_plot = self._plane(0, "density")
        self.heat_plot.setToolTip("the model's density p(x): exact (flows, autoregressive), normalized on a grid "
                                  "(EBM), an importance-weighted estimate with 32 samples (VAE); a GAN has no "
                                  "density, so its discriminator D(x) is shown. Grey: training points.")
        self.heatmap = Heatmap(self.heat_plot, "inferno")
        self.data_dots = pg.ScatterPlotItem(size=2, pen=None, brush=DATA_BRUSH)
        self.heat_plot.addItem(self.data_dots)
        what = "Langevin negatives" if self.spec.family == "ebm" else "samples"
        self.samples_plot = self._plane(1, f"{what} · data")
        self.samples_plot.setToolTip(f"model {what} (orange) over the training data (grey)")
        self.data_grey = pg.ScatterPlotItem(size=2, pen=None, brush=DATA_GREY)
        self.sample_dots = pg.ScatterPlotItem(size=3, pen=None, brush=SAMPLE_BRUSH)
        self.samples_plot.addItem(self.data_grey)
        self.samples_plot.addItem(self.sample_dots)
        self.loss_plot = self.graphics.addPlot(row=2, col=0)
        self.loss_plot.setTitle("training loss", size=TITLE_SIZE)
        self.loss_plot.setToolTip("the training objective, EMA-smoothed; dashed: the data's true entropy")
        self.loss_plot.setLabel("bottom", "step")
        self.loss_plot.addLegend(offset=(-4, 4), labelTextSize="7pt")
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.entropy_line = None
        plain_axes(self.graphics)
        v = QVBoxLayout(self)
        v.setContentsMargins(2, 2, 2, 2)
        v.setSpacing(1)
        v.addLayout(head)
        v.addWidget(self.status)
        v.addWidget(self.graphics, 1)

    def _plane(self, row: int, title: str) -> pg.PlotItem:
        """An aspect-locked data plane; no x₁/x₂ labels (every column shares the data's axes)."""
        p = plane(self.graphics.addPlot(row=row, col=0))
        p.setTitle(title, size=TITLE_SIZE)
        for side in ("left", "bottom"):
            p.getAxis(side).showLabel(False)
        return p

    def begin(self, info: dict, entropy: float | None) -> None:
        """A fresh run on `info`'s data: clear everything, show the data, frame the data box."""
        self.series, self._smooth_state, self.latest, self.arrays = {}, {}, None, {}
        for c in self.curves.values():
            self.loss_plot.removeItem(c)
        self.curves = {}
        self.loss_plot.legend.clear()
        self.heatmap.clear()
        self.sample_dots.setData([], [])
        pts = np.asarray(info.get("data"), np.float32).reshape(-1, 2)
        self.data_dots.setData(pts[:, 0], pts[:, 1])
        self.data_grey.setData(pts[:, 0], pts[:, 1])
        self.bbox = tuple(info["bbox"])
        if self.entropy_line is not None:
            self.loss_plot.removeItem(self.entropy_line)
            self.entropy_line = None
        if entropy is not None and self.spec.family in ("flows", "autoregressive", "vae"):
            # these losses are NLL (or NELBO ≥ NLL) in nats: the true entropy is their floor
            self.entropy_line = pg.InfiniteLine(pos=entropy, angle=0, movable=False,
                                                pen=pg.mkPen("#2ed573", width=1, style=Qt.DashLine),
                                                label=f"H = {entropy:.3f}", labelOpts={"position": 0.7,
                                                                                      "color": "#2ed573"})
            self.loss_plot.addItem(self.entropy_line)
        self.wall_s = 0.0
        self.dirty = True

    # -- training -------------------------------------------------------------------------------------
    @property
    def step(self) -> int:
        return self.latest.step if self.latest is not None else self.controller.step

    def playing(self) -> bool:
        c = self.controller
        return c.running() and c.worker.status == "running" and not c.worker.session.paused

    def play(self) -> None:
        self.controller.play()
        self._set_playing(True)

    def pause(self) -> None:
        self.controller.pause()
        self._set_playing(False)

    def toggle(self) -> None:
        self.pause() if self.pause_btn.text() == "Pause" else self.play()

    def _set_playing(self, on: bool) -> None:
        self.pause_btn.setText("Pause" if on else "Play")

    def stop(self) -> bool:
        self._set_playing(False)
        return self.controller.stop(timeout_s=5.0)

    def add_history(self, history: dict) -> None:
        """The loss curves of an opened run folder (metrics.csv columns)."""
        if "step" not in history:
            return
        names = loss_names({k: v for k, v in history.items() if k != "step" and not k.startswith("val_")})
        self._append(history["step"], {k: history[k] for k in names})

    def on_snapshot(self, snap) -> None:
        if snap.losses:
            self._append(snap.steps, snap.losses)
        if snap.arrays:
            self.arrays = {**self.arrays, **snap.arrays}
        self.latest = snap
        self.dirty = True

    def _append(self, steps, losses: dict) -> None:
        for name in loss_names(losses):
            y = np.asarray(losses[name], np.float64)
            ok = np.isfinite(y)
            if not ok.any():
                continue
            y_s = ema(y[ok], SMOOTH, self._smooth_state.get(name))
            self._smooth_state[name] = float(y_s[-1])
            self.series.setdefault(name, Series()).extend(np.asarray(steps, np.float64)[ok], y_s)

    # -- drawing ------------------------------------------------------------------------------------------
    def redraw(self) -> None:
        view = self.graphics
        if view.ci.geometry() != view.range:  # a title's first, unfitted size can leave the layout wider than
            view.ci.setGeometry(view.range)  # its view (cut off on the right); fitted, it fits again
        if not self.dirty:
            return
        self.dirty = False
        a = self.arrays
        heat = heat_of(self.spec.family, a)
        if heat is not None:
            img, title, levels = heat
            self.heatmap.show(img, self.bbox, levels)
            self.heat_plot.setTitle(title, size=TITLE_SIZE)
        s = a.get("samples", a.get("negatives"))  # an EBM's samples are its Langevin negatives
        if s is not None and np.ndim(s) == 2 and len(s):
            self.sample_dots.setData(s[:, 0], s[:, 1])
        for i, (name, series) in enumerate(self.series.items()):
            if name not in self.curves:
                legend = name if len(self.series) > 1 else None  # one curve needs no legend
                self.curves[name] = self.loss_plot.plot([], [], pen=pg.mkPen(CURVE_COLORS[i % 7], width=2), name=legend)
                self.curves[name].setDownsampling(auto=True, method="peak")
                self.curves[name].setClipToView(True)
            self.curves[name].setData(*series.data())
        snap = self.latest
        if snap is not None:
            rate = f" · {snap.steps_per_s:,.0f} steps/s" if snap.status == "running" and snap.steps_per_s > 0 else ""
            self.status.setText(f"step {snap.step:,}{rate} · {snap.status}")

    def plots(self) -> tuple:
        return self.heat_plot, self.samples_plot, self.loss_plot

    def weights(self):
        """(step, CPU weights, model config) of the newest verified state, or None: what the scorer scores.

        While training, the worker's last verified snapshot (CPU copies it made, safe to read here); else the
        controller's model, copied now (no thread touches it)."""
        c = self.controller
        if c.model is None:
            return None
        if c.running() and c.worker.session.last_good is not None:
            step, weights, _ = c.worker.session.last_good
            return step, weights, dict(c.model_cfg)
        if c.running():
            return None
        from genviz.core.checkpoint import cpu_copy

        return c.step, cpu_copy(c.model.state_dict()), dict(c.model_cfg)

    def train_config(self):
        return dataclasses.replace(self.controller.train)
