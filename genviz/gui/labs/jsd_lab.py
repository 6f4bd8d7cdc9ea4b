"""JSD's properties, checked live: bounded by log 2 (two Gaussians pulled apart), and √JSD a metric (the
triangle inequality on random triples of distributions, which JSD itself breaks)."""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg

from genviz.core.labs import jsd
from genviz.gui.labs.base import BLUE, GREEN, GREY, ORANGE, LabTab, pen
from genviz.gui.panels.toolkit import legend_plot, step_histogram

SHIFTS = np.linspace(0, 10, 81)


class JSDLab(LabTab):
    title = "JSD: bounded, √ a metric"
    family = "GAN"
    formula = ("JSD(p, q) = ½KL(p‖m) + ½KL(q‖m), m = ½(p + q): symmetric, 0 iff p = q, and <b>JSD ≤ log 2</b> "
               "(equality iff the supports are disjoint) — which is why a GAN's generator gets no gradient from "
               "an optimal D when p<sub>data</sub> and p<sub>G</sub> do not overlap.  <b>√JSD is a metric</b>: "
               "√JSD(p, r) ≤ √JSD(p, q) + √JSD(q, r) for every triple; JSD itself is not (it fails the "
               "triangle inequality).  The optimal discriminator gives the GAN value 2·JSD − log 4.")

    def build(self) -> None:
        self.shift = self.dspin("Gaussians' separation μ/σ", 0.0, 10.0, 2.0, 0.25)
        self.k = self.spin("symbols K", 2, 64, 3, "alphabet of the random triples")
        self.alpha = self.dspin("Dirichlet α", 0.05, 10.0, 0.5, 0.05, "small α: peaked, far-apart distributions")
        self.n = self.spin("triples", 10, 50_000, 5000)
        self.seed = 0
        self.button("New triples", self.new_triples)
        self.bound_plot = legend_plot(self.graphics, "JSD(N(0,1), N(μ,1)) (nats)", columns=1)
        self.bound_plot.setLabel("bottom", "separation μ/σ")
        self.jsd_curve = self.bound_plot.plot(pen=pen(ORANGE, 2), name="JSD (quadrature)")
        self.log2_curve = self.bound_plot.plot(pen=pen(GREEN, 1), name="log 2 (disjoint supports)")
        self.now = self.bound_plot.plot(pen=None, symbol="o", symbolSize=9, symbolBrush=pg.mkBrush("w"))
        self.slack_plot = legend_plot(self.graphics, "triangle slack d(p,q) + d(q,r) − d(p,r)", columns=1)
        self.slack_plot.setLabel("bottom", "slack (&lt; 0: the triangle inequality fails)")
        self.slack_sqrt = step_histogram(self.slack_plot, BLUE, "d = √JSD (a metric)")
        self.slack_plain = step_histogram(self.slack_plot, ORANGE, "d = JSD (not a metric)")
        self.slack_plot.addItem(pg.InfiniteLine(0, angle=90, pen=pen("w", 1)))
        self.tri_plot = legend_plot(self.graphics, "d(p, r) against d(p, q) + d(q, r)", columns=1)
        self.tri_plot.setLabel("bottom", "d(p, q) + d(q, r)")
        self.tri_plot.setLabel("left", "d(p, r)")
        self.tri_sqrt = self.tri_plot.plot(pen=None, symbol="o", symbolSize=3, symbolPen=None,
                                           symbolBrush=pg.mkBrush(79, 163, 255, 120), name="√JSD")
        self.tri_plain = self.tri_plot.plot(pen=None, symbol="o", symbolSize=3, symbolPen=None,
                                            symbolBrush=pg.mkBrush(255, 159, 67, 120), name="JSD")
        self.diag = self.tri_plot.plot(pen=pen(GREY, 1), name="equality (above it: fails)")

    def new_triples(self) -> None:
        self.seed += 1
        self.refresh()

    def refresh(self) -> None:
        if not hasattr(self, "curve"):  # the Gaussian curve does not depend on any control
            self.curve = np.array([jsd.gaussian_pair_jsd(s) for s in SHIFTS])
            self.jsd_curve.setData(SHIFTS, self.curve)
            self.log2_curve.setData(SHIFTS[[0, -1]], [math.log(2)] * 2)
        mu = self.shift.value()
        now = jsd.gaussian_pair_jsd(mu)
        self.now.setData([mu], [now])
        t = jsd.random_triples(self.n.value(), self.k.value(), self.alpha.value(), self.seed)
        s_sqrt, s_plain = jsd.triangle_slack(t), jsd.triangle_slack(t, jsd.jsd)
        edges = np.linspace(min(s_plain.min(), s_sqrt.min(), -0.05), max(s_plain.max(), s_sqrt.max()), 61)
        self.slack_sqrt.setData(edges, np.histogram(s_sqrt, edges)[0].astype(float))
        self.slack_plain.setData(edges, np.histogram(s_plain, edges)[0].astype(float))
        m = min(len(t), 3000)  # a scatter of thousands is plenty to see the diagonal
        p, q, r = t[:m, 0], t[:m, 1], t[:m, 2]
        for dots, d in ((self.tri_sqrt, jsd.js_metric), (self.tri_plain, jsd.jsd)):
            dots.setData(d(p, q) + d(q, r), d(p, r))
        top = float(2 * math.sqrt(math.log(2)))
        self.diag.setData([0, top], [0, top])
        all_jsd = jsd.jsd(t[:, 0], t[:, 1])
        self.result = {"jsd_gauss": now, "max_jsd": float(all_jsd.max()), "sqrt_violations": int((s_sqrt < -1e-12).sum()),
                       "plain_violations": int((s_plain < -1e-12).sum()), "min_sqrt_slack": float(s_sqrt.min())}
        v = self.result
        self.status.setText(
            f"JSD(N(0,1), N({mu:.2f},1)) = <b>{now:.4f}</b> nats ≤ log 2 = {math.log(2):.4f} · "
            f"over {len(t):,} random triples: largest JSD {v['max_jsd']:.4f} ≤ log 2 · √JSD breaks the triangle "
            f"inequality <b>{v['sqrt_violations']}</b> times (smallest slack {v['min_sqrt_slack']:.4f}); "
            f"JSD itself breaks it <b>{v['plain_violations']:,}</b> times")
