"""The discriminator as a feature extractor: linear-probe accuracy on MNIST for a GAN's discriminator features,
BiGAN's encoder codes and a VAE's latent means (and raw pixels), beside a 2D PCA of each. Small models are
trained for N steps in a worker thread (the window stays live); the probe itself is genviz.core.probe."""
from __future__ import annotations

import html
import threading
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog

from genviz.core import probe
from genviz.gui.labs.base import BLUE, GREEN, GREY, ORANGE, PINK, WorkerLab, pen

KINDS = (("pixels", "pixels", GREY), ("gan", "GAN D features", ORANGE), ("bigan", "BiGAN E(x)", BLUE),
         ("vae", "VAE μ(x)", PINK))
DIGIT_BRUSHES = [pg.mkBrush(*pg.intColor(i, 10).getRgb()[:3], 170) for i in range(10)]
_DATA = {}  # MNIST, loaded once per process by the first run (a few seconds)


def mnist():
    if "mnist" not in _DATA:
        from genviz.core.images import load_images

        _DATA["mnist"] = load_images("mnist")
    return _DATA["mnist"]


class ProbeWorker(QObject):
    """Trains the three small models and probes them; emits plain numbers and numpy arrays only."""

    progressed = Signal(str)
    finished = Signal(dict)
    failed = Signal(str)

    def __init__(self, steps: int, n_train: int, n_test: int = 1000, seed: int = 0, data=None, probe_steps: int = 300,
                 models: dict | None = None):
        super().__init__()
        self.models = dict(models or {})  # kind -> an already trained model (from a checkpoint): probed as is
        self.steps, self.n_train, self.n_test, self.seed, self.data = steps, n_train, n_test, seed, data
        self.probe_steps = probe_steps
        self.abort = threading.Event()

    def run(self) -> None:
        try:
            self.finished.emit(self._run())
        except Exception as e:  # noqa: BLE001 (shown in the lab, never a dead thread)
            self.failed.emit(f"{type(e).__name__}: {e}")

    def _run(self) -> dict:
        self.progressed.emit("loading MNIST…")
        data = self.data or mnist()
        xtr, ytr = data.train[:self.n_train], data.labels["train"][:self.n_train]
        xte, yte = data.val[:self.n_test], data.labels["val"][:self.n_test]  # val: grey levels, like train
        out = {"labels": yte.numpy(), "steps": self.steps}
        for kind, title, _ in KINDS:
            if self.abort.is_set():
                break
            if kind == "pixels":
                model, at_init = None, None
            elif kind in self.models:
                model, at_init = self.models[kind], None
            else:
                at_init = self._probe(kind, self._build(kind, data), xtr, ytr, xte, yte)["test_acc"]
                cb = lambda s, k=title: self._tick(k, s)  # noqa: E731
                model = probe.train_small(kind, data, self.steps, self.seed, callback=cb)
            r = self._probe(kind, model, xtr, ytr, xte, yte)
            out[kind] = {"test_acc": r["test_acc"], "train_acc": r["train_acc"], "dim": r["dim"],
                         "at_init": at_init, "pca": probe.pca_2d(r["test_features"]),
                         "from_checkpoint": kind in self.models}
            self.progressed.emit(f"{title}: test accuracy {r['test_acc']:.3f}")
        out["stopped"] = self.abort.is_set()
        return out

    def _build(self, kind, data):
        from genviz.core import registry

        name, _, overrides = probe.SMALL[kind]
        return registry.build(name, data_shape=data.shape, seed=self.seed, **overrides)

    def _probe(self, kind, model, xtr, ytr, xte, yte) -> dict:
        hook = probe.HOOKS[probe.SMALL[kind][1] if kind in probe.SMALL else kind]
        return probe.probe_accuracy(lambda x: probe.extract(hook, model, x), xtr, ytr, xte, yte, seed=self.seed,
                                     steps=self.probe_steps)

    def _tick(self, title: str, step: int) -> bool:
        if step % 25 == 0:
            self.progressed.emit(f"training {title}: step {step}/{self.steps}")
        return self.abort.is_set()


