"""Great samples, poor likelihood: a kernel density estimate whose bandwidth slider turns it into a lookup
table of the training set — the other half of the likelihood-vs-samples lab (gap_lab.py), placed beside it."""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg

from genviz.core.data import TRUE_ENTROPY, toy2d
from genviz.core.labs import memorization as mem
from genviz.gui.labs.base import BLUE, GREEN, GREY, ORANGE, PINK, LabTab, pen
from genviz.gui.panels.toolkit import Heatmap, legend_plot

LOG_H = (-2.5, 0.0)  # the slider spans h = 10^-2.5 … 1 (data units: the toy sets span ~4)
SWEEP = np.logspace(*LOG_H, 36)
N_TEST, N_SAMPLES = 1000, 500


class MemorizationLab(LabTab):
    title = "memorization (KDE)"
    family = "GAN"
    formula = ("p<sub>h</sub>(x) = (1/n) Σᵢ N(x; xᵢ, h²I).  As h → 0 a sample xᵢ + hε is a <b>copy</b> of a "
               "training point: its nearest-train distance → h·E‖ε‖ = h·√(π/2) (d = 2).  The train NLL falls "
               "without bound, ≤ log n + (d/2)·log 2πh², while the <b>test NLL explodes</b> "
               "(≈ min<sub>i</sub>‖x − xᵢ‖²/2h²).  Perfect-looking samples, useless likelihood — the mirror image "
               "of the noise mixture (great likelihood, poor samples): neither number alone judges a model.")

    def build(self) -> None:
        self.dataset = self.combo("data", ["moons", "8gaussians", "2spirals", "pinwheel", "checkerboard"])
        self.n_train = self.spin("n train", 20, 2000, 300, "training points the KDE memorizes")
        self.log_h = self.slider("bandwidth h", 0, 100, 60, "log scale, 10^-2.5 … 1")
        self.density_plot = legend_plot(self.graphics, "log p_h: training points, samples", columns=2)
        self.density_plot.setAspectLocked(True)
        self.heat = Heatmap(self.density_plot, "viridis", "log p_h")
        self.train_dots = self.density_plot.plot(pen=None, symbol="o", symbolSize=4, symbolPen=None,
                                                 symbolBrush=pg.mkBrush(255, 255, 255, 200), name="train")
        self.sample_dots = self.density_plot.plot(pen=None, symbol="x", symbolSize=5, symbolPen=pg.mkPen(ORANGE),
                                                  name="samples")
        self.nll_plot = legend_plot(self.graphics, "NLL (nats) vs bandwidth", columns=2)
        self.nll_plot.setLogMode(x=True, y=False)
        self.nll_plot.setLabel("bottom", "h")
        self.train_curve = self.nll_plot.plot(pen=pen(BLUE, 2), name="train NLL")
        self.test_curve = self.nll_plot.plot(pen=pen(PINK, 2), name="test NLL")
        self.limit_curve = self.nll_plot.plot(pen=pen(GREY, 1), name="log n + log 2πh²")
        self.entropy_curve = self.nll_plot.plot(pen=pen(GREEN, 1), name="H(p_data)")
        self.now_nll = self.nll_plot.plot(pen=None, symbol="o", symbolSize=9, symbolBrush=pg.mkBrush("w"))
        self.h_line = pg.InfiniteLine(angle=90, pen=pen("w", 1))
        self.best_line = pg.InfiniteLine(angle=90, pen=pen(GREEN, 1), label="best h", labelOpts={"color": GREEN})
        self.nll_plot.addItem(self.h_line)
        self.off_chart = pg.TextItem(color=PINK, anchor=(0, 0))  # the test NLL once it leaves the plot
        self.nll_plot.addItem(self.off_chart)
        self.nll_plot.addItem(self.best_line)
        self.dist_plot = legend_plot(self.graphics, "samples' nearest-train distance", columns=1)
        self.dist_plot.setLogMode(x=True, y=True)
        self.dist_plot.setLabel("bottom", "h")
        self.dist_curve = self.dist_plot.plot(pen=pen(ORANGE, 2), name="mean over samples")
        self.copy_curve = self.dist_plot.plot(pen=pen(GREY, 1), name="h·√(π/2) (copies)")
        self.test_dist_curve = self.dist_plot.plot(pen=pen(GREEN, 1), name="test points (a fresh draw)")
        self.now_dist = self.dist_plot.plot(pen=None, symbol="o", symbolSize=9, symbolBrush=pg.mkBrush("w"))
        self.graphics.ci.layout.setColumnStretchFactor(0, 5)
        self.graphics.ci.layout.setColumnStretchFactor(1, 4)
        self.graphics.ci.layout.setColumnStretchFactor(2, 4)
        self._key, self.sweep = None, None

    @property
    def h(self) -> float:
        return 10 ** (LOG_H[0] + (LOG_H[1] - LOG_H[0]) * self.log_h.value() / 100)

    def set_h(self, h: float) -> None:
        """Move the slider to the step nearest bandwidth h."""
        self.log_h.setValue(round(100 * (math.log10(h) - LOG_H[0]) / (LOG_H[1] - LOG_H[0])))

    def _data(self) -> None:
        """Draw the data and sweep the bandwidths again only when the data change, not on every slider step."""
        key = (self.dataset.currentText(), self.n_train.value())
        if key == self._key:
            return
        x = toy2d(key[0], key[1] + N_TEST, seed=0)
        self.train, self.test = x[:key[1]].astype(float), x[key[1]:].astype(float)
        self.sweep = mem.bandwidth_sweep(self.train, self.test, SWEEP, N_SAMPLES)
        self.test_dist = float(mem.nearest_distance(self.test, self.train).mean())
        lo, hi = self.train.min(0) - 0.5, self.train.max(0) + 0.5
        self.bbox = (lo[0], hi[0], lo[1], hi[1])
        self._key = key
        s, n = self.sweep, key[1]
        self.train_curve.setData(SWEEP, s["train_nll"])
        self.test_curve.setData(SWEEP, s["test_nll"])
        self.limit_curve.setData(SWEEP, [mem.train_nll_limit(n, 2, h) for h in SWEEP])
        ent = TRUE_ENTROPY.get(key[0])
        self.entropy_curve.setData(SWEEP[[0, -1]] if ent else [], [ent, ent] if ent else [])
        self.best_line.setValue(math.log10(s["best_h"]))
        self.dist_curve.setData(SWEEP, s["sample_dist"])
        self.copy_curve.setData(SWEEP, [mem.copy_distance_limit(h, 2) for h in SWEEP])
        self.test_dist_curve.setData(SWEEP[[0, -1]], [self.test_dist] * 2)
        self.nll_top = max(12.0, s["test_nll"].min() + 8)
        self.nll_plot.setYRange(min(s["train_nll"].min(), -1), self.nll_top, padding=0.02)

    def refresh(self) -> None:
        self._data()
        h, train, n = self.h, self.train, len(self.train)
        # log p: at small h the density is spikes thinner than a pixel, invisible on a linear scale
        logp = np.log(np.maximum(mem.density_grid(train, h, self.bbox, 160), 1e-300))
        top = float(np.percentile(logp, 99.8))
        self.heat.show(np.maximum(logp, top - 10), self.bbox, (top - 10, top))
        self.train_dots.setData(train[:, 0], train[:, 1])
        self.samples = mem.sample(train, h, 200, seed=1)
        self.sample_dots.setData(self.samples[:, 0], self.samples[:, 1])
        self.current = {"h": h, "train_nll": mem.nll(train, train, h), "test_nll": mem.nll(self.test, train, h),
                        "sample_dist": float(mem.nearest_distance(mem.sample(train, h, N_SAMPLES), train).mean())}
        c = self.current
        self.h_line.setValue(math.log10(h))
        self.now_nll.setData([h, h], [c["train_nll"], c["test_nll"]])
        self.now_dist.setData([h], [c["sample_dist"]])
        high = c["test_nll"] > self.nll_top
        self.off_chart.setText(f"test NLL {c['test_nll']:.0f} ↑" if high else "")
        self.off_chart.setPos(math.log10(h), self.nll_top)
        best = self.sweep["best_h"]
        self.status.setText(
            f"h = <b>{h:.4f}</b> (best on test: {best:.3f}) · train NLL <b>{c['train_nll']:.2f}</b> "
            f"(≤ log n + log 2πh² = {mem.train_nll_limit(n, 2, h):.2f}) · test NLL <b>{c['test_nll']:.2f}</b> "
            f"(at best h: {self.sweep['test_nll'].min():.2f}) · samples' nearest-train distance "
            f"<b>{c['sample_dist']:.4f}</b> vs copies h·√(π/2) = {mem.copy_distance_limit(h, 2):.4f} "
            f"vs test points {self.test_dist:.4f}")
