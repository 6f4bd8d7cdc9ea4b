"""Lab 5: two-sample tests — a statistic between two sample sets and its null distribution by permutation."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from genviz.core.labs import twosample
from genviz.gui.labs.base import BLUE, GREY, ORANGE, PINK, LabTab, pen


class TwoSampleLab(LabTab):
    title = "two-sample tests"
    family = "GAN"
    formula = ("H₀: P = Q.  Under H₀ the pooled samples are exchangeable: relabelling them at random draws the "
               "statistic's <b>null distribution</b>; p-value = (1 + #{null ≥ observed}) / (1 + permutations).  "
               "T<sub>mean</sub> = ‖x̄ − ȳ‖.  MMD² = E k(x,x′) + E k(y,y′) − 2 E k(x,y), "
               "k(x,y) = exp(−‖x−y‖²/2h²): zero iff P = Q, so it also sees differences in spread or shape.")

    def build(self) -> None:
        self.stat = self.combo("statistic", ["MMD² (Gaussian kernel)", "difference in means"])
        self.n = self.spin("n per set", 10, 400, 100)
        self.shift = self.dspin("Q shift", -3.0, 3.0, 0.0, 0.1, "mean of Q along x₁ (P has mean 0)")
        self.scale = self.dspin("Q std", 0.2, 4.0, 1.0, 0.1, "standard deviation of Q (P has 1)")
        self.bandwidth = self.dspin("kernel h (0 = median)", 0.0, 10.0, 0.0, 0.1)
        self.perms = self.spin("permutations", 20, 1000, 200)
        self.seed = 0
        self.button("New samples", self.resample)
        self.scatter_plot = self.graphics.addPlot(title="samples: P (blue) and Q (orange)")
        self.scatter_plot.setAspectLocked(True)
        self.p_dots = self.scatter_plot.plot(pen=None, symbol="o", symbolSize=5, symbolPen=None,
                                             symbolBrush=pg.mkBrush(BLUE))
        self.q_dots = self.scatter_plot.plot(pen=None, symbol="o", symbolSize=5, symbolPen=None,
                                             symbolBrush=pg.mkBrush(ORANGE))
        self.null_plot = self.graphics.addPlot(title="null distribution (permutations) and the observed value")
        self.hist = pg.PlotDataItem(stepMode="center", fillLevel=0, brush=pg.mkBrush(138, 143, 152, 120),
                                    pen=pen(GREY, 1))
        self.null_plot.addItem(self.hist)
        self.obs_line = pg.InfiniteLine(angle=90, pen=pen(PINK, 2))
        self.null_plot.addItem(self.obs_line)

    def resample(self) -> None:
        self.seed += 1
        self.refresh()

    def samples(self) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(self.seed)
        n = self.n.value()
        x = rng.normal(size=(n, 2))
        y = rng.normal(size=(n, 2)) * self.scale.value() + [self.shift.value(), 0.0]
        return x, y

    def refresh(self) -> None:
        x, y = self.samples()
        self.p_dots.setData(x[:, 0], x[:, 1])
        self.q_dots.setData(y[:, 0], y[:, 1])
        stat = "mmd" if self.stat.currentIndex() == 0 else "mean"
        r = twosample.permutation_test(x, y, stat, self.perms.value(), self.bandwidth.value() or None, seed=0)
        self.result = r
        counts, edges = np.histogram(r["null"], bins=30)
        self.hist.setData(edges, counts)
        self.obs_line.setValue(r["observed"])
        self.null_plot.setXRange(min(edges[0], r["observed"]), max(edges[-1], r["observed"]), padding=0.05)
        verdict = "reject H₀ at 5%" if r["p_value"] < 0.05 else "no evidence against H₀ at 5%"
        self.status.setText(f"observed {'MMD²' if stat == 'mmd' else '‖x̄ − ȳ‖'} = {r['observed']:.4f} · "
                            f"p-value = <b>{r['p_value']:.3f}</b> ({verdict})")
