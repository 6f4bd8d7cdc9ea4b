"""Lab 2: KL is asymmetric — one Gaussian fitted to a two-mode target by forward KL (moment matching, closed
form) and by reverse KL (gradient descent with reparameterized samples, animated a few steps per frame)."""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, QTimer

from genviz.core.labs import kl
from genviz.gui.labs.base import BLUE, GREEN, ORANGE, LabTab, pen
from genviz.gui.panels.toolkit import legend_plot

STEPS_PER_TICK, MAX_STEPS = 8, 600


def normal_pdf(x, m, var):
    return np.exp(-0.5 * (x - m) ** 2 / var) / math.sqrt(2 * math.pi * var)


def ellipse(m, cov, k: float = 2.0, n: int = 100) -> np.ndarray:
    """Points of the k-σ contour of N(m, cov), (n, 2)."""
    t = np.linspace(0, 2 * math.pi, n)
    return m + k * np.stack([np.cos(t), np.sin(t)], 1) @ np.linalg.cholesky(cov + 1e-12 * np.eye(2)).T


class KLLab(LabTab):
    title = "KL asymmetry"
    family = "Basics"
    formula = ("<b>Forward</b> KL(p‖q) = E<sub>p</sub>[log p − log q] is minimised by <b>moment matching</b>: "
               "μ = Σₖ wₖμₖ, Σ = Σₖ wₖ(Σₖ + μₖμₖᵀ) − μμᵀ — q covers all of p's mass. <b>Reverse</b> KL(q‖p) = "
               "E<sub>q</sub>[log q − log p], minimised by gradient descent on μ, L with x = μ + Lε, ε ~ N(0, I) — "
               "q avoids where p is small: it <b>seeks one mode</b> (which one depends on where it starts).")

    def build(self) -> None:
        self.dim = self.combo("", ["1D", "2D"], "dimension of the target")
        self.sep = self.dspin("mode separation", 0.0, 8.0, 4.0, 0.25, "distance between the two modes")
        self.std = self.dspin("mode std", 0.1, 2.0, 0.5, 0.05)
        self.weight = self.dspin("weight of left mode", 0.05, 0.95, 0.5, 0.05)
        self.init = self.dspin("reverse-KL start μ₁", -5.0, 5.0, 0.8, 0.25, "where gradient descent starts")
        self.plot = legend_plot(self.graphics, "target p, forward-KL fit, reverse-KL fit", columns=3)
        self.heat = pg.ImageItem(axisOrder="row-major")
        self.heat.setColorMap(pg.colormap.get("viridis"))
        self.plot.addItem(self.heat)
        self.p_curve = self.plot.plot(pen=pen("w", 2), name="p (target)")
        self.fwd_curve = self.plot.plot(pen=pen(ORANGE, 2), name="argmin KL(p‖q)")
        self.rev_curve = self.plot.plot(pen=pen(BLUE, 2), name="argmin KL(q‖p)")
        self.loss_plot = legend_plot(self.graphics, "reverse KL(q‖p) during descent", columns=1)
        self.loss_plot.setLabel("bottom", "step")
        self.loss_curve = self.loss_plot.plot(pen=pen(BLUE, 1), name="256-sample estimate (what descends)")
        self.exact_curve = self.loss_plot.plot(pen=pen(ORANGE, 2), name="exact (quadrature)")
        self.exact_curve.setZValue(10)  # over the noisy estimate it tracks
        self.log2_line = pg.InfiniteLine(angle=0, pen=pen(GREEN, 1), label="log 2", labelOpts={"color": GREEN})
        self.loss_plot.addItem(self.log2_line)
        self.graphics.ci.layout.setColumnStretchFactor(0, 2)
        self.timer = QTimer(self)
        self.timer.setInterval(30)
        self.timer.timeout.connect(self.advance)
        self.fit = None

    def target(self):
        d = 1 if self.dim.currentIndex() == 0 else 2
        w, mu, cov = kl.bimodal(d, self.sep.value(), self.std.value(), self.weight.value())
        return d, w, mu, cov

    def refresh(self) -> None:
        """Restart: new target, closed-form forward fit, a fresh reverse-KL descent animated by the timer."""
        d, w, mu, cov = self.target()
        self.fwd = kl.forward_kl_fit(w, mu, cov)
        init = np.zeros(d)
        init[0] = self.init.value()
        self.fit = kl.ReverseKLFit(w, mu, cov, init_mean=init, init_std=1.0, seed=0)
        self.exact_steps, self.exact_values = [], []
        self._draw_target(d, w, mu, cov)
        self.draw_fits()
        self.timer.start()

    def advance(self, steps: int = STEPS_PER_TICK) -> None:
        self.fit.step(steps)
        self.draw_fits()
        if self.fit.steps >= MAX_STEPS:
            self.timer.stop()

    def run_to_end(self) -> None:
        """Finish the descent now (tests, export)."""
        while self.fit.steps < MAX_STEPS:
            self.advance(50)

    def _draw_target(self, d, w, mu, cov) -> None:
        span = max(4.0, self.sep.value() / 2 + 4 * self.std.value())
        self.span = span
        if d == 1:
            x = np.linspace(-span, span, 400)
            p = sum(wk * normal_pdf(x, m[0], c[0, 0]) for wk, m, c in zip(w, mu, cov))
            self.heat.clear()
            self.p_curve.setData(x, p)
            self.plot.setAspectLocked(False)
            self.plot.enableAutoRange()
        else:
            g = np.linspace(-span, span, 160)
            xx, yy = np.meshgrid(g, g)
            import torch

            pts = torch.as_tensor(np.stack([xx.ravel(), yy.ravel()], 1))
            p = kl.mixture_log_prob(pts, w, mu, cov).exp().numpy().reshape(160, 160)
            self.heat.setImage(p, levels=(0, float(p.max())), autoLevels=False)
            self.heat.setRect(QRectF(-span, -span, 2 * span, 2 * span))
            self.p_curve.setData([], [])
            self.plot.setAspectLocked(True)
            self.plot.setRange(xRange=(-span, span), yRange=(-span, span), padding=0.02)

    def draw_fits(self) -> None:
        (mf, cf), (mr, cr) = self.fwd, self.fit.result()
        if self.fit.d == 1:
            x = np.linspace(-self.span, self.span, 400)
            self.fwd_curve.setData(x, normal_pdf(x, mf[0], cf[0, 0]))
            self.rev_curve.setData(x, normal_pdf(x, mr[0], cr[0, 0]))
        else:
            for curve, m, c in ((self.fwd_curve, mf, cf), (self.rev_curve, mr, cr)):
                e = ellipse(m, c)
                curve.setData(e[:, 0], e[:, 1])
        self.loss_curve.setData(np.arange(1, len(self.fit.history) + 1), np.array(self.fit.history))
        w, mu, cov = self.target()[1:]
        self.exact_kl = kl.reverse_kl_exact(mr, cr, w, mu, cov)  # the number the lab reads: not a noisy estimate
        if self.fit.steps and (not self.exact_steps or self.exact_steps[-1] != self.fit.steps):
            self.exact_steps.append(self.fit.steps)
            self.exact_values.append(self.exact_kl)
        self.exact_curve.setData(self.exact_steps, self.exact_values)
        self.log2_line.setValue(math.log(2))
        est = self.fit.history[-1] if self.fit.history else float("nan")
        self.status.setText(f"forward fit: μ = {np.round(mf, 2).tolist()}, Σ = {np.round(cf, 2).tolist()} · "
                            f"reverse fit after {self.fit.steps} steps: μ = {np.round(mr, 2).tolist()}, "
                            f"Σ = {np.round(cr, 2).tolist()}, KL(q‖p) = <b>{self.exact_kl:.3f}</b> exact "
                            f"(quadrature; last 256-sample estimate {est:.3f}; log 2 = {math.log(2):.3f})")
