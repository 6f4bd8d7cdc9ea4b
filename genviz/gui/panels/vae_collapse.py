"""The VAE panel's 'β · collapse' tab: a live KL weight, the run's path in the rate (KL) – distortion (Rec) plane,
and the active latent units (Burda et al. 2016) — where posterior collapse shows: KL → 0, active units → 0.

Everything drawn comes from the snapshots: validation 'kl', 'rec', 'au' metrics (one point per snapshot) and
'unit_var' (Cov_x E_q[z|x] per unit), 'kl_weight' (the β in use) and 'kl_weight_live' (the model trains on
Rec + β·KL). β goes to the session as ("model_set", "beta", value), kept by the controller for later sessions.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QDoubleSpinBox, QLabel, QWidget

from genviz.core.vae.vae import ACTIVE_THRESHOLD as THRESHOLD  # the line drawn is the one the core counts with
from genviz.gui.panels.toolkit import formula_tab, legend_plot

FORMULA = ("training loss = distortion D + β · rate R, with D = −E<sub>q</sub> log p(x|z) (Rec) and "
           "R = KL(q(z|x) ‖ p(z)); the NELBO is D + R whatever β is (lines of equal NELBO run at −45°). "
           "Active units: #{u : Cov<sub>x</sub>(E<sub>q</sub>[z<sub>u</sub>|x]) > 0.01}. "
           "Posterior collapse: q(z|x) = p(z) for every x, so R → 0 and no unit is active — β large, or a decoder "
           "that models x without z (decoder = autoregressive).")


class CollapseTab(QWidget):
    """β spin box · rate–distortion path · active units over steps · per-unit Cov_x E_q[z|x] bars."""

    beta_changed = Signal(float)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.beta = QDoubleSpinBox()
        self.beta.setRange(0.0, 100.0)
        self.beta.setDecimals(2)
        self.beta.setSingleStep(0.25)
        self.beta.setValue(1.0)
        self.beta.setKeyboardTracking(False)  # one command per committed value, not per keystroke
        self.beta.valueChanged.connect(lambda v: self.beta_changed.emit(float(v)))
        _, self.status, self.win = formula_tab(self, FORMULA, [QLabel("β (KL weight, live):"), self.beta])
        self._build_plots(self.win)
        self.begin({})

    def _build_plots(self, win) -> None:
        self.rd_plot = legend_plot(win, "rate vs distortion (validation), one point per trained snapshot", row=0,
                                   col=0, columns=2)
        self.rd_plot.setLabel("bottom", "rate R = KL (nats)")
        self.rd_plot.setLabel("left", "distortion D = Rec (nats)")
        self.rd_path = self.rd_plot.plot([], [], pen=pg.mkPen("#4fa3ff", width=1.5), symbol="o", symbolSize=4,
                                         symbolBrush="#4fa3ff", symbolPen=None, name="the run")
        self.rd_now = self.rd_plot.plot([], [], pen=None, symbol="o", symbolSize=11, symbolBrush="#ff9f43",
                                        symbolPen=None, name="now")
        self.rd_iso = pg.PlotDataItem([], [], pen=pg.mkPen("#8a8f98", width=1, style=Qt.DashLine))
        self.rd_plot.addItem(self.rd_iso, ignoreBounds=True)  # a guide: it must not stretch the view
        right = win.addLayout(row=0, col=1)
        self.au_plot = legend_plot(right, "active latent units", row=0, col=0, columns=1)
        self.au_plot.setLabel("bottom", "step")
        self.au_curve = self.au_plot.plot([], [], pen=pg.mkPen("#2ed573", width=2), symbol="o", symbolSize=4,
                                          symbolBrush="#2ed573", symbolPen=None, name="Cov_x E_q[z_u|x] > 0.01")
        self.var_plot = legend_plot(right, "Cov_x E_q[z_u|x] per unit", row=1, col=0, columns=1)
        self.var_plot.setLabel("bottom", "latent unit u")
        self.var_plot.setLabel("left", "log₁₀ Cov")
        self.var_bars = pg.BarGraphItem(x=[], height=[], width=0.7, brush="#4fa3ff")
        self.var_plot.addItem(self.var_bars)
        self.threshold = pg.InfiniteLine(pos=np.log10(THRESHOLD), angle=0, pen=pg.mkPen("#ff6b6b", width=1.5),
                                         label="0.01", labelOpts={"position": 0.99, "color": "#ff6b6b",
                                                                  "anchors": [(1, 0), (1, 0)]})
        self.var_plot.addItem(self.threshold)
        win.ci.layout.setColumnStretchFactor(0, 3)
        win.ci.layout.setColumnStretchFactor(1, 2)

    # -- driving ------------------------------------------------------------------------------------
    def begin(self, info: dict) -> None:
        self.steps, self.rates, self.dists, self.au_steps, self.au = [], [], [], [], []
        for c in (self.rd_path, self.rd_now, self.rd_iso, self.au_curve):
            c.setData([], [])
        self.var_bars.setOpts(x=[], height=[])
        self.beta.blockSignals(True)  # the form's β, not a command
        self.beta.setValue(float((info.get("config") or {}).get("beta", 1.0)))
        self.beta.blockSignals(False)
        self.units = self.beta_in_use = None  # a new run shows nothing of the last one's
        self.status.setText("")

    def add_metrics(self, step: int, metrics: dict) -> None:
        # step 0 is the untrained net (a distortion of ~550 nats on MNIST): it would squash the whole path
        if step > 0 and "kl" in metrics and "rec" in metrics and (not self.steps or self.steps[-1] != step):
            self.steps.append(step)
            self.rates.append(metrics["kl"])
            self.dists.append(metrics["rec"])
            self.rd_path.setData(self.rates, self.dists)
            r, d = self.rates[-1], self.dists[-1]
            self.rd_now.setData([r], [d])
            self.rd_iso.setData([0.0, r + d], [r + d, 0.0])  # R + D = this NELBO
        if "au" in metrics and (not self.au_steps or self.au_steps[-1] != step):
            self.au_steps.append(step)
            self.au.append(metrics["au"])
            self.au_curve.setData(self.au_steps, self.au)
        self._say()

    def set_arrays(self, a: dict) -> None:
        if "unit_var" in a:
            var = np.asarray(a["unit_var"], np.float64)
            self.units = var
            logv = np.log10(np.maximum(var, 1e-8))
            low = min(float(logv.min()), np.log10(THRESHOLD)) - 0.5
            self.var_bars.setOpts(x=np.arange(len(var)), height=logv - low, y0=low,
                                  brushes=[pg.mkBrush("#2ed573" if v > THRESHOLD else "#ff6b6b") for v in var])
            step = max(1, len(var) // 16)  # whole unit numbers, at most ~16 of them
            self.var_plot.getAxis("bottom").setTicks([[(i, str(i)) for i in range(0, len(var), step)], []])
        live = bool(a.get("kl_weight_live", 1.0))
        self.beta.setEnabled(live)
        self.beta.setToolTip("" if live else "this model trains on its own objective, not Rec + β·KL")
        if "kl_weight" in a:
            self.beta_in_use = float(a["kl_weight"])
        self._say()

    def _say(self) -> None:
        parts = []
        if self.rates:
            r, d = self.rates[-1], self.dists[-1]
            parts.append(f"R = {r:.3f} · D = {d:.3f} · NELBO = R + D = <b>{r + d:.3f}</b> nats")
        if self.au:
            n = len(self.units) if self.units is not None else "?"
            parts.append(f"active units <b>{int(self.au[-1])}</b> of {n}")
        if self.beta_in_use is not None:
            parts.append(f"β in use {self.beta_in_use:g}")
        self.status.setText(" · ".join(parts))

    def plots(self) -> dict:
        return {"rate_distortion": self.rd_plot, "active_units": self.au_plot, "unit_variance": self.var_plot}
