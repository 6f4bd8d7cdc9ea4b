"""Fenchel conjugates, built: f and f* with f* drawn as the upper envelope of the lines t ↦ u·t − f(u), the
supremum at a chosen t; then a 1D critic trained live on two Gaussians, converging to T* = f′(p/q) while its
variational bound climbs to D_f. Mathematics in genviz.core.labs.fenchel."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer

from genviz.core.gan.fgan import DIVERGENCES
from genviz.core.labs import fenchel as fe
from genviz.gui.labs.base import BLUE, GREEN, GREY, ORANGE, PINK, LabTab, pen

STEPS_PER_TICK, MAX_STEPS = 10, 3000
N_LINES = 24  # lines drawn for the envelope


class FenchelLab(LabTab):
    title = "Fenchel & f-GAN critic"
    family = "GAN"
    formula = ("<b>f*(t) = sup<sub>u</sub> (u·t − f(u))</b>: for each u the line t ↦ u·t − f(u); f* is their "
               "<b>upper envelope</b>, touched at t by the line of u* = (f′)⁻¹(t) (where f's tangent has slope t). "
               "Then <b>D<sub>f</sub>(P‖Q) = ∫ q f(p/q) ≥ sup<sub>T</sub> E<sub>P</sub>[T] − "
               "E<sub>Q</sub>[f*(T)]</b>, tight at <b>T* = f′(p/q)</b>: a critic T = g<sub>f</sub>(V), V a small MLP, "
               "trained on samples of P and Q, climbs to it.")

    def build(self) -> None:
        self.div_box = self.combo("f", DIVERGENCES, "the f-GAN table's divergences")
        self.div_box.setCurrentIndex(list(DIVERGENCES).index("js"))
        self.t0 = self.slider("t", 0, 1000, 600, "where the supremum is read (within f*'s domain)")
        self.mp = self.dspin("μ_p", -3, 3, -1.0, 0.25)
        self.sp = self.dspin("σ_p", 0.3, 3, 0.8, 0.1)
        self.mq = self.dspin("μ_q", -3, 3, 1.0, 0.25)
        self.sq = self.dspin("σ_q", 0.3, 3, 1.2, 0.1)
        self.train_button = self.button("Train critic", self.toggle_training, "start / pause the critic's Adam steps")
        self.button("Reset critic", self.reset_critic, "new critic weights (same seed)")
        g = self.graphics
        self.f_plot = g.addPlot(row=0, col=0, title="f(u), the line u·t, and the largest gap f*(t)")
        self.fs_plot = g.addPlot(row=0, col=1, title="f*(t) = upper envelope of u·t − f(u)")
        self.pq_plot = g.addPlot(row=0, col=2, title="P (blue) and Q (orange)")
        self.t_plot = g.addPlot(row=1, col=0, colspan=2, title="critic T(x) (green) → T*(x) = f′(p/q) (white)")
        self.b_plot = g.addPlot(row=1, col=2, title="bound → D<sub>f</sub> (dashed)")
        self.f_plot.setLabel("bottom", "u")
        self.fs_plot.setLabel("bottom", "t")
        for p in (self.pq_plot, self.t_plot):
            p.setLabel("bottom", "x")
        self.b_plot.setLabel("bottom", "step")
        self.f_curve = self.f_plot.plot(pen=pen("w", 2))
        self.slope_line = self.f_plot.plot(pen=pen(PINK, 1, Qt.DashLine))
        self.tangent = self.f_plot.plot(pen=pen(PINK, 2))
        self.gap = self.f_plot.plot(pen=pen(GREEN, 3))
        self.lines = [self.fs_plot.plot(pen=pg.mkPen(79, 163, 255, 70, width=1)) for _ in range(N_LINES)]
        self.fs_curve = self.fs_plot.plot(pen=pen("w", 2))
        self.fs_numeric = self.fs_plot.plot(pen=None, symbol="o", symbolSize=5, symbolPen=None,
                                            symbolBrush=pg.mkBrush(ORANGE))
        self.touching = self.fs_plot.plot(pen=pen(PINK, 2))
        self.t_marker = self.fs_plot.plot(pen=None, symbol="o", symbolSize=9, symbolBrush=pg.mkBrush(PINK))
        self.p_curve = self.pq_plot.plot(pen=pen(BLUE, 2), fillLevel=0, brush=pg.mkBrush(79, 163, 255, 50))
        self.q_curve = self.pq_plot.plot(pen=pen(ORANGE, 2), fillLevel=0, brush=pg.mkBrush(255, 159, 67, 50))
        self.t_star = self.t_plot.plot(pen=pen("w", 2, Qt.DashLine))
        self.t_fit = self.t_plot.plot(pen=pen(GREEN, 2))
        self.bound_curve = self.b_plot.plot(pen=pen(GREEN, 2))
        self.d_line = pg.InfiniteLine(angle=0, pen=pen(GREY, 1, Qt.DashLine), label="D_f",
                                      labelOpts={"color": GREY, "position": 0.1})
        self.b_plot.addItem(self.d_line)
        for col, stretch in enumerate((2, 2, 1)):
            g.ci.layout.setColumnStretchFactor(col, stretch)
        self.timer = QTimer(self)
        self.timer.setInterval(30)
        self.timer.timeout.connect(self.advance)
        self.fit = None

    # -- state ---------------------------------------------------------------------------------------------
    @property
    def div(self):
        return DIVERGENCES[self.div_box.currentText()]

    def t_value(self) -> float:
        lo, hi = fe.t_range(self.div)
        return lo + (hi - lo) * self.t0.value() / 1000

    def gaussians(self):
        return (self.mp.value(), self.sp.value()), (self.mq.value(), self.sq.value())

    def refresh(self) -> None:
        """A control changed: redraw the conjugate picture; a new f, P or Q also restarts the critic (moving t
        does not)."""
        self.draw_conjugate()
        key = (self.div_box.currentText(), self.gaussians())
        if self.fit is None or key != self._key:
            self._key = key
            self.reset_critic()
        else:
            self.draw_critic()

    def reset_critic(self) -> None:
        p, q = self.gaussians()
        self.fit = fe.CriticFit(self.div, p, q, seed=0)
        self.x = fe.x_grid(p, q, 2001)
        self.d_f = fe.divergence(self.div, p, q, self.x)
        self.closed = fe.gaussian_closed_form(self.div_box.currentText(), p, q)
        self.steps, self.bounds = [0], [self.fit.bound(self.x)]
        view = (min(p[0] - 4 * p[1], q[0] - 4 * q[1]), max(p[0] + 4 * p[1], q[0] + 4 * q[1]))
        xv = np.linspace(*view, 400)
        self.p_curve.setData(xv, np.exp(fe.log_normal(xv, *p)))
        self.q_curve.setData(xv, np.exp(fe.log_normal(xv, *q)))
        self.xv = xv
        self.t_star_values = fe.optimal_critic(self.div, xv, p, q)
        self.t_star.setData(xv, self.t_star_values)
        mass = self.p_curve.getData()[1] + self.q_curve.getData()[1]
        seen = self.t_star_values[mass > 0.02 * mass.max()]  # T* runs off to ±∞ where P or Q has no mass
        self.t_plot.setYRange(float(seen.min()) - 0.5, float(seen.max()) + 0.5, padding=0.05)
        self.d_line.setValue(self.d_f)
        self.draw_critic()

    def toggle_training(self) -> None:
        if self.timer.isActive():
            self.timer.stop()
        elif self.fit.steps < MAX_STEPS:
            self.timer.start()
        self.train_button.setText("Pause" if self.timer.isActive() else "Train critic")

    def advance(self, steps: int = STEPS_PER_TICK) -> None:
        self.fit.step(steps)
        self.steps.append(self.fit.steps)
        self.bounds.append(self.fit.bound(self.x))
        self.draw_critic()
        if self.fit.steps >= MAX_STEPS and self.timer.isActive():
            self.toggle_training()

    def train_to(self, steps: int) -> None:
        """Run the critic to `steps` Adam steps now (what the timer does over many frames)."""
        while self.fit.steps < steps:
            self.advance(min(STEPS_PER_TICK * 5, steps - self.fit.steps))

    # -- drawing -------------------------------------------------------------------------------------------
    def draw_conjugate(self) -> None:
        div, t0 = self.div, self.t_value()
        u = np.linspace(*fe.f_range(div), 400)
        fu = fe._np(div.f, u)
        self.f_curve.setData(u, fu)
        u_star = float(fe.maximizer(div, t0)[0])
        fs0 = float(fe.conjugate(div, t0))
        num, arg = fe.conjugate_numeric(div, [t0])
        self.numeric = (float(num[0]), float(arg[0]))
        self.slope_line.setData(u, t0 * u)  # the line through 0 with slope t: f* is its largest lead over f
        self.tangent.setData(u, t0 * u - fs0)  # shifted down by f*(t): tangent to f at u*
        f_star_at = float(fe._np(div.f, [u_star])[0])
        self.gap.setData([u_star, u_star], [f_star_at, t0 * u_star])
        self.f_plot.setYRange(float(fu.min()) - 1, float(np.percentile(fu, 90)) + 1, padding=0)
        lo, hi = fe.t_range(div)
        t = np.linspace(lo, hi, 300)
        us = np.geomspace(0.05, 8, N_LINES) if div.u_min == 0.0 else np.linspace(-2, 5, N_LINES)
        for line, row in zip(self.lines, fe.tangent_lines(div, us, t)):
            line.setData(t, row)
        fs = fe.conjugate(div, t)
        self.fs_curve.setData(t, fs)
        tn = t[::15]
        self.fs_numeric.setData(tn, fe.conjugate_numeric(div, tn)[0])
        self.touching.setData(t, fe.tangent_lines(div, [u_star], t)[0])
        self.t_marker.setData([t0], [fs0])
        self.fs_plot.setRange(xRange=(lo, hi), yRange=(float(fs.min()) - 0.5, float(fs.max()) + 0.5), padding=0)
        self.conj = {"t": t0, "closed": fs0, "u_star": u_star}

    def draw_critic(self) -> None:
        self.t_fit.setData(self.xv, self.fit.values(self.xv))
        self.bound_curve.setData(self.steps, self.bounds)
        c, (num, arg) = self.conj, self.numeric
        name = self.div_box.currentText()
        closed = f" (closed form {self.closed:.4f})" if self.closed is not None else ""
        jsd = (f"; as a JSD: {self.div.to_jsd(self.bounds[-1]):.4f} ≤ JSD = {self.div.to_jsd(self.d_f):.4f}"
               if self.div.to_jsd is not None else "")
        self.status.setText(
            f"t = {c['t']:.3f}: f*(t) closed form <b>{c['closed']:.5f}</b>, sup over a u grid <b>{num:.5f}</b> at "
            f"u = {arg:.4f} (u* = (f′)⁻¹(t) = {c['u_star']:.4f}) · '{name}' measures {self.div.measures}: "
            f"D<sub>f</sub> (quadrature) = <b>{self.d_f:.4f}</b>{closed} · critic after {self.fit.steps} steps: "
            f"bound = <b>{self.bounds[-1]:.4f}</b>{jsd}")
