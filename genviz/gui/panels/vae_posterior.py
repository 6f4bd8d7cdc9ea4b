"""The VAE panel's 'posterior' tab: for one x, the true p(z|x) of a 2D latent on a grid next to q(z|x), the ELBO's
gap, per-point SVI closing the amortization gap live, and log E vs E log (histograms of log p̂_k).

Math in genviz.core.vae.posterior (no Qt). The model is a copy built from the latest snapshot's weights
(vae_labs.model_copy: the session is never touched, torch's global generator neither). A grid pass decodes
64² + 96² latents (tens of ms for MNIST's decoder), so it runs on a pick, on a finished SVI, and on a snapshot at
most once a second while the tab is shown; SVI steps run on a timer, a few per tick.
"""
from __future__ import annotations

import threading
import time

import numpy as np
import pyqtgraph as pg
import torch
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QPushButton, QWidget

from genviz.core.vae import posterior
from genviz.core.vae.mog import ellipse
from genviz.gui.panels.pick import InertScatter, PickViewBox
from genviz.gui.panels.toolkit import Heatmap, formula_tab, legend_plot, robust_levels
from genviz.gui.panels.vae_labs import model_copy

KS = (1, 5, 50, 500)
K_COLORS = ("#ff6b6b", "#ff9f43", "#7bed9f", "#4fa3ff")
ENC_PEN = pg.mkPen("#ffffff", width=2, style=Qt.DashLine)
SVI_PEN = pg.mkPen("#2ed573", width=2)
PX_PEN = pg.mkPen("#ffd32a", width=2, style=Qt.DashLine)
SVI_STEPS, STEPS_PER_TICK = 300, 5
FORMULA = ("p(z|x) = p(x|z) p(z) / p(x), normalized on a grid of cells ΔA: "
           "log p(x) ≈ logsumexp<sub>i</sub> log p(x, z<sub>i</sub>) + log ΔA. "
           "log p(x) − ELBO(q) = KL(q(z|x) ‖ p(z|x)) ≥ 0. "
           "SVI: this x's own (μ, log σ), Adam on the ELBO. "
           "p<sub>k</sub>(x) = (1/k) Σ<sub>i</sub> p(x, z<sub>i</sub>)/q(z<sub>i</sub>|x), z<sub>i</sub> ~ q: "
           "E p<sub>k</sub>(x) = p(x), but E log p<sub>k</sub>(x) ≤ log p(x) (Jensen); k = 1 is the ELBO, "
           "k > 1 the IWAE bound, rising to log p(x).")


def _repeats(k: int, image: bool) -> int:
    """Estimates per k: fewer of the costly ones for images (k = 500 × 24 repeats = 12k decodes)."""
    return 300 if not image else {1: 300, 5: 150, 50: 60}.get(k, 24)


def log_phats(model, x, m, v, image: bool) -> dict:
    """{k: log p_k(x) estimates} for k in KS under q = N(m, v), from a generator of their own (the same draws
    each time, so a picture changes only when q or the model does)."""
    g = torch.Generator().manual_seed(0)
    return {k: posterior.log_phat(model, x, k, _repeats(k, image), m, v, generator=g) for k in KS}


def _posterior_work(name, shape, config, arrays, x, image) -> dict:
    """Everything a picked x needs, off the GUI thread: the model copy, q, the grid, the ELBO, the histograms."""
    model = model_copy(name, shape, config, arrays)  # float32 decoding; grid sums run in float64
    with torch.no_grad():
        m, v = model.encode(x)
    enc_q = (m[0].double().numpy(), v[0].double().numpy())
    grid = posterior.grid_posterior(model, x, enc_q, res=64 if image else 96)
    return {"model": model, "x": x, "enc_q": enc_q, "grid": grid,
            "elbo_enc": posterior.elbo_mc(model, x, *enc_q, samples=2048), "hist": log_phats(model, x, *enc_q, image)}


