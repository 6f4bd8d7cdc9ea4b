"""Latent variable models (MoG, VAE, GMVAE, IWAE, SSVAE): the latent space made visible.

Tabs: 'density · samples' (2D data: the IW density, samples; MoG: points coloured by p(z|x) and the
components' 2σ ellipses) · 'ELBO' (Rec and KL, train and validation) · 'latent' (encoder means coloured by
digit, prior/GMVAE components; click or drag to decode, traversals along both plotted axes) · 'images'
(reconstructions and prior samples) · 'IWAE' (negative bound vs m, ± std over repeats) · 'posterior' (2D latent:
the true p(z|x) on a grid vs q(z|x), SVI, log p̂_k; vae_posterior.py) · 'β · collapse' (live β, rate vs
distortion, active units; vae_collapse.py) · 'labs'.

Clicked points are decoded on the GUI thread with the decoder weights of the latest snapshot ('param/dec.*',
numpy, < 1 ms for the 784-300-300 MLP; 'decoder_classes' and 'decoder_gaussian' say how to run it): a ("view",
...) round trip would wait for the next snapshot (every 100 steps, seconds on a CPU) and never answer while
training is paused, so it could not meet 50 ms.

Views follow what the snapshots carry ('log_density', 'latent', 'recon_in', 'iwae_m', 'resp', the 'acc'
metric, a decoder with class inputs); before the first snapshot the usual views for the data's kind show.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import torch
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget
from torchvision.utils import make_grid

from genviz.core.vae import ar_decoder
from genviz.core.vae.mog import ellipse
from genviz.core.vae.nets import numpy_mlp
from genviz.gui.panels.density2d import Density2DPanel
from genviz.gui.panels.pick import InertScatter, PickViewBox
from genviz.gui.panels.toolkit import LabelledScatter, legend_plot, show_plot, show_tabs
from genviz.gui.panels.vae_collapse import CollapseTab
from genviz.gui.panels.vae_labs import LabsTab
from genviz.gui.panels.vae_posterior import PosteriorTab

LABEL_BRUSHES = [pg.mkBrush(pg.intColor(i, 10, alpha=200)) for i in range(10)]
PRIOR_PEN = pg.mkPen(255, 255, 255, 220, width=1.5)
PRIOR_FAINT = pg.mkPen(255, 255, 255, 110, width=1)
LOG_TICKS = [[(0, "1"), (1, "10"), (2, "100"), (3, "1000"), (4, "10⁴")], []]  # log10 axis: decades only
TRAVERSE = np.linspace(-2.5, 2.5, 9)  # traversal offsets, in units of the latent cloud's std per axis
# (series, where it comes from: per-step train losses or per-snapshot validation metrics, key, label, colour)
SERIES = (("rec", "losses", "rec", "Rec (train)", "#4fa3ff"), ("kl", "losses", "kl", "KL (train)", "#ff9f43"),
          ("nelbo", "losses", "nelbo", "NELBO (train)", "#e0e0e0"),
          ("val_rec", "metrics", "rec", "Rec (val)", "#4fa3ff"), ("val_kl", "metrics", "kl", "KL (val)", "#ff9f43"),
          ("val_nelbo", "metrics", "nelbo", "NELBO (val)", "#e0e0e0"))
VIEW_KEYS = ("log_density", "latent", "recon_in", "resp")  # a snapshot holding any of them says which views exist


def tile(images: np.ndarray, nrow: int) -> np.ndarray:
    """(n, h, w) in [0, 1] -> one (H, W) mosaic with 1-pixel gaps (torchvision's make_grid)."""
    t = torch.from_numpy(np.ascontiguousarray(images, np.float32)).unsqueeze(1)
    return make_grid(t, nrow=nrow, padding=1, pad_value=0.25)[0].numpy()


def _image_view(layout, row: int, col: int):
    """A ViewBox holding one row-major image, y pointing down as images do."""
    vb = layout.addViewBox(row=row, col=col)
    vb.setAspectLocked(True)
    vb.invertY(True)
    img = pg.ImageItem(axisOrder="row-major")
    vb.addItem(img)
    return vb, img


class VAEPanel(Density2DPanel):
    """Views for latent variable models' snapshots (MoG, VAE, GMVAE, IWAE, SSVAE, ...; 2D data or images)."""

    # fractions and counts: their own plots, not beside NELBOs of ~100 nats
    own_metrics = frozenset({"acc", "acc_last", "au"})

    decoded = Signal()  # a clicked latent point was decoded and drawn

    def __init__(self, parent=None):
        super().__init__(parent)
        self.arrays: dict = {}
        self.info: dict = {}
        self.z_click: np.ndarray | None = None
        self._build_mog_items()
        self._build_elbo_tab()
        self._build_latent_tab()
        self._build_images_tab()
        self._build_iwae_tab()
        # built when first chosen (toolkit.lazy_tab): 60% of this panel's build time, paid on a switch to the family
        # until now. A tab built later is handed what it would have kept: this run's info, the last snapshot it
        # could use, and for β · collapse its held-out metrics and every key of the snapshots (latest value)
        self._seen: dict = {}
        self._last: dict = {}
        self._usable = {"labs": {}, "posterior": {}}
        self._metrics_seen: list = []
        self._posterior_page = self.add_lazy_tab(self._build_posterior, "posterior")
        self._collapse_page = self.add_lazy_tab(self._build_collapse, "β · collapse")
        self._labs_page = self.add_lazy_tab(self._build_labs, "labs")
        self.posterior_tab, self.collapse_tab, self.labs_tab = (
            self.tabs.indexOf(p) for p in (self._posterior_page, self._collapse_page, self._labs_page))

    # the lazily built tabs' views: asking for one builds its tab
    @property
    def posterior(self) -> PosteriorTab:
        return self._posterior_page.ensure()

    @property
    def collapse(self) -> CollapseTab:
        return self._collapse_page.ensure()

    @property
    def labs(self) -> LabsTab:
        return self._labs_page.ensure()

    def _build_posterior(self) -> PosteriorTab:
        tab = PosteriorTab(self)
        tab.begin(self.info)
        tab.set_arrays(self._usable["posterior"], shown=False)  # its showEvent then picks a first point
        return tab

    def _build_collapse(self) -> CollapseTab:
        tab = CollapseTab(self)
        tab.beta_changed.connect(lambda b: self.command_issued.emit(("model_set", "beta", b)))
        tab.begin(self.info)
        for step, metrics in self._metrics_seen:
            tab.add_metrics(step, metrics)
        self._metrics_seen = []  # the tab keeps them from now on
        tab.set_arrays(self._seen)  # each key's latest value, then the last snapshot's (and its defaults)
        tab.set_arrays(self._last)
        return tab

    def _build_labs(self) -> LabsTab:
        tab = LabsTab(self)
        tab.begin(self.info)
        tab.set_arrays(self._usable["labs"])
        return tab

    # -- construction -------------------------------------------------------------------------------
    def _build_mog_items(self) -> None:
        self.cluster_scatter = LabelledScatter(self.density_plot, size=3, pen=None)
        self.ellipses = pg.PlotDataItem(pen=PRIOR_PEN, connect="finite")
        self.density_plot.addItem(self.ellipses)
        self.decoded_point = pg.ScatterPlotItem(size=12, symbol="x", pen=pg.mkPen("c", width=2), brush=None)
        self.density_plot.addItem(self.decoded_point)

    def _build_elbo_tab(self) -> None:
        win = pg.GraphicsLayoutWidget()
        self.elbo_plot = legend_plot(win, "ELBO decomposition: NELBO = Rec + KL (nats)", row=0, col=0, columns=3)
        self.elbo_plot.setLabel("bottom", "step")
        self.elbo_plot.setClipToView(True)
        self.elbo_plot.setDownsampling(auto=True, mode="mean")  # 20k single-sample ELBOs: draw their means
        self.series = {}
        for key, source, _, name, color in SERIES:
            val = source == "metrics"
            pen = pg.mkPen(color, width=2 if val else 1, style=Qt.DashLine if val else Qt.SolidLine)
            sym = dict(symbol="o", symbolSize=5, symbolBrush=color, symbolPen=None) if val else {}
            self.series[key] = (self.elbo_plot.plot([], [], pen=pen, name=name, **sym), [], [])
        self.acc_plot = legend_plot(win, "validation accuracy of the classifier q(y|x)", row=1, col=0)
        self.acc_plot.setLabel("bottom", "step")
        self.acc_series = {  # metric -> (curve, steps, values)
            "acc": (self.acc_plot.plot([], [], pen=pg.mkPen("#7bed9f", width=2), symbol="o", symbolSize=4,
                                       symbolBrush="#7bed9f", symbolPen=None, name="q(y|x), averaged weights"),
                    [], []),
            "acc_last": (self.acc_plot.plot([], [], pen=pg.mkPen("#a4b0be", width=1, style=Qt.DashLine),
                                            name="q(y|x), last step's weights"), [], []),
        }
        show_plot(self.acc_plot, False)
        self.add_tab(win, "ELBO")

    def _build_latent_tab(self) -> None:
        box = QWidget()
        col = QVBoxLayout(box)
        col.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        digits = " ".join(f'<span style="color:{pg.intColor(i, 10).name()}">{i}</span>' for i in range(10))
        self.hint_images = f"colour = digit {digits} · + = prior components · click or drag to decode"
        self.hint = QLabel(self.hint_images)
        row.addWidget(self.hint)
        row.addStretch(1)
        self.class_label = QLabel("decode as class y:")
        row.addWidget(self.class_label)
        self.class_box = QComboBox()
        self.class_box.addItems([str(i) for i in range(10)])
        self.class_box.currentIndexChanged.connect(lambda _: self.decode_at(*self._last_uv))
        row.addWidget(self.class_box)
        col.addLayout(row)
        win = pg.GraphicsLayoutWidget()
        self.latent_vb = PickViewBox()
        self.latent_plot = win.addPlot(row=0, col=0, rowspan=4, viewBox=self.latent_vb,
                                       title="encoder means of held-out data (PCA plane when z > 2)")
        self.latent_plot.setAspectLocked(True)
        self.latent_scatter = LabelledScatter(self.latent_plot, size=4)  # Dots: clicks reach the plane
        self.prior_scatter = InertScatter(size=6, symbol="+", pen=PRIOR_FAINT, brush=None)
        self.cursor = InertScatter(size=14, symbol="x", pen=pg.mkPen("c", width=2), brush=None)
        for it in (self.prior_scatter, self.cursor):
            self.latent_plot.addItem(it)
        self.latent_vb.picked.connect(self.decode_at)
        win.addLabel("decoded at the cursor", row=0, col=1)
        self.decoded_vb, self.decoded_img = _image_view(win, 1, 1)
        win.addLabel("traversals: plotted axis 1 (top), axis 2 (bottom)", row=2, col=1)
        self.traverse_vb, self.traverse_img = _image_view(win, 3, 1)
        self.latent_win = win
        win.ci.layout.setColumnStretchFactor(0, 3)
        win.ci.layout.setColumnStretchFactor(1, 2)
        col.addWidget(win)
        self._last_uv = (0.0, 0.0)
        self.latent_tab = self.add_tab(box, "latent")

    def _build_images_tab(self) -> None:
        win = pg.GraphicsLayoutWidget()
        win.addLabel("reconstructions: input (top) vs output (bottom)", row=0, col=0)
        self.recon_vb, self.recon_img = _image_view(win, 1, 0)
        win.addLabel("prior samples (decoded means)", row=2, col=0)
        self.samples_vb, self.samples_img = _image_view(win, 3, 0)
        self.images_tab = self.add_tab(win, "images")

    def _build_iwae_tab(self) -> None:
        win = pg.GraphicsLayoutWidget()
        self.iwae_plot = win.addPlot(title="negative IWAE bound vs m (2 held-out digits, ± std over 3 repeats)")
        self.iwae_plot.setLogMode(x=True)
        self.iwae_plot.getAxis("bottom").setTicks(LOG_TICKS)
        self.iwae_plot.setLabel("bottom", "m (importance samples)")
        self.iwae_plot.setLabel("left", "−L_m (nats)")
        self.iwae_curve = self.iwae_plot.plot([], [], pen=pg.mkPen("#4fa3ff", width=2), symbol="o")
        self.iwae_err = pg.ErrorBarItem(pen=pg.mkPen("#4fa3ff"), beam=0.05)
        self.iwae_plot.addItem(self.iwae_err)
        self.iwae_tab = self.add_tab(win, "IWAE")

    # -- Panel API ---------------------------------------------------------------------------------
    def begin(self, info: dict) -> None:
        super().begin(info)
        self.info, self.arrays, self.z_click, self._last_uv = dict(info), {}, None, (0.0, 0.0)
        for img in (self.decoded_img, self.traverse_img):  # nothing decoded by the previous run stays
            img.clear()
        image = info.get("kind") == "image"
        for curve, xs, ys in [*self.series.values(), *self.acc_series.values()]:
            xs.clear(), ys.clear()
            curve.setData([], [])
        self._acc_shown(False)
        self._class_picker(False)
        self.hint.setText(self.hint_images if image else
                          "latent codes of training points · + = prior components · click to decode onto the density")
        for it in (self.cluster_scatter, self.ellipses, self.decoded_point, self.latent_scatter,
                   self.prior_scatter, self.cursor):
            it.setData([], [])
        self._show_views(density=not image, latent=True, images=image, iwae=image, labs=True)
        self._seen, self._last, self._metrics_seen = {}, {}, []
        self._usable = {"labs": {}, "posterior": {}}
        for page in (self._labs_page, self._posterior_page, self._collapse_page):
            if page.content is not None:
                page.content.begin(info)

    def _show_views(self, density: bool, latent: bool, images: bool, iwae: bool, labs: bool,
                    posterior: bool = False, collapse: bool = False) -> None:
        show_tabs(self.tabs, {self.density_index: density, self.latent_tab: latent, self.images_tab: images,
                              self.iwae_tab: iwae, self.posterior_tab: posterior, self.collapse_tab: collapse,
                              self.labs_tab: labs})

    def _acc_shown(self, shown: bool) -> None:
        show_plot(self.acc_plot, shown)  # a model whose metrics carry 'acc' has a classifier to judge

    def _class_picker(self, shown: bool) -> None:
        """Only a decoder that takes a class (SSVAE's) has a y to choose."""
        for w in (self.class_label, self.class_box):
            w.setVisible(shown)

    def show_snapshot(self, snap) -> None:
        a = snap.arrays
        if any(k in a for k in VIEW_KEYS):
            self.arrays = a
            self._show_views(density="log_density" in a, latent="latent" in a, images="recon_in" in a,
                             iwae="iwae_m" in a, labs=LabsTab.usable(a), posterior=PosteriorTab.usable(a),
                             collapse="unit_var" in a)
            self._class_picker(a.get("decoder_classes", 0) > 0)
        if "log_density" in a:
            super().show_snapshot(snap)
        if "resp" in a:
            self._show_mog(a)
        self._add_curves(snap)
        if "latent" in a:
            self._show_latent(a)
        if "recon_in" in a:
            self.recon_img.setImage(tile(np.concatenate([a["recon_in"], a["recon_out"]]), 8), levels=(0, 1))
            self.samples_img.setImage(tile(a["samples"], 8), levels=(0, 1))
        if "iwae_m" in a:
            m, mean, std = a["iwae_m"], a["iwae_mean"], a["iwae_std"]
            self.iwae_curve.setData(m, mean)
            self.iwae_err.setData(x=np.log10(m), y=mean, height=2 * std)
        # the decoder moved: redraw the picked point with it. On images the latent tab's decoded digit and
        # traversals start at the cloud's centre (0, 0), not as two empty captioned boxes until a click
        if "param/dec.0.weight" in a and (self.z_click is not None or self.info.get("kind") == "image"):
            self.decode_at(*self._last_uv)
        self._seen.update(a)
        self._last = a
        for name, tab in (("labs", LabsTab), ("posterior", PosteriorTab)):
            if tab.usable(a):
                self._usable[name] = a
        if self._labs_page.content is not None:
            self.labs.set_arrays(a)
        if self._posterior_page.content is not None:
            self.posterior.set_arrays(a, shown=self.tabs.currentWidget() is self._posterior_page)
        if self._collapse_page.content is not None:
            self.collapse.set_arrays(a)

    def _add_curves(self, snap) -> None:
        """Train terms: every step's value (downsampled to means when drawn); validation: one per snapshot."""
        for key, source, name, _, _ in SERIES:
            curve, xs, ys = self.series[key]
            if source == "losses" and name in snap.losses and len(snap.losses[name]):
                xs.extend(snap.steps.tolist())
                ys.extend(np.asarray(snap.losses[name], np.float64).tolist())
                curve.setData(xs, ys)
        self.add_metrics(snap.step, snap.metrics)

    def add_metrics(self, step: int, metrics: dict) -> None:
        """Validation curves (ELBO terms, SSVAE accuracy): one point per snapshot, however they are drawn."""
        val = [(name, self.series[key]) for key, source, name, _, _ in SERIES if source == "metrics"]
        if self._collapse_page.content is not None:
            self.collapse.add_metrics(step, metrics)
        else:
            self._metrics_seen.append((step, metrics))
        if "acc" in metrics:
            self._acc_shown(True)
        for name, (curve, xs, ys) in val + list(self.acc_series.items()):
            if name in metrics and (not xs or xs[-1] != step):
                xs.append(step)
                ys.append(metrics[name])
                curve.setData(xs, ys)

    def _show_mog(self, a: dict) -> None:
        pts, lab = a["points"], a["point_labels"]
        k = len(a["means"])
        brushes = [pg.mkBrush(pg.intColor(i, max(k, 1), alpha=160)) for i in range(k)]
        self.cluster_scatter.setData(pts[:, 0], pts[:, 1], labels=lab, brushes=brushes)
        self.data_scatter.setData([], [])  # the coloured points replace the white ones
        curves = [np.vstack([ellipse(m, c), [np.nan, np.nan]]) for m, c in zip(a["means"], a["covs"])]
        xy = np.concatenate(curves)
        self.ellipses.setData(xy[:, 0], xy[:, 1])

    def _show_latent(self, a: dict) -> None:
        lat = a["latent"]
        if "latent_labels" in a:
            self.latent_scatter.setData(lat[:, 0], lat[:, 1], labels=a["latent_labels"], brushes=LABEL_BRUSHES)
        else:
            self.latent_scatter.setData(lat[:, 0], lat[:, 1], brushes=[pg.mkBrush(200, 200, 200, 120)])
        pm = a["prior_means"]
        self.prior_scatter.setData(pm[:, 0], pm[:, 1])

    # -- decoding on the GUI thread ------------------------------------------------------------------
    def latent_of(self, u: float, v: float) -> np.ndarray:
        """The latent z (z_dim,) of a point (u, v) of the plotted plane: mean + u·b₁ + v·b₂."""
        a = self.arrays
        return a["proj_mean"] + u * a["proj_basis"][0] + v * a["proj_basis"][1]

    def decode(self, z: np.ndarray) -> np.ndarray:
        """Decoder mean for z (n, z_dim): images (n, h, w) in [0, 1] or 2D points (n, 2)."""
        a = self.arrays
        classes = int(a.get("decoder_classes", 0))
        if classes:  # the decoder also takes a class, one-hot: the chosen one
            y = np.zeros((len(z), classes), np.float32)
            y[:, min(self.class_box.currentIndex(), classes - 1)] = 1
            z = np.concatenate([z, y], 1)
        out = numpy_mlp(a, "param/dec.", z.astype(np.float32))
        if a.get("decoder_autoregressive", 0):  # x_i also sees x_<i: each dimension's mean fed forward
            gaussian = bool(a.get("decoder_gaussian", 0))
            w = ar_decoder.masked_weights({k: torch.from_numpy(a[f"param/ar.{k}"])
                                           for k in ("weight", "mask", "w1", "m1", "b1", "w2", "m2")})
            out = ar_decoder.sequential(torch.from_numpy(out), w, 2 if gaussian else 1, not gaussian).numpy()
            return out if gaussian or "recon_in" not in a else out.reshape(len(z), *np.shape(a["recon_in"])[1:])
        if a.get("decoder_gaussian", 0):
            return out[:, : out.shape[1] // 2]  # [mean | raw variance]: the mean half
        if "recon_in" in a:  # Bernoulli logits of images shaped like the reconstructions
            return (1 / (1 + np.exp(-out))).reshape(len(z), *np.shape(a["recon_in"])[1:])
        return 1 / (1 + np.exp(-out))

    def decode_at(self, u: float, v: float) -> None:
        """Decode the clicked point and its traversals along both plotted axes."""
        if "param/dec.0.weight" not in self.arrays or "proj_basis" not in self.arrays:
            return
        self._last_uv = (u, v)
        self.z_click = self.latent_of(u, v)
        self.cursor.setData([u], [v])
        spread = self.arrays["latent"].std(0) + 1e-6
        offs = [(u + t * spread[0], v) for t in TRAVERSE] + [(u, v + t * spread[1]) for t in TRAVERSE]
        zs = np.stack([self.z_click] + [self.latent_of(*o) for o in offs])
        out = self.decode(zs)
        if out.ndim == 3:
            self.decoded_img.setImage(out[0], levels=(0, 1))
            self.traverse_img.setImage(tile(out[1:], len(TRAVERSE)), levels=(0, 1))
        else:
            self.decoded_point.setData(out[:1, 0], out[:1, 1])
        self.decoded.emit()

    def plots(self) -> dict:
        return {**super().plots(), "elbo": self.elbo_plot, "latent": self.latent_plot, "iwae": self.iwae_plot,
                **self.posterior.plots(), **self.collapse.plots(), **self.labs.plots()}
