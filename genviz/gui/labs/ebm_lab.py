"""EBMs without the normalizer: what Z costs as the dimension grows (analytic, grid, Monte Carlo, intractable),
and what an energy is good for without it — denoising by Langevin from a corrupted point."""
from __future__ import annotations

import math
import time

import numpy as np
import pyqtgraph as pg
import torch
from PySide6.QtCore import QTimer

from genviz.core.data import toy2d
from genviz.core.ebm import denoise as dn
from genviz.core.labs import memorization as mem
from genviz.core.labs import normalizer as nz
from genviz.gui.labs.base import BLUE, GREEN, GREY, ORANGE, PINK, LabTab, pen
from genviz.gui.panels.toolkit import Heatmap, legend_plot, robust_levels

DIMS = (1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30)
COST_DIMS = np.array([1, 2, 3, 5, 10, 20, 50, 100, 200, 400, 784])
TABLE_DIMS = (1, 2, 3, 4, 10, 784)
SECONDS = (("1 s", 0.0), ("1 year", math.log10(3.15e7)), ("age of the universe", math.log10(4.35e17)))
TRAIN_STEPS, STEPS_PER_TICK = 600, 25


class EBMNormalizerLab(LabTab):
    title = "normalizer cost · denoising"
    family = "EBM"
    formula = ("p(x) = exp f(x) / Z,  Z = ∫ exp f(x) dx.  For f = −½xᵀΣ⁻¹x: <b>Z = (2π)<sup>d/2</sup> "
               "det Σ<sup>½</sup></b>.  A grid of n points per axis needs <b>n<sup>d</sup></b> evaluations of f "
               "(exact as n grows, impossible beyond a few dimensions: n = 10 on MNIST is 10<sup>784</sup>); "
               "uniform Monte Carlo V·mean exp f(u) is affordable but its error explodes with d.  Sampling and "
               "denoising need only ∇f: from x̃ = x + σ<sub>c</sub>ε, x ← x + η∇f(x) + s√(2η)ε climbs f "
               "(f trained by denoising score matching on moons).")

    def build(self) -> None:
        self.n = self.spin("grid n per axis", 3, 60, 16)
        self.rho = self.dspin("correlation ρ", 0.0, 0.9, 0.5, 0.1)
        self.mc = self.spin("MC samples", 100, 200_000, 10_000)
        self.sigma_c = self.dspin("corruption σ_c", 0.0, 1.0, 0.3, 0.05)
        self.noise = self.dspin("Langevin s", 0.0, 1.0, 0.0, 0.1, "0: gradient ascent on f")
        self.button("Retrain energy", self.retrain)
        self._normalizer_plots()
        self._denoising_plots()
        x = toy2d("moons", 3000, seed=0).astype(float)
        self.train, self.clean = x[:2500], x[2500:2524]
        lo, hi = self.train.min(0) - 0.5, self.train.max(0) + 0.5
        self.box = (lo[0], hi[0], lo[1], hi[1])
        self.data_dots.setData(self.train[:800, 0], self.train[:800, 1])
        self.timer = QTimer(self)
        self.timer.setInterval(30)
        self.timer.timeout.connect(self.advance)
        self.fit = dn.DSMEnergyFit(self.train, sigma=0.1)
        self.rate = self._measure_rate()

    def _normalizer_plots(self) -> None:
        """Row 0: log Z against d (analytic, grid, MC), the grid's cost in seconds, the table."""
        self.logz_plot = legend_plot(self.graphics, "log Z of a Gaussian energy vs d", columns=3)
        self.logz_plot.setLabel("bottom", "dimension d")
        self.analytic_curve = self.logz_plot.plot(pen=pen(GREEN, 2), name="analytic")
        self.grid_dots = self.logz_plot.plot(pen=None, symbol="s", symbolSize=8, symbolBrush=pg.mkBrush(BLUE),
                                             name="grid n^d (≤ 2·10⁶ points)")
        self.mc_dots = self.logz_plot.plot(pen=pen(ORANGE, 1), symbol="o", symbolSize=6,
                                           symbolBrush=pg.mkBrush(ORANGE), name="uniform MC")
        self.cost_plot = legend_plot(self.graphics, "grid cost: time to evaluate n^d points", columns=1)
        self.cost_plot.setLabel("bottom", "dimension d")
        self.cost_plot.setLogMode(x=True, y=False)
        self.cost_plot.setLabel("left", "log₁₀ seconds")
        self.cost_curve = self.cost_plot.plot(pen=pen(PINK, 2), symbol="o", symbolSize=5,
                                              symbolBrush=pg.mkBrush(PINK), name="n^d / measured evaluations per s")
        for label, y in SECONDS:
            self.cost_plot.addItem(pg.InfiniteLine(y, angle=0, pen=pen(GREY, 1), label=label,
                                                   labelOpts={"color": GREY, "position": 0.7}))
        self.table = pg.LabelItem(justify="left", size="8pt")
        self.graphics.addItem(self.table, row=0, col=2)
        self.graphics.nextRow()

    def _denoising_plots(self) -> None:
        """Row 1: the energy map with corrupted points and their chains; energy and distance along the chains."""
        self.map_plot = legend_plot(self.graphics, "energy −f and denoising chains", row=1, col=0, columns=3)
        self.map_plot.setAspectLocked(True)
        self.heat = Heatmap(self.map_plot, "viridis", "−f")
        self.data_dots = self.map_plot.plot(pen=None, symbol="o", symbolSize=2, symbolPen=None,
                                            symbolBrush=pg.mkBrush(255, 255, 255, 50))
        self.trails = pg.PlotCurveItem(pen=pg.mkPen(255, 170, 60, 200, width=1), connect="finite")
        self.map_plot.addItem(self.trails)
        self.starts = self.map_plot.plot(pen=None, symbol="x", symbolSize=7, symbolPen=pg.mkPen(PINK, width=2),
                                         name="corrupted x̃")
        self.ends = self.map_plot.plot(pen=None, symbol="o", symbolSize=6, symbolBrush=pg.mkBrush("w"),
                                       name="after Langevin")
        self.chain_plot = legend_plot(self.graphics, "along the chains (mean of 24)", row=1, col=1, columns=1)
        self.chain_plot.setLabel("bottom", "Langevin step")
        self.energy_curve = self.chain_plot.plot(pen=pen(ORANGE, 2), name="energy −f(x)")
        self.dist_curve = self.chain_plot.plot(pen=pen(BLUE, 2), name="distance to data × 10")
        self.graphics.ci.layout.setColumnStretchFactor(0, 3)
        self.graphics.ci.layout.setColumnStretchFactor(1, 3)
        self.graphics.ci.layout.setColumnStretchFactor(2, 2)

    def _measure_rate(self) -> float:
        """Evaluations of the lab's MLP energy per second on this machine (a realistic f, not the Gaussian)."""
        x = torch.zeros(50_000, 2, dtype=torch.float64)
        with torch.no_grad():
            t = time.perf_counter()
            self.fit.energy(x)
            return 50_000 / max(time.perf_counter() - t, 1e-6)

    # -- training the energy (a few steps per tick: the window stays live) -------------------------
    def showEvent(self, event) -> None:  # noqa: N802 (Qt's name): train only once someone looks
        super().showEvent(event)
        if self.fit.steps < TRAIN_STEPS and not self.timer.isActive():
            self.timer.start()

    def retrain(self) -> None:
        self.fit = dn.DSMEnergyFit(self.train, sigma=0.1, seed=self.fit.steps + 1)
        self.timer.start()
        self.refresh()

    def advance(self, steps: int = STEPS_PER_TICK) -> None:
        self.fit.step(steps)
        if self.fit.steps >= TRAIN_STEPS:
            self.timer.stop()
        self.draw_denoising()

    def train_to_end(self) -> None:
        self.timer.stop()
        self.fit.step(max(0, TRAIN_STEPS - self.fit.steps))
        self.draw_denoising()

    # -- drawing -----------------------------------------------------------------------------------
    def refresh(self) -> None:
        self.draw_normalizer()
        self.draw_denoising()

    def draw_normalizer(self) -> None:
        n, rho = self.n.value(), self.rho.value()
        rows = self.rows = nz.table(DIMS, n, self.mc.value(), 1.0, rho)
        d = np.array([r["d"] for r in rows], float)
        self.analytic_curve.setData(d, [r["analytic"] for r in rows])
        ok = [r for r in rows if not math.isnan(r["grid"])]
        self.grid_dots.setData([r["d"] for r in ok], [r["grid"] for r in ok])
        self.mc_dots.setData(d, [r["mc"] for r in rows])
        top = max(r["analytic"] for r in rows)
        self.logz_plot.setYRange(-top, 1.5 * top, padding=0.02)  # uniform MC falls off the bottom: that is the point
        secs = COST_DIMS * math.log10(n) - math.log10(self.rate)
        self.cost_curve.setData(COST_DIMS, secs)
        self.cost_plot.setYRange(-6, min(float(secs.max()), 60), padding=0.02)
        head = "<tr><th>d</th><th>log Z exact</th><th>grid</th><th>evaluations</th><th>time</th><th>MC</th></tr>"
        known = {r["d"]: r for r in rows}  # the plot's rows: their grid and MC sums are not done again
        body = "".join(self._row(dd, n, rho, known.get(dd)) for dd in TABLE_DIMS)
        self.table.setText(f"<table cellspacing='4'>{head}{body}</table>"
                           f"<br>n = {n} per axis · f evaluated at {self.rate:,.0f}/s (this machine)")

    def _row(self, d: int, n: int, rho: float, row: dict | None = None) -> str:
        if row is not None:
            exact, grid, mc, cost = row["analytic"], row["grid"], row["mc"], row["log10_cost"]
        else:
            exact = nz.log_z_analytic(d, 1.0, rho)
            grid = nz.log_z_grid(d, n, 1.0, rho)
            mc = nz.log_z_uniform_mc(d, self.mc.value(), 1.0, rho) if d <= 100 else math.nan
            cost = nz.grid_cost(n, d)
        secs = cost - math.log10(self.rate)
        when = f"{10 ** secs:.2g} s" if secs < 7.5 else ("intractable" if secs > 17.6 else f"10^{secs:.0f} s")
        fmt = lambda v: "—" if math.isnan(v) else f"{v:.3f}"  # noqa: E731
        return (f"<tr><td>{d}</td><td>{exact:.3f}</td><td>{fmt(grid)}</td><td>10^{cost:.1f}</td><td>{when}</td>"
                f"<td>{fmt(mc)}</td></tr>")

    def draw_denoising(self) -> None:
        if not hasattr(self, "heat"):
            return
        res = 90
        box = self.box
        xs, ys = np.linspace(box[0], box[1], res), np.linspace(box[2], box[3], res)
        xx, yy = np.meshgrid(xs, ys)
        e = -self.fit.f(np.stack([xx.ravel(), yy.ravel()], 1)).reshape(res, res)
        self.heat.show(e, box, robust_levels(e, 1, 90))
        noisy = dn.corrupt(self.clean, self.sigma_c.value(), seed=1)
        tr = self.trail = dn.denoise(self.fit.energy, noisy, 150, 0.002, self.noise.value(), seed=2)
        segs = np.concatenate([tr.transpose(1, 0, 2), np.full((tr.shape[1], 1, 2), np.nan)], 1).reshape(-1, 2)
        self.trails.setData(segs[:, 0], segs[:, 1])
        self.starts.setData(tr[0, :, 0], tr[0, :, 1])
        self.ends.setData(tr[-1, :, 0], tr[-1, :, 1])
        energies = -self.fit.f(tr.reshape(-1, 2)).reshape(tr.shape[:2]).mean(1)  # one forward pass per tick
        dist = np.array([mem.nearest_distance(x, self.train).mean() for x in tr[::5]])
        self.energy_curve.setData(np.arange(len(tr)), energies)
        self.dist_curve.setData(np.arange(0, len(tr), 5), 10 * dist)
        self.denoised = {"energy_before": energies[0], "energy_after": energies[-1], "dist_before": dist[0],
                         "dist_after": dist[-1]}
        v, r = self.denoised, self.rows[1] if hasattr(self, "rows") else None
        self.status.setText(
            (f"d = 2: log Z = <b>{r['analytic']:.4f}</b> exact, grid {r['grid']:.4f}, MC {r['mc']:.4f} · " if r else "")
            + f"energy trained {self.fit.steps}/{TRAIN_STEPS} DSM steps · denoising 24 points: mean energy −f "
            f"{v['energy_before']:.2f} → <b>{v['energy_after']:.2f}</b>, distance to data "
            f"{v['dist_before']:.3f} → <b>{v['dist_after']:.3f}</b>")