class PosteriorTab(QWidget):
    """Pick x (a data point, or one of the held-out digits) → p(z|x), q's 2σ ellipses, ELBO, gap, SVI, log p_k(x)."""

    updated = Signal()  # numbers and plots were redrawn (tests wait on it)
    computed = Signal(str, object)  # a thread's result: ("grid" | "hist", dict or an error message)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.info: dict = {}
        self.arrays: dict = {}
        self.model = None
        self.x: torch.Tensor | None = None
        self.grid: dict | None = None
        self.enc_q = self.svi = None
        self.numbers: dict = {}
        self._last_grid, self._grid_arrays = 0.0, None
        self.busy, self._pending, self._run = False, None, 0
        self.computed.connect(self._on_computed)
        self.optimize_button = QPushButton("optimize q for this x")
        self.optimize_button.clicked.connect(self.optimize)
        self.encoder_button = QPushButton("back to the encoder")
        self.encoder_button.clicked.connect(self.back_to_encoder)
        _, self.status, self.win = formula_tab(
            self, FORMULA, [self.optimize_button, self.encoder_button],
            "train a few steps of a VAE with a 2D latent (z_dim = 2), then click a data point")
        self._build_plots(self.win)
        self.timer = QTimer(self)
        self.timer.setInterval(30)
        self.timer.timeout.connect(self._svi_tick)

    def _build_plots(self, win) -> None:
        self.pick_vb = PickViewBox()
        self.pick_plot = win.addPlot(row=0, col=0, viewBox=self.pick_vb, title="click a data point x")
        self.pick_plot.setAspectLocked(True)
        self.points = InertScatter(size=3, pen=None, brush=pg.mkBrush(200, 200, 200, 90))
        self.digits = pg.ImageItem(axisOrder="row-major")
        self.chosen = InertScatter(size=14, symbol="x", pen=pg.mkPen("#ffd32a", width=3), brush=None)
        for it in (self.digits, self.points, self.chosen):
            self.pick_plot.addItem(it)
        self.pick_vb.picked.connect(self.pick)
        self.post_plot = legend_plot(win, "true posterior p(z|x) on the grid · q(z|x) 2σ", row=0, col=1, columns=2)
        self.post_plot.setAspectLocked(True)
        self.post_plot.setLabel("bottom", "z₁")
        self.post_plot.setLabel("left", "z₂")
        self.heat = Heatmap(self.post_plot, "viridis", "p(z|x)")
        self.enc_curve = self.post_plot.plot([], [], pen=ENC_PEN, name="encoder q(z|x)")
        self.svi_curve = self.post_plot.plot([], [], pen=SVI_PEN, name="SVI q (this x's own φ)")
        self.elbo_plot = legend_plot(win, "ELBO of q while SVI runs (nats)", row=0, col=2, columns=1)
        self.elbo_plot.setLabel("bottom", "SVI step")
        self.trace_curve = self.elbo_plot.plot([], [], pen=pg.mkPen(46, 213, 115, 70), name="Adam's estimate (16 z)")
        self.grid_curve = self.elbo_plot.plot([], [], pen=pg.mkPen("#2ed573", width=3), name="ELBO on the grid")
        self.px_line = pg.InfiniteLine(angle=0, pen=PX_PEN, label="log p(x) (grid)",
                                       labelOpts={"position": 0.8, "color": "#ffd32a", "anchors": [(1, 1), (1, 1)]})
        self.enc_line = pg.InfiniteLine(angle=0, pen=ENC_PEN, label="ELBO, encoder q",
                                        labelOpts={"position": 0.8, "color": "#ffffff", "anchors": [(1, 0), (1, 0)]})
        for ln in (self.px_line, self.enc_line):
            self.elbo_plot.addItem(ln)
        bottom = win.addLayout(row=1, col=0, colspan=3)
        self.hist_plot = legend_plot(bottom, "histogram of log p_k(x) over repeats vs log p(x) (dashed)", row=0,
                                     col=0, columns=4)
        self.hist_plot.setLabel("bottom", "log p_k(x) (nats)")
        self.hist = {k: self.hist_plot.plot([], [], stepMode="center", pen=pg.mkPen(c, width=2), name=f"k = {k}")
                     for k, c in zip(KS, K_COLORS)}
        self.hist_px = pg.InfiniteLine(angle=90, pen=PX_PEN)
        self.hist_plot.addItem(self.hist_px)
        self.bias_plot = legend_plot(bottom, "E log p_k(x) vs k: Jensen's gap shrinks", row=0, col=1, columns=1)
        self.bias_plot.setLogMode(x=True)
        self.bias_plot.getAxis("bottom").setTicks([[(0, "1"), (np.log10(5), "5"), (1, "10"), (np.log10(50), "50"),
                                                    (2, "100"), (np.log10(500), "500")], []])
        self.bias_plot.setLabel("bottom", "k (importance samples)")
        self.bias_curve = self.bias_plot.plot([], [], pen=pg.mkPen("#4fa3ff", width=2), symbol="o", symbolSize=6,
                                              symbolBrush="#4fa3ff", name="mean of log p_k(x) (± std)")
        self.bias_err = pg.ErrorBarItem(pen=pg.mkPen("#4fa3ff"), beam=0.05)
        self.bias_plot.addItem(self.bias_err)
        self.bias_px = pg.InfiniteLine(angle=0, pen=PX_PEN)
        self.bias_plot.addItem(self.bias_px)
        win.ci.layout.setRowStretchFactor(0, 3)
        win.ci.layout.setRowStretchFactor(1, 2)
        bottom.layout.setColumnStretchFactor(0, 2)

    # -- driving ------------------------------------------------------------------------------------
    def begin(self, info: dict) -> None:
        self.stop_svi()
        self._run += 1  # a result still on its way from the last run is dropped
        self._pending = None
        self.info, self.arrays, self.model, self.x, self.grid, self.svi = dict(info), {}, None, None, None, None
        self.numbers = {}
        self.image = info.get("kind") == "image"
        data = info.get("data")
        pts = np.empty((0, 2)) if data is None or self.image else np.asarray(data, np.float32)[:1000]
        self.data_points = pts
        self.points.setData(pts[:, 0], pts[:, 1])
        self.digits.clear()
        for c in (self.chosen, self.enc_curve, self.svi_curve, self.trace_curve, self.grid_curve, *self.hist.values(),
                  self.bias_curve):
            c.setData([], [])
        self.heat.clear()
        self.pick_plot.setTitle("click a held-out digit x" if self.image else "click a data point x")

    @staticmethod
    def usable(arrays: dict) -> bool:
        """A 2D latent and a decoder of z alone (not the SSVAE's z and y)."""
        basis = arrays.get("proj_basis")
        return basis is not None and np.shape(basis)[1] == 2 and arrays.get("decoder_classes", 1) == 0

    def set_arrays(self, arrays: dict, shown: bool) -> None:
        if not self.usable(arrays):
            return
        self.arrays = arrays
        if self.image and "recon_in" in arrays:
            self.digits.setImage(np.concatenate(list(arrays["recon_in"]), 1), levels=(0, 1))
            self.digits.setRect(0, 0, 8, 1)  # digit i covers [i, i+1] × [0, 1]
            self.pick_vb.invertY(True)
            self.pick_plot.hideAxis("left")
            self.pick_plot.hideAxis("bottom")
        if self.svi is None and shown and self.x is not None and not self.busy and time.monotonic() - self._last_grid > 1.0:
            self._rebuild()  # the model moved: its posterior too (not during SVI: one model per run of it)

    def showEvent(self, ev) -> None:  # noqa: N802 (Qt's name)
        """Shown: the first point is picked if none is, and a stale posterior is redrawn."""
        super().showEvent(ev)
        if not self.arrays or self.svi is not None:
            return
        if self.x is None:
            self.pick(0.5, 0.5) if self.image else self.pick(*self.data_points[0]) if len(self.data_points) else None
        elif self._grid_arrays is not self.arrays:
            self._rebuild()

    def pick(self, u: float, v: float) -> None:
        """x = the clicked digit (images) or the data point nearest to the click (2D)."""
        if not self.arrays:
            return
        if self.image:
            i = int(np.clip(np.floor(u), 0, len(self.arrays["recon_in"]) - 1))
            self.x = torch.from_numpy(np.ascontiguousarray(self.arrays["recon_in"][i], np.float32)).reshape(1, 1, 28, 28)
            self.chosen.setData([i + 0.5], [1.08])
        else:
            pts = self.data_points
            j = int(np.argmin(((pts - [u, v]) ** 2).sum(1))) if len(pts) else None
            xy = pts[j] if j is not None else np.array([u, v], np.float32)
            self.x = torch.from_numpy(np.asarray(xy, np.float32)).reshape(1, 2)
            self.chosen.setData([xy[0]], [xy[1]])
        self.stop_svi()
        self.svi = None
        self._rebuild()

    def _rebuild(self) -> None:
        """A fresh copy of the model, its posterior for x, the encoder's q and the histograms, on a thread."""
        self._last_grid, self._grid_arrays = time.monotonic(), self.arrays
        args = (self.info["model"], tuple(self.info["data_shape"]), dict(self.info.get("config") or {}),
                self.arrays, self.x.reshape(1, *self.info["data_shape"]), self.image)
        self._spawn("grid", lambda: _posterior_work(*args))

    def _spawn(self, kind: str, fn) -> None:
        """Run fn on a Python thread (one at a time; the latest request waits) and hand its result back queued."""
        if self.busy:
            self._pending = (kind, fn)
            return
        self.busy = True
        run = self._run

        def work():
            try:
                res = fn()
            except Exception as e:  # noqa: BLE001 — said in the tab, never a traceback in the user's face
                res = f"{type(e).__name__}: {e}"
            self.computed.emit(kind, (run, res))

        threading.Thread(target=work, name="vae-posterior").start()  # not daemon: never killed inside torch at exit

    def _on_computed(self, kind: str, tagged) -> None:
        self.busy = False
        run, res = tagged
        if run != self._run:
            pass
        elif isinstance(res, str):
            self.status.setText(f"failed: {res}")
        elif kind == "grid":
            self._show_grid(res)
        else:
            self._show_hist(res)
        if self._pending is not None:
            pending, self._pending = self._pending, None
            self._spawn(*pending)

    def _show_grid(self, r: dict) -> None:
        self.model, self.xd, self.enc_q, self.grid = r["model"], r["x"], r["enc_q"], r["grid"]
        self.numbers = {"log_px": self.grid["log_px"], "kl_grid": self.grid["kl_grid"], "elbo_enc": r["elbo_enc"]}
        p = np.exp(self.grid["log_post"])
        self.heat.show(p, self._bbox(), robust_levels(p, 0, 99.9))
        self.enc_curve.setData(*ellipse(self.enc_q[0], np.diag(self.enc_q[1])).T)
        for c in (self.svi_curve, self.trace_curve, self.grid_curve):
            c.setData([], [])
        self.px_line.setValue(self.grid["log_px"])
        self.enc_line.setValue(self.numbers["elbo_enc"])
        x0, x1, y0, y1 = self.grid["box"]
        self.post_plot.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0.02)
        margin = max(0.3 * abs(self.grid["kl_grid"]), 0.02)  # Adam's noisy estimates may leave it: they are faint
        self.elbo_plot.setYRange(min(self.numbers["elbo_enc"], self.grid["elbo_grid"]) - margin,
                                 self.grid["log_px"] + margin, padding=0)
        self.elbo_plot.setXRange(0, SVI_STEPS, padding=0.02)
        self._show_hist(r["hist"])

    def _bbox(self):
        """The grid's cell centres' box (Heatmap places values at centres; the cells fill the grid's box)."""
        x0, x1, y0, y1 = self.grid["box"]
        res = self.grid["log_post"].shape[0]
        hx, hy = (x1 - x0) / res / 2, (y1 - y0) / res / 2
        return x0 + hx, x1 - hx, y0 + hy, y1 - hy

    def _show_hist(self, ests: dict) -> None:
        """Histograms of log p_k(x) per k, their means ± std against log p(x) from the grid."""
        means, stds, lo, hi = [], [], np.inf, -np.inf
        for est in ests.values():  # the bulk of every histogram: a rare far-off estimate must not squash them
            lo, hi = min(lo, np.percentile(est, 2)), max(hi, np.percentile(est, 99.5))
        lo, hi = min(lo, self.grid["log_px"]) - 0.05, max(hi, self.grid["log_px"]) + 0.05
        edges = np.linspace(lo, hi, 41)
        for k, est in ests.items():
            counts, _ = np.histogram(np.clip(est, lo, hi), edges, density=True)
            self.hist[k].setData(edges, counts)
            means.append(est.mean()), stds.append(est.std())
        self.hist_px.setValue(self.grid["log_px"])
        self.bias_curve.setData(np.asarray(KS, float), means)
        self.bias_err.setData(x=np.log10(KS), y=np.asarray(means), height=2 * np.asarray(stds))
        self.bias_px.setValue(self.grid["log_px"])
        self.numbers["phat_means"] = dict(zip(KS, means))
        self._say()

    # -- SVI ----------------------------------------------------------------------------------------
    def optimize(self) -> bool:
        """Start SVI for the picked x from the encoder's q; False when nothing is picked yet."""
        if self.grid is None or self.model is None or self.busy:
            self.status.setText("click a data point first" if self.grid is None else "computing p(z|x) …")
            return False
        self.svi = posterior.PointSVI(self.model, self.xd, *self.enc_q, lr=0.05, samples=16, anneal=SVI_STEPS)
        self.grid_trace = ([0], [self.grid["elbo_grid"]])
        self.timer.start()
        return True

    def _svi_tick(self) -> None:
        self.svi.step(STEPS_PER_TICK)
        m, v = self.svi.q()
        self.trace_curve.setData(np.arange(1, len(self.svi.trace) + 1), self.svi.trace)
        self.svi_curve.setData(*ellipse(m, np.diag(v)).T)
        scored = posterior.score_q(self.grid, m, v)
        self.numbers.update(kl_svi=scored["kl_grid"], elbo_svi=scored["elbo_grid"])
        self.grid_trace[0].append(len(self.svi.trace))
        self.grid_trace[1].append(scored["elbo_grid"])
        self.grid_curve.setData(*self.grid_trace)
        if len(self.svi.trace) >= SVI_STEPS:
            self.stop_svi()
            self.numbers["elbo_svi"] = posterior.elbo_mc(self.model, self.xd, m, v, samples=2048)
            model, x, image = self.model, self.xd, self.image
            self._spawn("hist", lambda: log_phats(model, x, m, v, image))
        self._say()

    def run_svi(self, steps: int = SVI_STEPS) -> None:
        """Run the whole of SVI at once (tests, render): as the timer would, without waiting for it."""
        if self.optimize():
            self.timer.stop()
            while self.svi is not None and len(self.svi.trace) < steps:
                self._svi_tick()

    def stop_svi(self) -> None:
        self.timer.stop()

    def back_to_encoder(self) -> None:
        """Drop this x's own q: the encoder's q, its ELBO and histograms again."""
        self.stop_svi()
        self.svi = None
        for k in ("elbo_svi", "kl_svi"):
            self.numbers.pop(k, None)
        if self.grid is not None:
            for c in (self.svi_curve, self.trace_curve, self.grid_curve):
                c.setData([], [])
            model, x, q, image = self.model, self.xd, self.enc_q, self.image
            self._spawn("hist", lambda: log_phats(model, x, *q, image))
            self._say()

    def _say(self) -> None:
        n = self.numbers
        gap = n["log_px"] - n["elbo_enc"]
        text = (f"log p(x) (grid) = <b>{n['log_px']:.3f}</b> · ELBO(encoder q) = {n['elbo_enc']:.3f} · "
                f"gap log p(x) − ELBO = <b>{gap:.3f}</b> nats (KL(q‖p(z|x)) on the grid: {n['kl_grid']:.3f})")
        if "elbo_svi" in n:
            text += (f"<br>SVI q (step {len(self.svi.trace) if self.svi else SVI_STEPS}): ELBO = "
                     f"<b>{n['elbo_svi']:.3f}</b>, gap = {n['log_px'] - n['elbo_svi']:.3f} (KL on the grid "
                     f"{n['kl_svi']:.3f}) · amortization gap ELBO(SVI) − ELBO(encoder) = "
                     f"<b>{n['elbo_svi'] - n['elbo_enc']:.3f}</b>")
        self.status.setText(text)
        self.updated.emit()

    def plots(self) -> dict:
        return {"posterior": self.post_plot, "posterior_elbo": self.elbo_plot, "log_phat_hist": self.hist_plot,
                "log_phat_bias": self.bias_plot}
