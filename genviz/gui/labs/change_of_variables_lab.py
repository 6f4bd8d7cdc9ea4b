"""Flows from scratch: the change-of-variables formula on a 1D spline you drag, and a 2×2 linear map whose columns
you drag (area |det A|, the Gaussian N(0, AAᵀ) it makes). Mathematics in genviz.core.labs.change_of_variables."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QPolygonF
from PySide6.QtWidgets import QGraphicsPolygonItem

from genviz.core.labs import change_of_variables as cv
from genviz.gui.labs.base import BLUE, GREEN, GREY, ORANGE, PINK, LabTab, pen

ZK = np.linspace(-3.0, 3.0, 7)  # knot positions (fixed); the user drags their heights
X_LIM = 7.0  # knots stay inside [−X_LIM, X_LIM]
Z_VIEW = (-4.0, 4.0)


def handle(pos, label: str, color) -> pg.TargetItem:
    return pg.TargetItem(pos=tuple(pos), size=12, symbol="o", label=label, pen=pg.mkPen(color, width=2),
                         labelOpts={"color": (255, 255, 255), "offset": (8, -8)})


def polygon(pts) -> QPolygonF:
    return QPolygonF([QPointF(float(x), float(y)) for x, y in pts])


class ChangeOfVariablesLab(LabTab):
    title = "change of variables (1D)"
    family = "Flows"
    formula = ("x = f(z), z ~ N(0, 1), f increasing: <b>p<sub>x</sub>(x) = p<sub>z</sub>(f⁻¹(x))·|df⁻¹/dx| = "
               "p<sub>z</sub>(z) / |dx/dz|</b>. Why the Jacobian: F<sub>x</sub>(f(z)) = P(X ≤ f(z)) = P(Z ≤ z) = "
               "F<sub>z</sub>(z); differentiate in z: p<sub>x</sub>(f(z))·f′(z) = p<sub>z</sub>(z). Drag the knots "
               "of the monotone spline f (a dragged knot stays between its neighbours, so f stays a bijection).")

    def build(self) -> None:
        self.preset = self.combo("map", cv.PRESETS, "start the spline from one of these maps")
        self.preset.setCurrentIndex(list(cv.PRESETS).index("split in two (steep middle)"))
        self.n = self.spin("samples", 1000, 200_000, 20_000, "z ~ N(0, 1) draws pushed through f")
        self.bins = self.spin("bins", 10, 200, 60)
        self.z0 = self.dspin("probe z₀", -3.5, 3.5, 0.6, 0.1, "the point where p_x(f(z₀))·f′(z₀) = p_z(z₀) is read")
        self.seed = 0
        self.button("New samples", self.new_samples, "draw the base samples again")
        self.xk = cv.PRESETS[self.preset.currentText()](ZK)
        self.preset.currentIndexChanged.connect(self.apply_preset)
        g = self.graphics
        self.px_plot = g.addPlot(row=0, col=0, title="p<sub>x</sub>(x): formula, histogram of x = f(z)")
        self.map_plot = g.addPlot(row=0, col=1, title="x = f(z): drag the knots")
        self.cdf_plot = g.addPlot(row=0, col=2, title="F<sub>z</sub>(z) and F<sub>x</sub>(f(z))")
        self.legend_text = g.addLabel(row=1, col=0, justify="left")
        self.pz_plot = g.addPlot(row=1, col=1, title="base p<sub>z</sub>(z) = N(0, 1)")
        self.jac_plot = g.addPlot(row=1, col=2, title="f′(z) and p<sub>z</sub>(z) / p<sub>x</sub>(f(z))")
        for p in (self.pz_plot, self.jac_plot, self.cdf_plot):
            p.setXLink(self.map_plot)
            p.setLabel("bottom", "z")
        self.px_plot.setYLink(self.map_plot)
        self.px_plot.setLabel("left", "x")
        self.px_plot.setLabel("bottom", "density")
        self.px_plot.invertX(True)  # the density grows leftwards, away from the map it belongs to
        self.map_plot.setLabel("left", "x")
        self.map_plot.setRange(xRange=Z_VIEW, yRange=(-6, 6), padding=0)
        self.map_plot.showGrid(x=True, y=True, alpha=0.15)
        self.hist = pg.BarGraphItem(x0=[0], y0=[0], width=[0], height=[0], brush=pg.mkBrush(79, 163, 255, 90),
                                    pen=pg.mkPen(79, 163, 255, 140))
        self.px_plot.addItem(self.hist)
        self.px_curve = self.px_plot.plot(pen=pen(ORANGE, 2))
        self.px_probe = self.px_plot.plot(pen=None, symbol="o", symbolSize=8, symbolBrush=pg.mkBrush(PINK))
        self.f_curve = self.map_plot.plot(pen=pen("w", 2))
        self.probe_path = self.map_plot.plot(pen=pen(PINK, 1, Qt.DashLine))
        self.handles = []
        for k, (z, x) in enumerate(zip(ZK, self.xk)):
            h = handle((z, x), "", ORANGE)
            h.sigPositionChanged.connect(lambda *_, k=k: self.drag_knot(k))
            self.map_plot.addItem(h)
            self.handles.append(h)
        self.pz_fill = self.pz_plot.plot(pen=pen(GREY, 2), fillLevel=0, brush=pg.mkBrush(138, 143, 152, 60))
        self.pz_probe = self.pz_plot.plot(pen=pen(PINK, 1, Qt.DashLine))
        self.cdf_z = self.cdf_plot.plot(pen=pen(GREY, 5))
        self.cdf_x = self.cdf_plot.plot(pen=pen(ORANGE, 2, Qt.DashLine))
        self.jac_curve = self.jac_plot.plot(pen=pen(GREEN, 5))
        self.jac_ratio = self.jac_plot.plot(pen=pen(ORANGE, 2, Qt.DashLine))
        self.jac_probe = self.jac_plot.plot(pen=None, symbol="o", symbolSize=8, symbolBrush=pg.mkBrush(PINK))
        self.legend_text.setText(
            "<span style='color:#ff9f43'>orange</span>: the formula p<sub>z</sub>(f⁻¹(x))·|df⁻¹/dx|<br>"
            "<span style='color:#4fa3ff'>blue</span>: histogram of f(z), z ~ N(0, 1)<br>"
            "<span style='color:#8a8f98'>grey</span> (wide) under <span style='color:#ff9f43'>orange</span> "
            "(dashed):<br>the identity, computed two ways<br>"
            "<span style='color:#2ed573'>green</span>: f′(z); <span style='color:#ff6b81'>pink</span>: probe z₀",
            size="9pt")
        for col, stretch in enumerate((2, 3, 2)):
            g.ci.layout.setColumnStretchFactor(col, stretch)
        g.ci.layout.setRowStretchFactor(0, 3)
        g.ci.layout.setRowStretchFactor(1, 2)

    # -- interaction -------------------------------------------------------------------------------------
    def apply_preset(self, *_) -> None:
        self.xk = cv.monotone(np.clip(cv.PRESETS[self.preset.currentText()](ZK), -X_LIM, X_LIM))
        self._place_handles()
        self.refresh()

    def new_samples(self) -> None:
        self.seed += 1
        self.refresh()

    def drag_knot(self, k: int) -> None:
        """A knot moved (mouse or setPos): keep its z, clamp its height between its neighbours, redraw."""
        xk = self.xk.copy()
        xk[k] = float(self.handles[k].pos().y())
        self.xk = cv.monotone(xk, -X_LIM, X_LIM, moved=k)
        self._place_handles()
        self.refresh()

    def _place_handles(self) -> None:
        for h, z, x in zip(self.handles, ZK, self.xk):
            h.blockSignals(True)
            h.setPos(z, x)
            h.blockSignals(False)

    # -- drawing -------------------------------------------------------------------------------------
    def refresh(self) -> None:
        if not self._ready:
            return
        f = self.f = cv.MonotoneSpline(ZK, self.xk)
        z = np.linspace(-8, 8, 1601)
        self.f_curve.setData(z, f(z))
        # quadrature nodes: even in x, plus the images of even z (dense where f is flat and p_x spikes)
        x = np.unique(np.concatenate([np.linspace(float(f(-8.0)), float(f(8.0)), 2001), f(z)]))
        px = f.pushed_density(x)
        self.px_curve.setData(px, x)
        self.integral = cv.trapezoid(px, x)
        samples = cv.push_samples(f, self.n.value(), self.seed)
        edges = np.linspace(-6, 6, self.bins.value() + 1)
        hist = cv.histogram_density(samples, edges)
        self.hist.setOpts(x0=np.zeros(len(hist)), y0=edges[:-1], width=hist, height=np.diff(edges))
        # each bin's exact mass Φ(f⁻¹(right)) − Φ(f⁻¹(left)); the largest count deviation in binomial σ's
        mass = np.diff(cv.normal_cdf(f.inverse(edges)))
        n = len(samples)
        self.hist_error = float((np.abs(hist * np.diff(edges) - mass) * n / np.sqrt(n * mass * (1 - mass) + 1e-12)).max())
        pz = cv.normal_pdf(z)
        self.pz_fill.setData(z, pz)
        f_z = np.interp(f(z), x, cv.cumulative(px, x))  # F_x at f(z), from the numerically integrated p_x
        self.cdf_z.setData(z, cv.normal_cdf(z))
        self.cdf_x.setData(z, f_z)
        self.cdf_gap = float(np.abs(f_z - cv.normal_cdf(z))[np.abs(z) < 6].max())
        self.jac_curve.setData(z, f.slope(z))
        self.jac_ratio.setData(z, pz / f.pushed_density(f(z)))
        self._probe(f)

    def _probe(self, f) -> None:
        z0 = self.z0.value()
        x0, slope = float(f(z0)), float(f.slope(z0))
        p_z, p_x = float(cv.normal_pdf(z0)), float(f.pushed_density(x0))
        self.probe = {"z": z0, "x": x0, "slope": slope, "p_z": p_z, "p_x": p_x}
        self.probe_path.setData([z0, z0, Z_VIEW[0] - 10], [-20, x0, x0])
        self.px_probe.setData([p_x], [x0])
        self.pz_probe.setData([z0, z0], [0, p_z])
        self.jac_probe.setData([z0], [slope])
        self.status.setText(
            f"at z₀ = {z0:.2f}: x₀ = f(z₀) = {x0:.3f}, |dx/dz| = <b>{slope:.4f}</b>, p<sub>x</sub>(x₀) = {p_x:.4f}, "
            f"so p<sub>x</sub>(x₀)·|dx/dz| = <b>{p_x * slope:.4f}</b> = p<sub>z</sub>(z₀) = <b>{p_z:.4f}</b> · "
            f"∫ p<sub>x</sub> dx = <b>{self.integral:.4f}</b> (trapezoid; exactly 1) · histogram vs the formula's bin masses: largest "
            f"deviation {self.hist_error:.1f} σ · max |F<sub>x</sub>(f(z)) − Φ(z)| = {self.cdf_gap:.1e}")


PRESETS_2D = {  # the first is where the lab opens: a map whose det (1.91) is not 1
    "stretch and rotate": [[1.6, -0.7], [0.9, 0.8]],
    "shear (det 1)": [[1.0, 0.8], [0.0, 1.0]],
    "reflection (det < 0)": [[0.0, 1.2], [1.0, 0.0]],
    "nearly singular": [[1.0, 0.95], [0.9, 1.0]],
    "identity": [[1.0, 0.0], [0.0, 1.0]],
}


class LinearMapLab(LabTab):
    title = "linear map: area = |det A|"
    family = "Flows"
    formula = ("x = Az with A = [Ae₁ Ae₂] (drag the columns). The unit square goes to the parallelogram they span: "
               "<b>area = |det A| = |a₁₁a₂₂ − a₁₂a₂₁|</b>; volumes scale by |det A| everywhere, so "
               "p<sub>x</sub>(x) = p<sub>z</sub>(A⁻¹x) / |det A|. N(0, I) becomes <b>N(0, AAᵀ)</b>: "
               "Cov(Az) = A·I·Aᵀ. det A &lt; 0 flips orientation; det A = 0 flattens the plane (no density).")

    def build(self) -> None:
        self.preset = self.combo("A", PRESETS_2D, "start from one of these maps")
        self.n = self.spin("samples", 200, 100_000, 3000)
        self.seed = 0
        self.button("New samples", self.new_samples)
        self.a = np.array(PRESETS_2D[self.preset.currentText()], np.float64)
        self.preset.currentIndexChanged.connect(self.apply_preset)
        self.z_plot = self.graphics.addPlot(title="z ~ N(0, I), the unit square, the 1σ and 2σ circles")
        self.x_plot = self.graphics.addPlot(title="x = Az: the square's image, samples, N(0, AAᵀ) ellipses")
        self.heat = pg.ImageItem(axisOrder="row-major")
        self.heat.setColorMap(pg.colormap.get("inferno"))  # black where p_x ≈ 0: no frame around the view
        self.heat.setOpacity(0.7)
        self.x_plot.addItem(self.heat)
        for p in (self.z_plot, self.x_plot):
            p.setAspectLocked(True)
            p.setRange(xRange=(-4, 4), yRange=(-4, 4), padding=0)
            p.showGrid(x=True, y=True, alpha=0.15)
            p.dots = p.plot(pen=None, symbol="o", symbolSize=2, symbolPen=None, symbolBrush=pg.mkBrush(200, 200, 200, 70))
            p.fill = QGraphicsPolygonItem()
            p.fill.setBrush(pg.mkBrush(255, 159, 67, 70))
            p.fill.setPen(pg.mkPen(None))
            p.addItem(p.fill)
            p.square = p.plot(pen=pen(ORANGE, 2))
            p.ellipses = [p.plot(pen=pen(BLUE, 2)), p.plot(pen=pen(BLUE, 1, Qt.DashLine))]
            p.e1 = p.plot(pen=pen(PINK, 3))
            p.e2 = p.plot(pen=pen(GREEN, 3))
        self.z_plot.square.setData(*np.vstack([cv.UNIT_SQUARE, cv.UNIT_SQUARE[:1]]).T)
        self.z_plot.fill.setPolygon(polygon(cv.UNIT_SQUARE))
        self.z_plot.e1.setData([0, 1], [0, 0])
        self.z_plot.e2.setData([0, 0], [0, 1])
        self.handles = [handle(self.a[:, 0], "Ae₁", PINK), handle(self.a[:, 1], "Ae₂", GREEN)]
        for h in self.handles:
            h.sigPositionChanged.connect(self.drag_column)
            self.x_plot.addItem(h)

    def apply_preset(self, *_) -> None:
        self.set_matrix(PRESETS_2D[self.preset.currentText()])

    def new_samples(self) -> None:
        self.seed += 1
        self.refresh()

    def drag_column(self, *_) -> None:
        self.a = np.array([list(self.handles[0].pos()), list(self.handles[1].pos())], np.float64).T
        self.refresh()

    def set_matrix(self, a) -> None:
        self.a = np.array(a, np.float64)
        for h, col in zip(self.handles, self.a.T):
            h.blockSignals(True)
            h.setPos(*col)
            h.blockSignals(False)
        self.refresh()

    def refresh(self) -> None:
        if not self._ready:
            return
        a = self.a
        z, x = cv.linear_samples(a, self.n.value(), self.seed)
        self.z_plot.dots.setData(z[:, 0], z[:, 1])
        self.x_plot.dots.setData(x[:, 0], x[:, 1])
        for k, (zc, xc) in enumerate(zip(self.z_plot.ellipses, self.x_plot.ellipses)):
            zc.setData(*cv.covariance_ellipse(np.eye(2), k + 1.0).T)
            xc.setData(*cv.covariance_ellipse(a @ a.T, k + 1.0).T)
        image = cv.square_image(a)
        closed = np.vstack([image, image[:1]])
        self.x_plot.square.setData(*closed.T)
        self.x_plot.fill.setPolygon(polygon(image))
        self.x_plot.e1.setData([0, a[0, 0]], [0, a[1, 0]])
        self.x_plot.e2.setData([0, a[0, 1]], [0, a[1, 1]])
        self.det = float(np.linalg.det(a))
        self.area = abs(cv.polygon_area(image))
        self.sample_cov = np.cov(x.T)
        cov_text = (f"sample covariance [[{self.sample_cov[0, 0]:.2f}, {self.sample_cov[0, 1]:.2f}], "
                    f"[{self.sample_cov[1, 0]:.2f}, {self.sample_cov[1, 1]:.2f}]] vs AAᵀ = [[{(a @ a.T)[0, 0]:.2f}, "
                    f"{(a @ a.T)[0, 1]:.2f}], [{(a @ a.T)[1, 0]:.2f}, {(a @ a.T)[1, 1]:.2f}]]")
        if abs(self.det) < 1e-3:
            self.heat.clear()
            self.integral = float("nan")
            self.status.setText(f"det A = {self.det:.4f}: A is singular — the square collapses to a segment "
                                f"(area {self.area:.4f}) and x has no density. {cov_text}")
            return
        t = np.linspace(-4, 4, 161)
        grid = np.stack(np.meshgrid(t, t), -1).reshape(-1, 2)
        p = np.exp(cv.linear_log_density(grid, a)).reshape(len(t), len(t))
        wide = np.linspace(-15, 15, 301)  # the integral on a grid past the view, where the tails still count
        wide_grid = np.stack(np.meshgrid(wide, wide), -1).reshape(-1, 2)
        self.integral = float(np.exp(cv.linear_log_density(wide_grid, a)).sum() * (wide[1] - wide[0]) ** 2)
        self.heat.setImage(p, levels=(0, float(p.max())), autoLevels=False)
        self.heat.setRect(-4.025, -4.025, 8.05, 8.05)
        flip = " (negative: orientation reversed — e₁→e₂ now turns clockwise)" if self.det < 0 else ""
        self.status.setText(
            f"det A = a₁₁a₂₂ − a₁₂a₂₁ = <b>{self.det:.4f}</b>{flip} · area of the image polygon (shoelace) = "
            f"<b>{self.area:.4f}</b> = |det A| · ∫ p<sub>x</sub> dx (grid on [−15, 15]²) = {self.integral:.3f} · {cov_text}")
