"""Lab (VAE group): stochastic variational inference next to the amortized VAE on one small 2D dataset — the same
decoder and start, per-point φ_i vs one encoder network, both ELBO curves on one plot, each against the log p(x)
its decoder reaches (read off a grid: z is 2D). Training takes seconds, so it runs on a Python thread and comes
back through a queued signal; core.vae.svi does the work (no Qt)."""
from __future__ import annotations

import threading

import numpy as np
import pyqtgraph as pg
import torch
from PySide6.QtCore import Qt, Signal

from genviz.core import data
from genviz.core.vae import svi
from genviz.gui.labs.base import BLUE, ORANGE, LabTab, pen
from genviz.gui.panels.toolkit import legend_plot


class SVILab(LabTab):
    title = "SVI vs amortized inference"
    family = "VAE"
    formula = ("ELBO(x; θ, φ) = E<sub>q<sub>φ</sub>(z|x)</sub>[log p<sub>θ</sub>(x, z) − log q<sub>φ</sub>(z|x)] ≤ "
               "log p<sub>θ</sub>(x). <b>SVI</b>: each x<sub>i</sub> has its own φ<sub>i</sub> = (μ<sub>i</sub>, "
               "log σ<sub>i</sub>); every step takes a few Adam steps on the φ<sub>i</sub>, then one on θ. "
               "<b>Amortized</b> (the VAE): φ<sub>i</sub> = encoder(x<sub>i</sub>), one network for all x, trained "
               "with θ. Same decoder, same start: SVI's bound is tighter (no amortization gap) but costs an "
               "optimization per point, and gives no q for a new x.")
    done = Signal(object)  # the result dict, or an error message

    def build(self) -> None:
        self.n = self.spin("points", 32, 512, 128, "training points from two moons (seed 0)")
        self.steps = self.spin("steps", 50, 2000, 300, "Adam steps on θ (and on the encoder)")
        self.inner = self.spin("φ steps per step", 0, 20, 5, "SVI: Adam steps on the per-point φ_i before each θ step")
        self.run_button = self.button("Run", self.run, "train both from the same start on a thread")
        self.curve_plot = legend_plot(self.graphics, "mean ELBO per point while training; dashed: log p(x) at the end",
                                      columns=2)
        self.curve_plot.setLabel("bottom", "step")
        self.c_svi = self.curve_plot.plot([], [], pen=pen(ORANGE), name="SVI (per-point φ_i)")
        self.c_amo = self.curve_plot.plot([], [], pen=pen(BLUE), name="amortized (encoder)")
        self.px_svi = pg.InfiniteLine(angle=0, pen=pen(ORANGE, 1, Qt.DashLine))
        self.px_amo = pg.InfiniteLine(angle=0, pen=pen(BLUE, 1, Qt.DashLine))
        for ln in (self.px_svi, self.px_amo):
            self.curve_plot.addItem(ln)
        self.gap_plot = legend_plot(self.graphics, "gap log p(x) − ELBO at the end, points sorted by gap", columns=2)
        self.gap_plot.setLabel("bottom", "points (fraction, sorted)")
        self.gap_plot.setLabel("left", "nats")
        self.gaps = {"svi": self.gap_plot.plot([], [], pen=pen(ORANGE), name="SVI"),
                     "amortized": self.gap_plot.plot([], [], pen=pen(BLUE), name="amortized")}
        self.result, self.busy, self._started = None, False, False
        self.done.connect(self.show_result)
        # a non-daemon thread told to stop when this lab goes away: a daemon one still inside torch when the
        # interpreter exits aborts the process ("terminate called without an active exception")
        self._cancel = threading.Event()
        self.destroyed.connect(lambda *_, ev=self._cancel: ev.set())

    def refresh(self) -> None:
        if not self.busy:
            self.status.setText("press Run: both models train from the same start on the same points"
                                if self.result is None else self._summary())

    def showEvent(self, ev) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(ev)
        if not self._started:  # first shown: run the default once, so the page is never empty
            self._started = True
            self.run()

    def run(self) -> bool:
        if self.busy:
            return False
        self.busy = True
        self.run_button.setEnabled(False)
        self.status.setText("training SVI and the amortized VAE …")
        x = torch.from_numpy(data.toy2d("moons", self.n.value(), seed=0))
        args = dict(steps=self.steps.value(), inner=self.inner.value())
        threading.Thread(target=self._work, args=(x, args), name="svi-lab").start()
        return True

    def _work(self, x, args) -> None:
        try:
            res = svi.svi_vs_amortized(x, **args, cancelled=self._cancel.is_set)
            if res is None:  # cancelled: the lab is gone
                return
        except Exception as e:  # noqa: BLE001 — said in the lab, never a traceback in the user's face
            res = f"{type(e).__name__}: {e}"
        try:
            self.done.emit(res)
        except RuntimeError:  # the lab was closed and deleted while this ran: nobody to tell
            pass

    def show_result(self, r) -> None:
        self.busy = False
        self.run_button.setEnabled(True)
        if isinstance(r, str):
            self.status.setText(f"failed: {r}")
            return
        self.result = r
        self.c_svi.setData(r["eval_steps"], r["elbo_svi"])
        self.c_amo.setData(r["eval_steps"], r["elbo_amortized"])
        self.px_svi.setValue(r["log_px_svi"].mean())
        self.px_amo.setValue(r["log_px_amortized"].mean())
        lo = min(r["elbo_svi"].min(), r["elbo_amortized"].min())
        hi = max(r["log_px_svi"].mean(), r["log_px_amortized"].mean(), r["elbo_svi"].max(), r["elbo_amortized"].max())
        self.curve_plot.setYRange(lo, hi + 0.05 * (hi - lo), padding=0.02)
        for k, c in self.gaps.items():
            gap = np.sort(r[f"log_px_{k}"] - r[f"elbo_{k}_end"])
            c.setData((np.arange(len(gap)) + 0.5) / len(gap), gap)
        self.status.setText(self._summary())

    def _summary(self) -> str:
        r = self.result
        gs, ga = (r["log_px_svi"] - r["elbo_svi_end"]).mean(), (r["log_px_amortized"] - r["elbo_amortized_end"]).mean()
        return (f"after {int(r['eval_steps'][-1])} steps, on {len(r['log_px_svi'])} points: SVI ELBO "
                f"<b>{r['elbo_svi_end'].mean():.3f}</b> ≤ log p(x) {r['log_px_svi'].mean():.3f} (gap {gs:.3f}) · "
                f"amortized ELBO <b>{r['elbo_amortized_end'].mean():.3f}</b> ≤ log p(x) "
                f"{r['log_px_amortized'].mean():.3f} (gap {ga:.3f}) · log p(x): each decoder's, on a grid over z")
