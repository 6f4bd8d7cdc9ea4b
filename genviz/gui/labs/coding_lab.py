"""KL as expected extra bits: symbols drawn from p, coded with q's code — the histogram of code lengths, the
expected length against the entropy (Gibbs' inequality) and the integer Shannon code with Kraft's sum."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from genviz.core.labs import coding
from genviz.gui.labs.base import BLUE, GREY, ORANGE, LabTab, pen
from genviz.gui.panels.toolkit import legend_plot, step_histogram

MISMATCH = np.linspace(0, 1, 41)


def _bars(plot, color, offset, name):
    item = pg.BarGraphItem(x=[0], height=[0], width=0.38, brush=pg.mkBrush(color), pen=None, name=name)
    item.offset = offset
    plot.addItem(item)  # named: joins the plot's legend
    return item


class CodingLab(LabTab):
    title = "KL as extra bits"
    family = "Basics"
    formula = ("A code built for q spends ℓ<sub>q</sub>(x) = −log₂ q(x) bits on x.  Coding symbols from p with it "
               "costs E<sub>p</sub>[−log₂ q] = H(p) + KL(p‖q) bits per symbol: <b>KL is the expected number of "
               "extra bits</b> paid for the wrong model.  <b>Gibbs' inequality</b>: E<sub>p</sub>[−log q] ≥ "
               "H(p) = E<sub>p</sub>[−log p], equality iff q = p.  Integer Shannon code ℓ = ⌈−log₂ q⌉: "
               "Σ 2<sup>−ℓ</sup> ≤ 1 (Kraft) and H + KL ≤ E<sub>p</sub>ℓ &lt; H + KL + 1.")

    def build(self) -> None:
        self.k = self.spin("symbols K", 2, 32, 8)
        self.mismatch = self.slider("mismatch t (q = p → r)", 0, 100, 50, "q ∝ p^(1−t) r^t")
        self.n = self.spin("symbols coded", 100, 200_000, 5000)
        self.seed = 0
        self.button("New p, r", self.new_pair)
        self.dist_plot = legend_plot(self.graphics, "p (source) and q (the code's model)", columns=2)
        self.p_bars, self.q_bars = _bars(self.dist_plot, BLUE, -0.2, "p"), _bars(self.dist_plot, ORANGE, 0.2, "q")
        self.len_plot = legend_plot(self.graphics, "code length per symbol (bits)", columns=2)
        self.lp_bars = _bars(self.len_plot, BLUE, -0.2, "−log₂ p")
        self.lq_bars = _bars(self.len_plot, ORANGE, 0.2, "−log₂ q")
        self.hist_plot = legend_plot(self.graphics, "lengths of the coded symbols x ~ p", row=1, col=0, columns=2)
        self.hist_plot.setLabel("bottom", "bits")
        self.hist_p = step_histogram(self.hist_plot, BLUE, "p's code −log₂ p(x): mean → H(p)")
        self.hist_q = step_histogram(self.hist_plot, ORANGE, "q's code −log₂ q(x): mean → H(p) + KL")
        self.mean_p = pg.InfiniteLine(angle=90, pen=pen(BLUE, 1, pg.QtCore.Qt.DashLine))
        self.mean_q = pg.InfiniteLine(angle=90, pen=pen(ORANGE, 1, pg.QtCore.Qt.DashLine))
        self.hist_plot.addItem(self.mean_p)
        self.hist_plot.addItem(self.mean_q)
        self.gibbs_plot = legend_plot(self.graphics, "bits per symbol vs mismatch t (Gibbs)", row=1, col=1, columns=1)
        self.gibbs_plot.setLabel("bottom", "t")
        self.h_curve = self.gibbs_plot.plot(pen=pen(BLUE, 2), name="H(p)")
        self.ce_curve = self.gibbs_plot.plot(pen=pen(ORANGE, 2), name="E_p[−log₂ q] = H(p) + KL(p‖q)")
        self.sh_curve = self.gibbs_plot.plot(pen=pen(GREY, 1), name="Shannon code E_p⌈−log₂ q⌉")
        self.now = self.gibbs_plot.plot(pen=None, symbol="o", symbolSize=9, symbolBrush=pg.mkBrush("w"))

    def new_pair(self) -> None:
        self.seed += 1
        self.refresh()

    def refresh(self) -> None:
        k, t = self.k.value(), self.mismatch.value() / 100
        p, q = coding.pair(k, t, self.seed)
        self.p, self.q = p, q
        idx = np.arange(k)
        for bars, vals in ((self.p_bars, p), (self.q_bars, q), (self.lp_bars, coding.code_lengths(p)),
                           (self.lq_bars, coding.code_lengths(q))):
            bars.setOpts(x=idx + bars.offset, height=vals)
        s = self.stream = coding.encode_stream(p, q, self.n.value(), seed=self.seed + 1)
        edges = np.linspace(0, max(s["len_q"].max(), s["len_p"].max()) + 0.5, 41)
        self.hist_p.setData(edges, np.histogram(s["len_p"], edges)[0].astype(float))
        self.hist_q.setData(edges, np.histogram(s["len_q"], edges)[0].astype(float))
        self.mean_p.setValue(float(s["len_p"].mean()))
        self.mean_q.setValue(float(s["len_q"].mean()))
        curves = [coding.pair(k, m, self.seed) for m in MISMATCH]
        self.h_curve.setData(MISMATCH, [coding.entropy_bits(a) for a, _ in curves])
        self.ce_curve.setData(MISMATCH, [coding.cross_entropy_bits(a, b) for a, b in curves])
        self.sh_curve.setData(MISMATCH, [float(a @ coding.shannon_lengths(b)) for a, b in curves])
        h, ce, d = coding.entropy_bits(p), coding.cross_entropy_bits(p, q), coding.kl_bits(p, q)
        self.numbers = {"H": h, "CE": ce, "KL": d, "extra": float(s["len_q"].mean() - s["len_p"].mean()),
                        "shannon": float(p @ coding.shannon_lengths(q)), "kraft": coding.kraft_sum(coding.shannon_lengths(q))}
        self.now.setData([t], [ce])
        v = self.numbers
        self.status.setText(
            f"H(p) = <b>{h:.3f}</b> bits · E<sub>p</sub>[−log₂ q] = <b>{ce:.3f}</b> ≥ H(p) (Gibbs) · "
            f"KL(p‖q) = Σ p log₂ p/q = <b>{d:.3f}</b> bits = {ce:.3f} − {h:.3f} · measured on {self.n.value():,} "
            f"symbols: {s['len_q'].mean():.3f} − {s['len_p'].mean():.3f} = <b>{v['extra']:.3f}</b> extra bits · "
            f"Shannon code: {v['shannon']:.3f} bits (∈ [{ce:.3f}, {ce + 1:.3f})), Kraft Σ2<sup>−ℓ</sup> = "
            f"{v['kraft']:.3f} ≤ 1")
