"""Autoregressive models (FVSBN, MADE, binned 2D MADE): samples, sampling pixel by pixel, masks, Jacobian.

Arrays read from a snapshot (genviz.core.autoregressive): images — 'sample_grid' (H, W), 'anim_sample' /
'anim_probs' / 'order' (D,) for the animation, 'ordering' and 'receptive_field' (h, w), 'pixel',
'connectivity' and 'jacobian' (D, D) in generation order, 'mask_0'..'mask_L' (out, in); 2D — 'log_density',
'samples', 'data' (drawn by the Density2DPanel tab this panel extends) and the masks. Clicking the ordering
image picks the pixel whose receptive field is shown (sent as ("view", {"pixel": i})); the mask spin box
picks which of MADE's mask sets is drawn (("view", {"mask": k})).
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QPushButton, QSlider, QSpinBox, QVBoxLayout, QWidget)
from PySide6.QtCore import Qt

from genviz.gui.panels.density2d import Density2DPanel
from genviz.gui.panels.toolkit import colorbar

MAX_MASK_PLOTS = 4  # input→hidden…→output; deeper nets show the first ones and the output mask
MASK_CMAP, COUNT_CMAP, ORDER_CMAP = "grey", "inferno", "viridis"
UNDRAWN = 0.5  # grey for pixels not generated yet
CURSOR_PEN = pg.mkPen(255, 80, 80, 230, width=2)


def image_plot(win: pg.GraphicsLayoutWidget, title: str, cmap: str, row=None, col=None, colspan=1):
    """A titled, axis-free, aspect-locked plot showing one row-major image with row 0 at the top."""
    plot = win.addPlot(title=title, row=row, col=col, colspan=colspan)
    plot.hideAxis("left")
    plot.hideAxis("bottom")
    plot.setAspectLocked(True)
    plot.invertY(True)
    plot.setMenuEnabled(False)
    img = pg.ImageItem(axisOrder="row-major")
    img.setColorMap(pg.colormap.get(cmap) if cmap != "grey" else pg.ColorMap([0, 1], [(0, 0, 0), (255, 255, 255)]))
    plot.addItem(img)
    return plot, img


def show(img: pg.ImageItem, arr, levels=None) -> None:
    arr = np.asarray(arr, np.float32)
    if levels is None:
        hi = float(np.percentile(arr, 99.5)) if arr.size else 1.0
        levels = (0.0, hi if hi > 0 else 1.0)
    img.setImage(arr, levels=levels, autoLevels=False)


def peer_counts(a: dict) -> str:
    """The three models' parameter counts for the same pixels and hidden units, one line ('' without them)."""
    names = (("fvsbn", "FVSBN"), ("nade", "NADE"), ("made", "MADE (one mask)"),
             ("made_direct", "MADE with direct connections"))
    parts = [f"{label} {int(a['n_parameters_' + key]):,}" for key, label in names if "n_parameters_" + key in a]
    if not parts or "count_hidden" not in a:
        return ""
    return f"parameters for these pixels, {int(a['count_hidden'])} hidden units: " + " · ".join(parts)


