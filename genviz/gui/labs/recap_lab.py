"""The course in one table: AR, VAE, flow, GAN, EBM — likelihood, sampling speed, latent space, training signal —
with the numbers measured on demand from each family's default 2D model (trained N steps in a worker thread)."""
from __future__ import annotations

import html
import math
import threading

import pyqtgraph as pg
from PySide6.QtCore import QObject, Signal

from genviz.core import data as data_mod
from genviz.core.labs import recap
from genviz.gui.labs.base import BLUE, GREEN, GREY, ORANGE, PINK, WorkerLab, pen

COLORS = (BLUE, PINK, GREEN, ORANGE, "#a29bfe")
DATASET = "moons"


class RecapWorker(QObject):
    """Measures the five families one after the other; emits each row (plain numbers) as it is done."""

    progressed = Signal(str)
    measured = Signal(dict)
    finished = Signal()

    def __init__(self, steps: int, n_samples: int = 1000):
        super().__init__()
        self.steps, self.n_samples = steps, n_samples
        self.abort = threading.Event()

    def run(self) -> None:
        try:
            data = data_mod.load(DATASET, 3000)
            for fam in recap.FAMILIES:
                if self.abort.is_set():
                    break
                self.progressed.emit(f"training {fam.name} ({fam.model}) for {self.steps} steps…")
                self.measured.emit(recap.measure(fam, data, self.steps, self.n_samples,
                                                 callback=lambda _s: self.abort.is_set()))
        except Exception as e:  # noqa: BLE001 (shown in the lab, never a dead thread)
            self.progressed.emit(f"measurement failed: {type(e).__name__}: {e}")
        self.finished.emit()


class RecapLab(WorkerLab):
    title = "the five families"
    family = "Basics"
    formula = ("One default model per family on the same 2D data (moons), trained N steps here, then measured on "
               "this CPU: <b>sampling time</b> for 1,000 samples (best of 3), <b>held-out NLL</b> in nats (exact for "
               "AR and flows; the VAE's ELBO bounds it, its 100-sample importance-weighted estimate sits below; "
               "an EBM's needs Z, a grid sum that only 2D affords; a GAN has none), parameters.  H(moons) ≈ 1.131 "
               "nats is the floor.  Autoregressive sampling is sequential: d passes (2 here, 784 on MNIST).")

    def build(self) -> None:
        self.steps = self.spin("steps N", 0, 20_000, 500, "training steps of each family's model")
        self.run_stop_buttons("Measure")
        self.table = pg.LabelItem(justify="left", size="9pt")
        self.graphics.addItem(self.table, row=0, col=0, colspan=2)
        names = [f.name for f in recap.FAMILIES]
        ticks = [[(i, n) for i, n in enumerate(names)]]
        self.speed_plot = self.graphics.addPlot(row=1, col=0, title="samples per second (log₁₀)")
        self.nll_plot = self.graphics.addPlot(row=1, col=1, title="held-out NLL (nats): bound, estimate or none")
        for p in (self.speed_plot, self.nll_plot):
            p.getAxis("bottom").setTicks(ticks)
            p.setXRange(-0.6, len(names) - 0.4)
        self.speed_bars = pg.BarGraphItem(x=[], height=[], width=0.6, pen=None)
        self.nll_bars = pg.BarGraphItem(x=[], height=[], width=0.35, pen=None)
        self.bound_bars = pg.BarGraphItem(x=[], height=[], width=0.35, pen=None, brush=pg.mkBrush(GREY))
        self.speed_plot.addItem(self.speed_bars)
        self.nll_plot.addItem(self.nll_bars)
        self.nll_plot.addItem(self.bound_bars)
        self.nll_plot.addItem(pg.InfiniteLine(data_mod.TRUE_ENTROPY[DATASET], angle=0, pen=pen("w", 1),
                                              label="H(moons)", labelOpts={"color": "w", "position": 0.9}))
        self.graphics.ci.layout.setRowStretchFactor(1, 3)
        self.none_text = pg.TextItem("no likelihood", color=ORANGE, anchor=(0.5, 1))
        self.none_text.setPos(3, 0.05)
        self.nll_plot.addItem(self.none_text)
        self.rows = {}
        self.n_samples = 1000

    def refresh(self) -> None:
        self.draw()

    # -- the worker ------------------------------------------------------------------------------------
    def new_worker(self) -> RecapWorker:
        self.rows = {}
        self.draw()
        worker = RecapWorker(self.steps.value(), self.n_samples)
        worker.measured.connect(self.add_row)
        return worker

    def run_ended(self) -> None:
        if self.rows:
            self.status.setText(f"measured {len(self.rows)} of {len(recap.FAMILIES)} families on {DATASET}, "
                                f"{self.steps.value()} steps each" + ("" if len(self.rows) == 5 else " (stopped)"))

    def add_row(self, row: dict) -> None:
        self.rows[row["family"]] = row
        self.draw()

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        self._fit_table()

    def _fit_table(self) -> None:
        """Wrap the table's cells to the page's width: at its natural width it pushed the plots past the
        right edge of a 1000-px window."""
        width = self.graphics.width() - 30
        if width > 200 and self.table.item.textWidth() != width:
            self.table.item.setTextWidth(width)
            self.table.updateMin()

    # -- drawing ---------------------------------------------------------------------------------------
    def draw(self) -> None:
        fams = recap.FAMILIES
        head = ("<tr><th align='left'>family (model)</th><th align='left'>likelihood</th><th>held-out NLL</th>"
                f"<th>sampling {self.n_samples:,}</th><th align='left'>latent space</th><th align='left'>training signal</th>"
                "<th>params</th></tr>")
        body = "".join(self._row(f) for f in fams)
        self.table.setText(f"<table cellspacing='6'>{head}{body}</table>")
        self._fit_table()
        idx = [i for i, f in enumerate(fams) if f.name in self.rows]
        rows = [self.rows[fams[i].name] for i in idx]
        self.speed_bars.setOpts(x=idx, height=[math.log10(r["samples_per_s"]) for r in rows],
                                brushes=[pg.mkBrush(COLORS[i]) for i in idx])
        nll = [(i, r) for i, r in zip(idx, rows) if r["nll"] is not None]
        self.nll_bars.setOpts(x=[i - (0.18 if r["bound"] is not None else 0) for i, r in nll],
                              height=[r["nll"] for _, r in nll], brushes=[pg.mkBrush(COLORS[i]) for i, _ in nll])
        bound = [(i, r["bound"]) for i, r in zip(idx, rows) if r["bound"] is not None]
        self.bound_bars.setOpts(x=[i + 0.18 for i, _ in bound], height=[b for _, b in bound])
        if not self.rows and self.thread is None:
            self.status.setText("press <b>Measure</b>: trains each family's default 2D model for N steps in the "
                                "background and measures it")

    def _row(self, f: recap.Family) -> str:
        r = self.rows.get(f.name)
        if r is None:
            nll = speed = params = "…" if self.thread is not None else "—"
        else:
            nll = "none" if r["nll"] is None else (f"{r['nll']:.3f}" + (f" (ELBO {r['bound']:.3f})" if r["bound"] else ""))
            speed = f"{r['sample_s'] * 1000:.2f} ms"
            params = f"{r['params']:,}"
        return (f"<tr><td>{f.name} ({f.model})</td><td>{html.escape(f.likelihood)}</td><td align='center'>{nll}</td>"
                f"<td align='center'>{speed}</td><td>{f.latent}</td><td>{f.signal}</td><td align='right'>{params}</td></tr>")
