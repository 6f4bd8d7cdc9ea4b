"""Lab 4: great likelihood, poor samples — 0.01·p_data + 0.99·p_noise has log-likelihood within log 100 of
the data's own, a gap that vanishes per dimension, while 99 of 100 of its samples are noise."""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg

from genviz.core.labs import likelihood_gap as lg
from genviz.gui.labs.base import BLUE, GREEN, GREY, ORANGE, PINK, LabTab, pen
from genviz.gui.panels.toolkit import legend_plot

DIMS = np.unique(np.round(np.logspace(0, 3, 16)).astype(int))


class LikelihoodGapLab(LabTab):
    title = "likelihood vs samples"
    family = "GAN"
    formula = ("p<sub>mix</sub> = w·p<sub>data</sub> + (1 − w)·p<sub>noise</sub> with w = 0.01:  "
               "log p<sub>mix</sub>(x) ≥ log w + log p<sub>data</sub>(x), so  −H(p<sub>data</sub>) − log 100 ≤ "
               "E<sub>data</sub>[log p<sub>mix</sub>] ≤ −H(p<sub>data</sub>).  The gap is at most log 100 ≈ 4.6 nats "
               "in <i>any</i> dimension d: per dimension it vanishes as 4.6/d — yet 99% of the samples are noise.")

    def build(self) -> None:
        self.w = self.dspin("w (data weight)", 0.001, 0.5, 0.01, 0.005)
        self.data_std = self.dspin("data std", 0.1, 3.0, 1.0, 0.1)
        self.noise_std = self.dspin("noise std", 0.1, 10.0, 3.0, 0.5)
        self.nll_plot = legend_plot(self.graphics, "NLL per dimension (nats) vs d", columns=1)
        self.nll_plot.setLogMode(x=True, y=False)
        self.nll_plot.setLabel("bottom", "dimension d")
        self.h_curve = self.nll_plot.plot(pen=pen(GREEN, 2), name="H(p_data)/d (the best possible)")
        self.mix_curve = self.nll_plot.plot(pen=pen(ORANGE, 2), symbol="o", symbolSize=5,
                                            symbolBrush=pg.mkBrush(ORANGE), name="−E log p_mix / d")
        self.gap_plot = self.graphics.addPlot(title="gap per dimension vs bound log(1/w)/d")
        self.gap_plot.setLogMode(x=True, y=True)
        self.gap_plot.setLabel("bottom", "dimension d")
        self.gap_curve = self.gap_plot.plot(pen=pen(ORANGE, 2), symbol="o", symbolSize=5,
                                            symbolBrush=pg.mkBrush(ORANGE))
        self.bound_curve = self.gap_plot.plot(pen=pen(GREY, 1))
        self.sample_plot = legend_plot(self.graphics, "samples (first two coordinates)", columns=1)
        self.sample_plot.setAspectLocked(True)
        self.noise_dots = self.sample_plot.plot(pen=None, symbol="o", symbolSize=3, symbolPen=None,
                                                symbolBrush=pg.mkBrush(PINK), name="p_mix: from noise")
        self.data_dots = self.sample_plot.plot(pen=None, symbol="o", symbolSize=5, symbolPen=None,
                                               symbolBrush=pg.mkBrush(BLUE), name="p_mix: from p_data")

    def refresh(self) -> None:
        w, ds, ns = self.w.value(), self.data_std.value(), self.noise_std.value()
        r = self.result = lg.gap_curve(DIMS, ds, ns, w, n=400, seed=0)
        self.h_curve.setData(DIMS, r["entropy_per_dim"])
        self.mix_curve.setData(DIMS, r["mixture_nll_per_dim"])
        self.gap_curve.setData(DIMS, np.maximum(r["gap_per_dim"], 1e-6))
        self.bound_curve.setData(DIMS, r["bound_per_dim"])
        x, from_data = lg.mixture_samples(1000, 2, ds, ns, w, seed=0)
        self.noise_dots.setData(x[~from_data, 0], x[~from_data, 1])
        self.data_dots.setData(x[from_data, 0], x[from_data, 1])
        g = r["gap_per_dim"] * r["d"]
        self.status.setText(f"gap E[log p_data − log p_mix]: {g[0]:.2f} nats at d = 1, {g[-1]:.2f} nats at "
                            f"d = {DIMS[-1]} (≤ log 1/w = {-math.log(w):.2f}); per dimension at d = {DIMS[-1]}: "
                            f"<b>{r['gap_per_dim'][-1]:.4f}</b> · samples from p_data: {from_data.sum()} of 1000")