class AutoregressivePanel(Density2DPanel):
    """Tabs: density · samples (2D), samples · sampling, masks · Jacobian, ordering (images)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.kind = "image"
        self.hw = (28, 28)
        self.anim = None  # (sample (D,), probs (D,), order (D,)) being revealed
        self.anim_t = 0
        self.pending_anim = None
        self.density_index = 0
        self.sampling_index = self.add_tab(self._build_sampling_tab(), "samples · sampling")
        self.masks_index = self.add_tab(self._build_masks_tab(), "masks · Jacobian")
        self.ordering_index = self.add_tab(self._build_ordering_tab(), "ordering")
        self.timer = QTimer(self)
        self.timer.setInterval(33)
        self.timer.timeout.connect(self._animate)

    # -- construction -------------------------------------------------------------------------------
    def _build_sampling_tab(self) -> QWidget:
        page = QWidget()
        v = QVBoxLayout(page)
        v.setContentsMargins(0, 0, 0, 0)
        self.sampling_win = pg.GraphicsLayoutWidget()
        self.grid_plot, self.grid_img = image_plot(self.sampling_win, "model samples", "grey")
        self.anim_plot, self.anim_img = image_plot(self.sampling_win, "sampling in order (grey: not drawn)", "grey")
        self.prob_plot, self.prob_img = image_plot(self.sampling_win, "p(xᵢ = 1 | x&lt;ᵢ) when drawn", "inferno")
        self.anim_cursor = pg.ScatterPlotItem(size=9, pen=CURSOR_PEN, brush=None, symbol="s")
        self.anim_plot.addItem(self.anim_cursor)
        v.addWidget(self.sampling_win, 1)
        row = QHBoxLayout()
        self.replay_button = QPushButton("Replay")
        self.replay_button.setToolTip("draw the latest sample again, one pixel at a time in the model's order")
        self.replay_button.clicked.connect(self.replay)
        self.speed = QSlider(Qt.Horizontal)
        self.speed.setRange(1, 64)
        self.speed.setValue(8)
        self.speed.setToolTip("pixels revealed per frame (~30 frames/s)")
        self.anim_label = QLabel("")
        row.addWidget(self.replay_button)
        row.addWidget(QLabel("pixels / frame"))
        row.addWidget(self.speed, 1)
        row.addWidget(self.anim_label, 2)
        v.addLayout(row)
        return page

    def _build_masks_tab(self) -> QWidget:
        page = QWidget()
        v = QVBoxLayout(page)
        v.setContentsMargins(0, 0, 0, 0)
        self.masks_win = pg.GraphicsLayoutWidget()
        self.mask_plots = [image_plot(self.masks_win, f"mask {i}", "grey", 0, i) for i in range(MAX_MASK_PLOTS)]
        self.conn_plot, self.conn_img = image_plot(self.masks_win, "connectivity log(1 + paths in→out), "
                                                   "generation order", COUNT_CMAP, 1, 0, 2)
        self.jac_plot, self.jac_img = image_plot(self.masks_win, "measured |∂logitᵢ/∂xⱼ| (autograd, generation "
                                                 "order)", COUNT_CMAP, 1, 2, 2)
        self.masks_win.ci.layout.setRowStretchFactor(1, 2)
        v.addWidget(self.masks_win, 1)
        row = QHBoxLayout()
        self.mask_spin = QSpinBox()
        self.mask_spin.setRange(0, 63)
        self.mask_spin.setToolTip("which of the mask sets (num_masks) to draw")
        self.mask_spin.valueChanged.connect(lambda k: self.command_issued.emit(("view", {"mask": int(k)})))
        self.mask_note = QLabel("rows/columns of each mask sorted by unit degree; white = connected")
        row.addWidget(QLabel("mask set"))
        row.addWidget(self.mask_spin)
        row.addWidget(self.mask_note, 1)
        v.addLayout(row)
        self.count_note = QLabel("")  # FVSBN's, NADE's and MADE's parameter counts for the same pixels
        v.addWidget(self.count_note)
        return page

    def _build_ordering_tab(self) -> QWidget:
        self.ordering_win = pg.GraphicsLayoutWidget()
        self.order_plot, self.order_img = image_plot(self.ordering_win, "ordering: step at which each pixel is "
                                                     "drawn (click a pixel)", ORDER_CMAP)
        self.order_bar = colorbar(self.order_plot, self.order_img, ORDER_CMAP, (0.0, 1.0), "drawn at step")
        self.rf_plot, self.rf_img = image_plot(self.ordering_win, "its receptive field |∂logit/∂x|", COUNT_CMAP)
        self.pixel_marks = [pg.ScatterPlotItem(size=10, pen=CURSOR_PEN, brush=None, symbol="s") for _ in range(2)]
        self.order_plot.addItem(self.pixel_marks[0])
        self.rf_plot.addItem(self.pixel_marks[1])
        self.order_plot.scene().sigMouseClicked.connect(self._on_click)
        return self.ordering_win

    # -- Panel API ---------------------------------------------------------------------------------
    def begin(self, info: dict) -> None:
        self.kind = info.get("kind", "image")
        shape = tuple(info.get("data_shape") or (1, 28, 28))
        self.hw = (shape[-2] * (shape[0] if len(shape) == 3 else 1), shape[-1]) if len(shape) >= 2 else (1, shape[0])
        is2d = self.kind == "2d"
        self.tabs.setTabVisible(self.density_index, is2d)
        for i in (self.sampling_index, self.ordering_index):
            self.tabs.setTabVisible(i, not is2d)
        self.tabs.setCurrentIndex(self.density_index if is2d else self.sampling_index)
        self.timer.stop()
        self.anim = self.pending_anim = None
        for img in (self.grid_img, self.anim_img, self.prob_img, self.conn_img, self.jac_img, self.order_img,
                    self.rf_img, *(m[1] for m in self.mask_plots)):
            img.clear()
        if is2d:
            super().begin(info)

    def show_snapshot(self, snap) -> None:
        a = snap.arrays
        if self.kind == "2d":
            super().show_snapshot(snap)
        self._show_masks(a)
        if "sample_grid" in a:
            show(self.grid_img, a["sample_grid"], (0.0, 1.0))
        if "ordering" in a:
            show(self.order_img, a["ordering"], (0.0, float(a["ordering"].size - 1)))
            self.order_bar.setLevels((0.0, float(a["ordering"].size - 1)))
        if "receptive_field" in a:
            show(self.rf_img, a["receptive_field"])
            self._mark_pixel(int(a.get("pixel", 0)))
        if "anim_sample" in a and len(a["anim_sample"]) == self.hw[0] * self.hw[1]:
            self.pending_anim = (a["anim_sample"], a["anim_probs"], a["order"].astype(np.int64))
            if not self.timer.isActive():
                self.replay()

    def _show_masks(self, a: dict) -> None:
        names = sorted((k for k in a if k.startswith("mask_")), key=lambda k: int(k.split("_")[1]))
        if names:
            picked = names if len(names) <= MAX_MASK_PLOTS else names[:MAX_MASK_PLOTS - 1] + names[-1:]
            for (plot, img), name in zip(self.mask_plots, picked):
                m = a[name]
                last = name == names[-1]
                what = "output" if last else "layer " + name.split("_")[1]
                if "shared_weights" in a:  # NADE: which inputs its hidden state at step t reads, in steps
                    what = "h_t ← x_&lt;t through one shared W (logit t reads h_t only):"
                plot.setTitle(f"{what} mask {m.shape[0]}×{m.shape[1]}")
                show(img, m, (0.0, 1.0))
            for plot, img in self.mask_plots[len(picked):]:
                img.clear()
                plot.setTitle("")
        if "connectivity" in a:
            c = np.log1p(np.asarray(a["connectivity"], np.float32))  # log: single paths near the diagonal show
            show(self.conn_img, c, (0.0, max(float(c.max()), 1.0)))
        if "jacobian" in a:
            show(self.jac_img, np.sqrt(a["jacobian"]))  # sqrt: small entries stay visible beside large ones
        if "n_parameters" in a:
            layout = ("masks in generation order" if "shared_weights" in a
                      else "rows/columns of each mask sorted by unit degree")
            self.mask_note.setText(f"{int(a['n_parameters']):,} trainable parameters · {layout}; white = connected")
            self.count_note.setText(peer_counts(a))
        if "mask" in a:
            self.mask_spin.blockSignals(True)
            self.mask_spin.setValue(int(a["mask"]))
            self.mask_spin.blockSignals(False)

    # -- animation: reveal the latest sample pixel by pixel in the model's order ----------------------------
    def replay(self) -> None:
        if self.pending_anim is None:
            return
        self.anim, self.anim_t = self.pending_anim, 0
        self._animate()  # the first pixels at once: the view is never an empty frame waiting for the timer
        self.timer.start()

    def _animate(self) -> None:
        if self.anim is None:
            self.timer.stop()
            return
        x, p, order = self.anim
        d = len(order)
        self.anim_t = min(d, self.anim_t + self.speed.value())
        drawn = order[: self.anim_t]
        img = np.full(d, UNDRAWN, np.float32)
        img[drawn] = x[drawn]
        probs = np.zeros(d, np.float32)
        probs[drawn] = p[drawn]
        show(self.anim_img, img.reshape(self.hw), (0.0, 1.0))
        show(self.prob_img, probs.reshape(self.hw), (0.0, 1.0))
        cur = int(order[self.anim_t - 1])
        self.anim_cursor.setData([cur % self.hw[1] + 0.5], [cur // self.hw[1] + 0.5])
        self.anim_label.setText(f"pixel {self.anim_t} / {d}: x[{cur // self.hw[1]}, {cur % self.hw[1]}] = "
                                f"{int(x[cur])}, p = {p[cur]:.2f}")
        if self.anim_t >= d:
            self.timer.stop()

    # -- ordering tab -----------------------------------------------------------------------------------
    def _mark_pixel(self, pixel: int) -> None:
        r, c = divmod(pixel, self.hw[1])
        for mark in self.pixel_marks:
            mark.setData([c + 0.5], [r + 0.5])

    def _on_click(self, event) -> None:
        pos = self.order_plot.vb.mapSceneToView(event.scenePos())
        r, c = int(np.floor(pos.y())), int(np.floor(pos.x()))
        if 0 <= r < self.hw[0] and 0 <= c < self.hw[1]:
            self.pick_pixel(r * self.hw[1] + c)

    def pick_pixel(self, pixel: int) -> None:
        self._mark_pixel(pixel)
        self.command_issued.emit(("view", {"pixel": int(pixel)}))

    def plots(self) -> dict:
        out = super().plots() if self.kind == "2d" else {}
        out.update({"masks": self.masks_win.ci})
        if self.kind != "2d":
            out.update({"sampling": self.sampling_win.ci, "ordering": self.ordering_win.ci})
        return out
