"""The estimator labs tab of the VAE panel: buttons that run genviz.core.vae.labs on a copy of the model.

The copy is the run's model built from its config (the registry, on the meta device: no initial weights
are drawn, torch's global generator is untouched) carrying the latest snapshot's weights ('param/*'), so the
session is never touched; a lab takes 0.2–3 s on a CPU, too long for the GUI thread, so it runs on a Python
thread and its plain numpy result comes back through a queued signal.
"""
from __future__ import annotations

import threading

import numpy as np
import pyqtgraph as pg
import torch
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from genviz.core import registry
from genviz.core.vae import labs
from genviz.gui.panels.toolkit import legend_plot

NAIVE, IS_, RF, RP = "#ff6b6b", "#4fa3ff", "#ff9f43", "#7bed9f"


def _curve(plot, color, name):
    return plot.plot([], [], pen=pg.mkPen(color, width=2), symbol="o", symbolSize=5, symbolBrush=color, name=name)


def model_copy(name: str, data_shape: tuple, config: dict, arrays: dict) -> torch.nn.Module:
    """The registry model `name` built from `config` and loaded with the snapshot's 'param/*' weights, in eval
    mode. Built on the meta device, so nothing is drawn from torch's global generator (a session may be
    training on it); a strict load, so a missing weight raises."""
    with torch.device("meta"):
        model = registry.build(name, data_shape=tuple(data_shape), **config)
    model = model.to_empty(device="cpu")
    model.load_state_dict({k[len("param/"):]: torch.from_numpy(np.asarray(v))
                           for k, v in arrays.items() if k.startswith("param/")})
    return model.eval()


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
        row.addStretch(1)
        col.addLayout(row)
        self.status = QLabel("runs on a copy of the current model (4 held-out examples)")
        self.status.setWordWrap(True)  # a long result never widens the panel or gets cut
        col.addWidget(self.status)
        win = pg.GraphicsLayoutWidget()
        self._build_plots(win)
        col.addWidget(win)
        self.finished.connect(self._show)

    def _build_plots(self, win) -> None:
        self.spread_plot = legend_plot(win, "(a) log p(x) estimates", columns=1)
        self.grad_plot = legend_plot(win, "(b) gradient variance", columns=1)
        self.gap_plot = legend_plot(win, "(c) gaps per image", columns=1)
        for p in (self.spread_plot, self.grad_plot):
            p.setLogMode(x=True)
            p.setLabel("bottom", "samples n")
            p.getAxis("bottom").setTicks([[(0, "1"), (1, "10"), (2, "100"), (3, "1000")], []])
            p.vb.setDefaultPadding(0.08)  # room for the first and last tick labels
        self.spread_plot.setLabel("left", "nats, ± std over 8 repeats")
        self.grad_plot.setLogMode(x=True, y=True)
        self.grad_plot.setLabel("left", "var of ∇μ E_q log p(x|z)")
        self.gap_plot.setLabel("left", "nats")
        self.gap_plot.setLabel("bottom", "image")
        self.c = {"naive": _curve(self.spread_plot, NAIVE, "naive MC over p(z)"),
                  "is": _curve(self.spread_plot, IS_, "importance sampling, q(z|x)"),
                  "rf": _curve(self.grad_plot, RF, "REINFORCE"), "rp": _curve(self.grad_plot, RP, "reparameterization")}
        self.err = {k: pg.ErrorBarItem(pen=pg.mkPen(c), beam=0.05) for k, c in (("naive", NAIVE), ("is", IS_))}
        for e in self.err.values():
            self.spread_plot.addItem(e)
        self.bars = {k: pg.BarGraphItem(x=[], height=[], width=0.4, brush=c) for k, c in (("amort", NAIVE), ("approx", IS_))}
        for name, b in zip(("amortization: ELBO(SVI q) − ELBO(encoder q)", "approximation: log p(x) − ELBO(SVI q)"),
                           self.bars.values()):
            self.gap_plot.addItem(b)
            self.gap_plot.legend.addItem(b, name)

    # -- driving --------------------------------------------------------------------------------------
    def begin(self, info: dict) -> None:
        self.info, self.arrays = dict(info), {}
        if info.get("kind") == "2d" and info.get("data") is not None:
            self.examples = torch.from_numpy(np.asarray(info["data"][:4], np.float32))
        else:
            self.examples = None

    @staticmethod
    def usable(arrays: dict) -> bool:
        """The labs need a model with an encoder and a decoder: its snapshots carry the decoder's description."""
        return "decoder_classes" in arrays

    def set_arrays(self, arrays: dict) -> None:
        if self.usable(arrays):
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
        args = (lab, self.info["model"], tuple(self.info["data_shape"]), dict(self.info.get("config") or {}),
                self.arrays, self.examples)
        threading.Thread(target=self._work, args=args, daemon=True).start()
        return True

    def _work(self, lab, name, shape, config, arrays, x) -> None:
        try:  # labs and the copy draw from their own generators: the session's stream stays untouched
            model = model_copy(name, shape, config, arrays)
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
            self.gap_plot.setXRange(-0.6, len(n) - 0.4, padding=0)  # every bar whole, the last one too
            gap = float(np.mean(res["elbo_svi"] - res["elbo_amortized"]))
            approx = float(np.mean(res["log_px"] - res["elbo_svi"]))
            self.status.setText(f"amortization gap {gap:.2f} nats, approximation gap {approx:.2f} nats (mean)")

    def plots(self) -> dict:
        return {"lab_spread": self.spread_plot, "lab_gradvar": self.grad_plot, "lab_gap": self.gap_plot}
