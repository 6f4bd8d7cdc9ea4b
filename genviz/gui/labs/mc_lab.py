"""Lab 3: Monte Carlo estimation — many independent estimates for each sample size T: centred on the exact
value (unbiased) with a spread that shrinks as σ/√T."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from genviz.core.labs import montecarlo
from genviz.gui.labs.base import BLUE, GREEN, GREY, ORANGE, LabTab, pen


class MonteCarloLab(LabTab):
    title = "Monte Carlo"
    family = "Basics"
    formula = ("E<sub>x~p</sub>[g(x)] ≈ ĝ<sub>T</sub> = (1/T) Σ<sub>t=1..T</sub> g(xₜ), xₜ ~ p i.i.d.  "
               "<b>Unbiased</b>: E[ĝ<sub>T</sub>] = E<sub>p</sub>[g].  <b>Variance</b>: Var[ĝ<sub>T</sub>] = "
               "Var<sub>p</sub>[g] / T, so the spread falls as 1/√T.")

    def build(self) -> None:
        self.integrand = self.combo("integrand", montecarlo.INTEGRANDS)
        self.t_max = self.combo("T up to", ["100", "1000", "10000"], "largest sample size")
        self.t_max.setCurrentIndex(2)
        self.repeats = self.spin("estimates per T", 10, 1000, 100, "independent estimates drawn at each T")
        self.seed = 0
        self.button("New draws", self.redraw, "draw all estimates again")
        self.est_plot = self.graphics.addPlot(title="estimates ĝ_T (dots), their mean, exact value ± σ/√T")
        self.est_plot.setLogMode(x=True, y=False)
        self.est_plot.setLabel("bottom", "T")
        self.dots = self.est_plot.plot(pen=None, symbol="o", symbolSize=3, symbolPen=None,
                                       symbolBrush=pg.mkBrush(79, 163, 255, 60))
        self.mean_curve = self.est_plot.plot(pen=pen(ORANGE, 2))
        self.exact_curve = self.est_plot.plot(pen=pen(GREEN, 1))
        self.band = [self.est_plot.plot(pen=pen(GREY, 1)) for _ in range(2)]
        self.std_plot = self.graphics.addPlot(title="spread: std of ĝ_T (dots) vs σ/√T (line)")
        self.std_plot.setLogMode(x=True, y=True)
        self.std_plot.setLabel("bottom", "T")
        self.std_dots = self.std_plot.plot(pen=None, symbol="o", symbolSize=7, symbolBrush=pg.mkBrush(ORANGE))
        self.law_curve = self.std_plot.plot(pen=pen(BLUE, 2))

    def redraw(self) -> None:
        self.seed += 1
        self.refresh()

    def refresh(self) -> None:
        name = self.integrand.currentText()
        t = montecarlo.log_t_values(int(self.t_max.currentText()), 13)
        r = montecarlo.estimates(name, t, self.repeats.value(), self.seed)
        reps = r["est"].shape[1]
        jitter = np.exp(np.random.default_rng(0).uniform(-0.05, 0.05, r["est"].size))  # spread dots sideways
        self.dots.setData(np.repeat(t, reps) * jitter, r["est"].ravel())
        self.mean_curve.setData(t, r["mean"])
        self.exact_curve.setData(t, np.full(len(t), float(r["exact"])))
        for sign, curve in zip((1, -1), self.band):
            curve.setData(t, r["exact"] + sign * r["law"])
        self.std_dots.setData(t, r["std"])
        self.law_curve.setData(t, r["law"])
        slope = np.polyfit(np.log(t), np.log(r["std"]), 1)[0]
        formula = montecarlo.INTEGRANDS[name][4]
        self.status.setText(f"{formula} = {float(r['exact']):.4f}; at T = {t[-1]}: mean of estimates "
                            f"{r['mean'][-1]:.4f}, std {r['std'][-1]:.4f} (σ/√T = {r['law'][-1]:.4f}); "
                            f"fitted slope of log std vs log T: <b>{slope:.2f}</b> (law: −0.5)")
