"""The estimator labs tab of the VAE panel: buttons that run genviz.core.vae.labs on a copy of the model.

The copy is rebuilt from the latest snapshot's weights (core.vae.rebuild), so the session is never touched;
a lab takes 0.2–3 s on a CPU, too long for the GUI thread, so it runs on a Python thread and its plain
numpy result comes back through a queued signal.
"""
from __future__ import annotations

import threading

import numpy as np
import pyqtgraph as pg
import torch
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from genviz.core.vae import labs
from genviz.core.vae.rebuild import model_from_arrays

NAIVE, IS_, RF, RP = "#ff6b6b", "#4fa3ff", "#ff9f43", "#7bed9f"


def _curve(plot, color, name):
    return plot.plot([], [], pen=pg.mkPen(color, width=2), symbol="o", symbolSize=5, symbolBrush=color, name=name)


class LabsTab(QWidget):
    """(a) log p(x): naive MC vs IS · (b) gradient variance: REINFORCE vs reparam · (c) amortization gap."""

    finished = Signal(str, object)  # lab name, result dict (numpy) or an error message

    def __init__(self, parent=None):
        super().__init__(parent)
        self.arrays: dict = {}
        self.info: dict = {}
        self.busy = False
        col = QVBoxLayout(self)
        col.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.buttons = {}
        for key, text in (("spread", "(a) log p(x): naive vs IS"), ("gradvar", "(b) REINFORCE vs reparam"),
                          ("gap", "(c) amortization gap")):
            b = QPushButton(text)
            b.clicked.connect(lambda _=False, k=key: self.run(k))
            row.addWidget(b)
            self.buttons[key] = b
        self.status = QLabel("runs on a copy of the current model (4 held-out examples)")
        row.addWidget(self.status, 1)
        col.addLayout(row)
        win = pg.GraphicsLayoutWidget()
        self._build_plots(win)
        col.addWidget(win)
        self.finished.connect(self._show)

    def _build_plots(self, win) -> None:
        self.spread_plot = win.addPlot(title="(a) estimate of log p(x), ± std over 8 repeats")
        self.grad_plot = win.addPlot(title="(b) variance of ∇μ E_q log p(x|z)")
        self.gap_plot = win.addPlot(title="(c) per image: amortization and approximation gaps (nats)")
        for p in (self.spread_plot, self.grad_plot):
            p.setLogMode(x=True)
            p.setLabel("bottom", "samples n")
            p.getAxis("bottom").setTicks([[(0, "1"), (1, "10"), (2, "100"), (3, "1000")], []])
            p.addLegend(offset=(-5, -5))  # bottom right: the curves start at the top left
        self.grad_plot.setLogMode(x=True, y=True)
        self.grad_plot.legend.setOffset((-5, 5))  # top right: the curves fall to the bottom right
        self.gap_plot.addLegend(offset=(5, 5))
        self.gap_plot.setLabel("bottom", "image")
        self.c = {"naive": _curve(self.spread_plot, NAIVE, "naive MC over p(z)"),
                  "is": _curve(self.spread_plot, IS_, "importance sampling, q(z|x)"),
                  "rf": _curve(self.grad_plot, RF, "REINFORCE"), "rp": _curve(self.grad_plot, RP, "reparameterization")}
        self.err = {k: pg.ErrorBarItem(pen=pg.mkPen(c), beam=0.05) for k, c in (("naive", NAIVE), ("is", IS_))}
        for e in self.err.values():
            self.spread_plot.addItem(e)
        self.bars = {k: pg.BarGraphItem(x=[], height=[], width=0.4, brush=c) for k, c in (("amort", NAIVE), ("approx", IS_))}
        for name, b in zip(("ELBO(SVI q) − ELBO(encoder q)", "log p(x) − ELBO(SVI q)"), self.bars.values()):
            self.gap_plot.addItem(b)
            self.gap_plot.legend.addItem(b, name)

    # -- driving --------------------------------------------------------------------------------------
    def begin(self, info: dict) -> None:
        self.info, self.arrays = dict(info), {}
        usable = info.get("model") in ("vae", "gmvae", "iwae", "ssvae")
        for b in self.buttons.values():
            b.setEnabled(usable)
        if info.get("kind") == "2d" and info.get("data") is not None:
            self.examples = torch.from_numpy(np.asarray(info["data"][:4], np.float32))
        else:
            self.examples = None

    def set_arrays(self, arrays: dict) -> None:
        if "param/dec.0.weight" in arrays:
            self.arrays = arrays
            if "recon_in" in arrays:
                x = torch.from_numpy(np.ascontiguousarray(arrays["recon_in"][:4], np.float32))
                self.examples = x.unsqueeze(1)

    def run(self, lab: str) -> bool:
        """Start a lab on a thread; False when there is no trained model yet or one is running."""
        if self.busy or not self.arrays or self.examples is None:
            self.status.setText("train a few steps first: the labs need a snapshot of the model")
            return False
        self.busy = True
        self.status.setText(f"running {lab} …")
        args = (lab, self.info["model"], tuple(self.info["data_shape"]), self.arrays, self.examples)
        threading.Thread(target=self._work, args=args, daemon=True).start()
        return True

    def _work(self, lab, name, shape, arrays, x) -> None:
        try:  # labs and the rebuild draw from their own generators: the session's stream stays untouched
            model = model_from_arrays(name, shape, arrays)
            if lab == "spread":
                res = labs.estimator_spread(model, x, ns=(1, 10, 100, 1000), repeats=8)
            elif lab == "gradvar":
                res = labs.vae_gradient_variance(model, x, ns=(1, 10, 100), repeats=50)
            else:
                res = labs.amortization_gap(model, x, steps=150, k_eval=1000)
            self.finished.emit(lab, res)
        except Exception as e:  # noqa: BLE001 — shown in the tab, never a traceback in the user's face
            self.finished.emit(lab, f"{type(e).__name__}: {e}")

    def _show(self, lab: str, res) -> None:
        self.busy = False
        if isinstance(res, str):
            self.status.setText(f"{lab} failed: {res}")
            return
        if lab == "spread":
            for k in ("naive", "is"):
                self.c[k].setData(res["ns"], res[f"{k}_mean"])
                self.err[k].setData(x=np.log10(res["ns"]), y=res[f"{k}_mean"], height=2 * res[f"{k}_std"])
            self.status.setText(f"IS at n=1000: {res['is_mean'][-1]:.1f} ± {res['is_std'][-1]:.2f} nats; "
                                f"naive: {res['naive_mean'][-1]:.1f} ± {res['naive_std'][-1]:.2f}")
        elif lab == "gradvar":
            self.c["rf"].setData(res["ns"], res["reinforce_var"])
            self.c["rp"].setData(res["ns"], res["reparam_var"])
            ratio = res["reinforce_var"][0] / max(res["reparam_var"][0], 1e-30)
            self.status.setText(f"REINFORCE variance is {ratio:.0f}x the reparameterized one at n=1")
        else:
            n = np.arange(len(res["elbo_svi"]))
            self.gap_plot.getAxis("bottom").setTicks([[(int(i), str(i)) for i in n], []])
            self.bars["amort"].setOpts(x=n - 0.2, height=res["elbo_svi"] - res["elbo_amortized"])
            self.bars["approx"].setOpts(x=n + 0.2, height=res["log_px"] - res["elbo_svi"])
            gap = float(np.mean(res["elbo_svi"] - res["elbo_amortized"]))
            approx = float(np.mean(res["log_px"] - res["elbo_svi"]))
            self.status.setText(f"amortization gap {gap:.2f} nats, approximation gap {approx:.2f} nats (mean)")

    def plots(self) -> dict:
        return {"lab_spread": self.spread_plot, "lab_gradvar": self.grad_plot, "lab_gap": self.gap_plot}