class ProbeLab(WorkerLab):
    title = "discriminator as features"
    family = "GAN"
    formula = ("A <b>linear probe</b>: logistic regression ŷ = argmax(Wf(x) + b) trained on <i>frozen</i> features "
               "f(x) of MNIST digits, scored on held-out digits (chance = 0.1).  f = the <b>discriminator's "
               "penultimate layer</b> (trained only to tell real from fake), <b>BiGAN's encoder</b> E(x) and the "
               "<b>VAE's latent mean</b> μ(x) — none saw a label.  Grey bars: the same network at initialisation "
               "(random conv features are already decent), coloured: after N training steps.  PCA dots: coloured by digit.")

    def build(self) -> None:
        self.steps = self.spin("steps N", 0, 5000, 300, "training steps of each small model")
        self.n_train = self.spin("probe train examples", 100, 50_000, 2000)
        self.run_stop_buttons("Train && probe")
        self.load_button = self.button("Use checkpoint…", lambda: self.load_checkpoint(),
                                       "probe a model you trained (a run's checkpoint.pt: DCGAN/GAN, BiGAN or VAE on "
                                       "MNIST) instead of training a small one")
        self.loaded: dict = {}
        self.acc_plot = self.graphics.addPlot(title="linear-probe test accuracy", colspan=len(KINDS) - 1)
        self.acc_plot.setYRange(0, 1)
        self.acc_plot.getAxis("bottom").setTicks([[(i, t) for i, (_, t, _) in enumerate(KINDS)]])
        self.acc_plot.addItem(pg.InfiniteLine(0.1, angle=0, pen=pen(GREEN, 1), label="chance",
                                              labelOpts={"color": GREEN, "position": 0.95}))
        self.init_bars = pg.BarGraphItem(x=[], height=[], width=0.35, brush=pg.mkBrush(GREY), pen=None)
        self.trained_bars = pg.BarGraphItem(x=[], height=[], width=0.35, brush=pg.mkBrush(ORANGE), pen=None)
        self.acc_plot.addItem(self.init_bars)
        self.acc_plot.addItem(self.trained_bars)
        self.acc_text = []
        self.graphics.nextRow()
        self.pca_plots, self.pca_dots = {}, {}
        for kind, title, _ in KINDS[1:]:
            p = self.graphics.addPlot(title=f"PCA of {title}")
            dots = pg.ScatterPlotItem(size=4, pen=None)
            p.addItem(dots)
            self.pca_plots[kind], self.pca_dots[kind] = p, dots
        self.result, self.data = None, None  # data: None = MNIST
        self.n_test, self.probe_steps = 1000, 300

    def refresh(self) -> None:
        if self.result is None:
            self.status.setText("press <b>Train &amp; probe</b>: trains a small DCGAN, BiGAN and VAE on MNIST for N "
                                "steps each (in the background), then probes their features")

    # -- the worker ------------------------------------------------------------------------------------
    def new_worker(self) -> ProbeWorker:
        worker = ProbeWorker(self.steps.value(), self.n_train.value(), self.n_test, data=self.data,
                             probe_steps=self.probe_steps, models=self.loaded)
        worker.finished.connect(self.show_result)
        worker.failed.connect(lambda m: self.status.setText(f"probe failed: {m}"))
        worker.failed.connect(self._done)
        return worker

    def load_checkpoint(self, path: str | None = None) -> None:
        """Take a trained model from a checkpoint file; it fills its family's slot (not retrained)."""
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Probe a checkpoint", "", "genviz checkpoint (*.pt)")
            if not path:
                return
        from genviz.core import checkpoint

        try:
            model = checkpoint.load(path)
            kind = probe.kind_of(model)
        except (checkpoint.CheckpointError, ValueError, OSError) as e:
            self.status.setText(f"cannot probe {Path(path).name}: {html.escape(str(e))}")
            return
        self.loaded[kind] = model
        names = ", ".join(f"{dict((a, b) for a, b, _ in KINDS)[k]} from checkpoint" for k in self.loaded)
        self.status.setText(f"loaded {html.escape(Path(path).name)} ({names}); <b>Train &amp; probe</b> probes it as "
                            f"trained and trains small models only for the other slots")

    # -- drawing ---------------------------------------------------------------------------------------
    def show_result(self, r: dict) -> None:
        self.result = r
        done = [(i, k) for i, (k, _, _) in enumerate(KINDS) if k in r]
        self.trained_bars.setOpts(x=[i + (0.18 if r[k]["at_init"] is not None else 0) for i, k in done], height=[r[k]["test_acc"] for _, k in done],
                                  brushes=[pg.mkBrush(KINDS[i][2]) for i, _ in done])
        inits = [(i, r[k]["at_init"]) for i, k in done if r[k]["at_init"] is not None]
        self.init_bars.setOpts(x=[i - 0.18 for i, _ in inits], height=[a for _, a in inits])
        for t in self.acc_text:
            self.acc_plot.removeItem(t)
        self.acc_text = []
        for i, k in done:
            t = pg.TextItem(f"{r[k]['test_acc']:.2f}", color="w", anchor=(0.5, 1))
            t.setPos(i + (0.18 if r[k]["at_init"] is not None else 0), r[k]["test_acc"])
            self.acc_plot.addItem(t)
            self.acc_text.append(t)
        labels = r["labels"]
        for kind in self.pca_dots:
            if kind in r:
                z = r[kind]["pca"]
                self.pca_dots[kind].setData(z[:, 0], z[:, 1], brush=[DIGIT_BRUSHES[int(c)] for c in labels])
                self.pca_plots[kind].setTitle(f"PCA of {dict((a, b) for a, b, _ in KINDS)[kind]} "
                                              f"({r[kind]['dim']}-d)")
        parts = [f"{t}: <b>{r[k]['test_acc']:.3f}</b>" + (f" (init {r[k]['at_init']:.3f})" if r[k]["at_init"] else "")
                 + (" (your checkpoint)" if r[k].get("from_checkpoint") else "") for k, t, _ in KINDS if k in r]
        self.status.setText(("<b>stopped early</b> — " if r.get("stopped") else "") + f"probe test accuracy after {r['steps']} steps, {self.n_train.value():,} probe examples "
                            f"(chance 0.100): " + " · ".join(parts))
