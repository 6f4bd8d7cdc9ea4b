"""What every panel repeats, written once: an image placed over a bounding box, a heatmap with a colour bar and
fixed levels, a growing (step, value) curve, a legend beside its plot rather than over its curves, 2D views
that stay framed on their data box through resizes, plain axis numbers."""
from __future__ import annotations

import html
import math

import numpy as np
import pyqtgraph as pg
from pyqtgraph import functions as fn
from pyqtgraph.graphicsItems.ScatterPlotItem import drawSymbol
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEngine, QPixmap, QTextDocument
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QTabWidget, QVBoxLayout, QWidget


def image_rect(bbox, shape) -> QRectF:
    """A grid sampled at linspace points over bbox (x0, x1, y0, y1), row i = y ascending: the values sit at
    pixel centres, so the image extends half a cell beyond the box."""
    x0, x1, y0, y1 = bbox
    hx, hy = (x1 - x0) / max(shape[1] - 1, 1) / 2, (y1 - y0) / max(shape[0] - 1, 1) / 2
    return QRectF(x0 - hx, y0 - hy, x1 - x0 + 2 * hx, y1 - y0 + 2 * hy)


def place_image(img: pg.ImageItem, arr, bbox, levels) -> None:
    """Show `arr` (h, w) over bbox with fixed levels (no per-frame min/max scan)."""
    arr = np.asarray(arr, np.float32)
    img.setImage(arr, levels=levels, autoLevels=False)
    img.setRect(image_rect(bbox, arr.shape))


def density_levels(p: np.ndarray, pct: float = 99.5) -> tuple[float, float]:
    """[0, the pct-th percentile]: one spike cannot wash a density out."""
    hi = float(np.percentile(p, pct)) if p.size else 1.0
    return 0.0, hi if hi > 0 else 1.0


def robust_levels(a: np.ndarray, lo_pct: float = 1.0, hi_pct: float = 99.0) -> tuple[float, float]:
    """Percentile levels, so a few extreme cells cannot wash the heatmap out."""
    finite = a[np.isfinite(a)]
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(finite, [lo_pct, hi_pct])
    return float(lo), float(hi if hi > lo else lo + 1e-6)


def colorbar(plot: pg.PlotItem, img: pg.ImageItem, cmap: str, levels=(0.0, 1.0), label: str = "") -> pg.ColorBarItem:
    """A fixed, non-interactive colour bar beside `plot` that drives `img`'s colour map and levels
    (set new levels with `bar.setLevels`)."""
    bar = pg.ColorBarItem(values=levels, colorMap=pg.colormap.get(cmap), interactive=False, label=label, width=12)
    bar.setImageItem(img, insert_in=plot)
    return bar


class LazyPage(QWidget):
    """A tab page whose contents `build()` makes the first time its tab is chosen (`lazy_tab`) or `ensure()`d.

    A panel's hidden tabs are pyqtgraph plots (~20 ms each, most of it their context menus): building them all
    with the panel cost 0.26 s of the 0.45 s between the core loading and Play being enabled at launch. The
    panel replays what a tab shows from its latest snapshot when the tab is built (see FlowsPanel)."""

    def __init__(self, build):
        super().__init__()
        self._build = build  # not from showEvent: a view built and shown inside its parent's show crashed Qt
        self.content = None  # the built widget; None until the page is first shown or asked for
        QVBoxLayout(self).setContentsMargins(0, 0, 0, 0)

    def ensure(self) -> QWidget:
        if self.content is None:
            self.content = self._build()
            plain_axes(self.content)  # as the panel's first tab got them: plain numbers, fitted titles
            self.layout().addWidget(self.content)
            self.content.setVisible(True)  # now, not on the next pass of the event loop (addWidget queues it)
            self.layout().activate()  # sized now: an export of a never-shown tab draws at the page's size
        return self.content


def lazy_tab(tabs: QTabWidget, build, title: str) -> LazyPage:
    """Add a tab to `tabs` whose view `build()` makes when the tab is first chosen (its page's `ensure()`: sooner)."""
    if not any(isinstance(tabs.widget(i), LazyPage) for i in range(tabs.count())):  # the first: connect once
        tabs.currentChanged.connect(lambda i: isinstance(tabs.widget(i), LazyPage) and tabs.widget(i).ensure())
    page = LazyPage(build)
    tabs.addTab(page, title)
    return page


class Heatmap:
    """An ImageItem in `plot` with a colour bar beside it; `show(arr, bbox, levels)` keeps bar and image in step."""

    def __init__(self, plot: pg.PlotItem, cmap: str, label: str = "", levels=(0.0, 1.0)):
        self.plot = plot
        self.img = pg.ImageItem(axisOrder="row-major")
        plot.addItem(self.img)
        self.bar = pg.ColorBarItem(values=levels, colorMap=pg.colormap.get(cmap), interactive=False, label=label,
                                   width=12)
        self.bar.setImageItem(self.img, insert_in=plot)

    def show(self, arr, bbox=None, levels=None) -> None:
        arr = np.asarray(arr, np.float32)
        levels = levels or robust_levels(arr)
        self.img.setImage(arr, autoLevels=False)
        self.bar.setLevels(levels)
        if bbox is not None:
            self.img.setRect(image_rect(bbox, arr.shape))

    def clear(self) -> None:
        self.img.clear()


class GrowingCurve:
    """A (step, value) series drawn as one curve in `plot`; `add` / `extend` append, `clear` empties it. It is
    listed in the plot's legend (if it has one) from its first point on: no entry for a curve never drawn."""

    def __init__(self, plot: pg.PlotItem, name: str | None, pen, **opts):
        pen = pg.mkPen(pen, width=2) if isinstance(pen, str) else pen  # a colour: the usual 2 px line
        self.plot, self.name = plot, name
        self.curve = plot.plot([], [], pen=pen, **opts)
        self.x: list[float] = []
        self.y: list[float] = []

    def clear(self) -> None:
        self.x, self.y = [], []
        self.curve.setData([], [])
        if self.plot.legend is not None:
            self.plot.legend.removeItem(self.curve)

    def add(self, step, value) -> None:
        if value is None:
            return
        self.extend([step], [value])

    def extend(self, steps, values) -> None:
        if not self.x and len(steps) and self.name and self.plot.legend is not None:
            self.plot.legend.addItem(self.curve, self.name)
        self.x.extend(np.asarray(steps, np.float64).tolist())
        self.y.extend(np.asarray(values, np.float64).tolist())
        self.curve.setData(self.x, self.y)


def plain_axes(widget: QWidget) -> None:
    """Axis numbers as they are (no 'x0.001' SI-prefix rescaling) and titles that fit their plot (`FittedTitle`),
    on every plot inside `widget`."""
    views = widget.findChildren(pg.GraphicsView) + ([widget] if isinstance(widget, pg.GraphicsView) else [])
    for view in views:
        for item in view.scene().items():
            if isinstance(item, pg.AxisItem):
                # no range where a prefix applies (enableAutoSIPrefix(False) would freeze a stale x1000 scale)
                item.setSIPrefixEnableRanges(((np.inf, np.inf),))
                if "logTickStrings" not in item.__dict__:
                    item.logTickStrings = _decade_labels(item, item.logTickStrings)
            elif isinstance(item, pg.PlotItem) and not isinstance(item.titleLabel, FittedTitle):
                FittedTitle.install(item)


def _decade_labels(axis: pg.AxisItem, strings):
    """A log axis labels its decades, and between them 2 and 5 only when fewer than two decades are in view:
    pyqtgraph labels every minor tick it has room for, and a vertical axis over two decades read
    "0.09 0.08 0.07 … 0.01 0.009 0.008 …" (the memorization and Monte Carlo labs)."""

    def log_tick_strings(values, scale, spacing):
        out = strings(values, scale, spacing)
        if spacing is not None:  # a decade level: spacing in log10 units
            return out
        lo, hi = axis.range  # log10 units in log mode
        decades = math.floor(hi) - math.ceil(lo) + 1
        mantissa = [round(10 ** (v - math.floor(v + 1e-9))) for v in values]
        keep = (1,) if decades >= 2 else (1, 2, 5)  # a decade in this level too when the range makes none major
        return [t if m in keep else "" for t, m in zip(out, mantissa)]

    return log_tick_strings


class FittedTitle(pg.LabelItem):
    """A plot title that never widens its plot: longer than the plot, it is cut with '…' (the whole of it in the
    tooltip) and shown whole again when the plot grows. `text` stays the whole title."""

    def __init__(self, text: str = " ", **opts):
        self.full, self._busy = text, False
        super().__init__(text, **opts)

    @classmethod
    def install(cls, plot: pg.PlotItem) -> None:
        old = plot.titleLabel
        new = cls(old.text, **old.opts)
        new.setVisible(old.isVisibleTo(plot))  # its own state, not a hidden parent's
        new.setMaximumHeight(old.maximumHeight())
        plot.layout.removeItem(old)
        old.setParentItem(None)
        if old.scene() is not None:
            old.scene().removeItem(old)
        plot.layout.addItem(new, 0, 1)
        new.setParentItem(plot)
        plot.titleLabel = new

    def setText(self, text, **args) -> None:  # noqa: N802 (pyqtgraph's name)
        self.full = text
        self._fit(**args)

    def updateMin(self) -> None:  # noqa: N802
        super().updateMin()
        h = self.itemRect().height()
        self.setMinimumWidth(0)  # the plot's other parts decide its width, never the title
        self._sizeHint[Qt.SizeHint.MinimumSize] = (0, h)
        self._sizeHint[Qt.SizeHint.PreferredSize] = (0, h)

    def resizeEvent(self, ev) -> None:  # noqa: N802
        super().resizeEvent(ev)
        if ev is not None and not self._busy and ev.oldSize().width() != ev.newSize().width():
            self._fit()

    def _fit(self, **args) -> None:
        self._busy = True
        try:
            super().setText(self.full, **args)
            room = self.rect().width() - 4
            plain = QTextDocument()
            plain.setHtml(self.full)
            plain = plain.toPlainText()
            keep = len(plain)
            while room > 20 and keep > 1 and self.item.boundingRect().width() > room:
                keep = min(keep - 1, int(keep * room / self.item.boundingRect().width()))
                super().setText(html.escape(plain[:max(keep, 1)].rstrip()) + "…")
            self.setToolTip(plain if keep < len(plain) else "")
            self.text = self.full
        finally:
            self._busy = False


def legend_plot(layout, title: str = "", row=None, col=None, columns: int = 2, **plot_kw) -> pg.PlotItem:
    """A PlotItem whose legend has a row of its own beneath it, `columns` entries wide: no entry ever covers a
    curve. Curves plotted with a `name` join it, as with PlotItem.addLegend; `plot.legend` is that legend."""
    cell = layout.addLayout(row=row, col=col)
    cell.setContentsMargins(0, 0, 0, 0)
    cell.setSpacing(0)
    plot = cell.addPlot(row=0, col=0, title=title, **plot_kw)
    legend = pg.LegendItem(colCount=columns, labelTextSize="8pt", verSpacing=-6, horSpacing=12)
    cell.addItem(legend, row=1, col=0)
    legend.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Fixed)  # as tall as its entries, never more
    cell.layout.setAlignment(legend, Qt.AlignHCenter)
    plot.legend, plot.cell = legend, cell
    return plot


def step_histogram(plot: pg.PlotItem, color: str, name: str) -> pg.PlotCurveItem:
    """An empty filled step histogram in `color` on a `legend_plot`, listed in its legend as `name`; fill it
    with `item.setData(edges, counts)` (len(edges) = len(counts) + 1)."""
    c = pg.Color(color)
    item = pg.PlotCurveItem(x=np.array([0.0, 1.0]), y=np.array([0.0]), stepMode="center", fillLevel=0,
                            pen=pg.mkPen(color), brush=pg.mkBrush(c.red(), c.green(), c.blue(), 60))
    plot.addItem(item)
    plot.legend.addItem(item, name)
    return item


def rich_label(text: str = "") -> QLabel:
    """A word-wrapped QLabel that reads `text` as rich text (HTML: formulas, bold numbers)."""
    label = QLabel(text)
    label.setTextFormat(Qt.RichText)
    label.setWordWrap(True)
    return label


def formula_tab(widget: QWidget, formula: str, controls, status: str = "") -> tuple[QLabel, QLabel,
                                                                                     pg.GraphicsLayoutWidget]:
    """Lay `widget` out as a panel tab: the formula on top, a row of `controls` that ends in a status line, then
    a plot area that takes the rest. Returns (formula label, status label, plot area)."""
    col = QVBoxLayout(widget)
    col.setContentsMargins(0, 0, 0, 0)
    formula_label = rich_label(formula)
    col.addWidget(formula_label)
    row = QHBoxLayout()
    for w in controls:
        row.addWidget(w)
    status_label = rich_label(status)
    row.addWidget(status_label, 1)
    col.addLayout(row)
    win = pg.GraphicsLayoutWidget()
    col.addWidget(win, 1)
    return formula_label, status_label, win


def show_plot(plot: pg.PlotItem, shown: bool) -> None:
    """Show or hide a plot, with its legend when it has one of its own (`legend_plot`)."""
    getattr(plot, "cell", plot).setVisible(shown)


def show_tabs(tabs: QTabWidget, visible: dict) -> None:
    """Show and hide tabs by index; when the current one is hidden, the first visible one becomes current."""
    for index, shown in visible.items():
        tabs.setTabVisible(index, shown)
    if not tabs.isTabVisible(tabs.currentIndex()):
        tabs.setCurrentIndex(next((i for i in range(tabs.count()) if tabs.isTabVisible(i)), 0))


def on_a_shown_tab(item) -> bool:
    """False when a plot item sits in a tab its panel hides (show_tabs); True otherwise (no tabs, not yet in a
    view)."""
    scene = item.scene() if hasattr(item, "scene") else None
    w = scene.views()[0] if scene is not None and scene.views() else None
    while w is not None:
        parent = w.parentWidget()
        tabs = parent.parentWidget() if parent is not None else None
        if isinstance(tabs, QTabWidget):
            i = tabs.indexOf(w)
            if i >= 0 and not tabs.isTabVisible(i):
                return False
        w = parent
    return True


class BoxFrame:
    """Aspect-locked 2D plots framed on a data box (x0, x1, y0, y1): by `frame()` and again on every resize (a
    dragged dock splitter, a resized window, a tab shown for the first time) until the user zooms or pans
    one of them; from then on the view is theirs until the next `frame()` or the plot's 'A' button.

    The plots move together: the others show (at least) what the user's zoom or pan shows in one. Not with
    pyqtgraph's axis links: between aspect-locked plots of different shapes (one with a colour bar, one
    without) those force one plot's range onto the other and cut the box off."""

    def __init__(self, *plots: pg.PlotItem, padding: float = 0.02):
        self.plots, self.padding = plots, padding
        self.box: tuple | None = None
        self.user_moved = False
        for p in plots:
            p.disableAutoRange()  # the box frames the view: far-off points (samples, chains) never rescale it
            p.vb.sigRangeChangedManually.connect(lambda *_, p=p: self._moved(p))
            p.vb.sigResized.connect(self._resized)
            p.autoBtn.clicked.disconnect(p.autoBtnClicked)
            p.autoBtn.clicked.connect(self.frame)  # 'A' means: back to the data box

    def set_box(self, box) -> None:
        self.box = tuple(float(v) for v in box)
        self.frame()

    def frame(self) -> None:
        self.user_moved = False
        if self.box is None:
            return
        x0, x1, y0, y1 = self.box
        for p in self.plots:
            p.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=self.padding)

    def _moved(self, moved: pg.PlotItem) -> None:
        self.user_moved = True
        for p in self.plots:
            if p is not moved:
                p.setRange(rect=moved.vb.viewRect(), padding=0)

    def _resized(self, *_) -> None:
        if not self.user_moved:
            self.frame()


class Dots(pg.GraphicsObject):
    """Round dots of one colour, `size` pixels wide at any zoom.

    pyqtgraph's ScatterPlotItem keeps a record, a symbol and a cache entry per spot, styled in Python: a few ms
    per setData of a couple of thousand points, and a 2D panel sets several each snapshot (samples, points
    coloured by cluster). Dots keep the coordinates as one array and paint one pre-rendered disc at every point
    in a single drawPixmapFragments call, as ScatterPlotItem's cache does (vector discs when exported). Like
    InertScatter, they take no clicks (a click reaches the plot under them). `setData(x, y, brush=...)` as a
    ScatterPlotItem's; `data` has the drawn points' x and y."""

    def __init__(self, size: float = 3, brush=None, **_ignored):  # pen=None etc.: a dot is all fill
        super().__init__()
        self._size = float(size)
        self._xy = np.zeros((0, 2))
        self._rect = QRectF()
        self._color = pg.mkBrush(brush).color() if brush is not None else QColor(200, 200, 200, 120)
        self._sprite_key, self._sprite_pixmap = None, None  # one colour at a time: a recoloured item redraws it
        self._frags = pg.Qt.internals.PrimitiveArray(QPainter.PixmapFragment, 10)

    def setData(self, x, y, brush=None) -> None:  # noqa: N802 (pyqtgraph's name)
        xy = np.column_stack([np.asarray(x, np.float64), np.asarray(y, np.float64)]).reshape(-1, 2)
        self.prepareGeometryChange()
        self._xy = xy[np.isfinite(xy).all(1)]
        self._rect = QRectF()  # recomputed on the next boundingRect
        if brush is not None:
            self._color = pg.mkBrush(brush).color()
        self.informViewBoundsChanged()
        self.update()

    @property
    def data(self) -> np.ndarray:
        out = np.zeros(len(self._xy), dtype=[("x", np.float64), ("y", np.float64)])
        out["x"], out["y"] = self._xy[:, 0], self._xy[:, 1]
        return out

    def dataBounds(self, ax: int, frac: float = 1.0, orthoRange=None):  # noqa: N802 (ViewBox's auto-range)
        d = self._xy[:, ax]
        if orthoRange is not None:
            o = self._xy[:, 1 - ax]
            d = d[(o >= orthoRange[0]) & (o <= orthoRange[1])]
        if not len(d):
            return (None, None)
        if frac >= 1.0:
            return (float(d.min()), float(d.max()))
        lo, hi = np.percentile(d, [50 * (1 - frac), 50 * (1 + frac)])
        return (float(lo), float(hi))

    def pixelPadding(self) -> float:  # noqa: N802 (ViewBox's auto-range)
        return self._size / 2

    def viewTransformChanged(self) -> None:  # noqa: N802 (the dots' radius in data units changed)
        self.prepareGeometryChange()
        self._rect = QRectF()

    def boundingRect(self) -> QRectF:  # noqa: N802
        if not len(self._xy):
            return QRectF()
        if self._rect.isNull():
            (x0, y0), (x1, y1) = self._xy.min(0), self._xy.max(0)
            px, py = (self.pixelWidth() or 0.0) * self._size, (self.pixelHeight() or 0.0) * self._size
            self._rect = QRectF(x0 - px, y0 - py, x1 - x0 + 2 * px, y1 - y0 + 2 * py)
        return self._rect

    def _sprite(self, dpr: float) -> QPixmap:
        """The disc, drawn once per colour and screen scale."""
        key = (self._color.rgba(), dpr)
        if key != self._sprite_key:
            side = int(np.ceil((self._size + 2) * dpr))
            pm = QPixmap(side, side)
            pm.fill(Qt.transparent)
            q = QPainter(pm)
            q.setRenderHint(QPainter.Antialiasing, True)
            q.setPen(Qt.NoPen)
            q.setBrush(self._color)
            r = self._size * dpr / 2
            q.drawEllipse(QPointF(side / 2, side / 2), r, r)
            q.end()
            self._sprite_key, self._sprite_pixmap = key, pm
        return self._sprite_pixmap

    def paint(self, p: QPainter, option=None, widget=None) -> None:
        if not len(self._xy):
            return
        pts = fn.clip_array(fn.transformCoordinates(p.transform(), self._xy.T), -2 ** 30, 2 ** 30)  # device px
        p.resetTransform()
        exporting = getattr(self, "_exportOpts", False) or {}
        if exporting or p.paintEngine().type() in (QPaintEngine.SVG, QPaintEngine.Pdf):
            # an export or a vector device (export.py's SVG): one vector disc per point, as ScatterPlotItem
            # exports them
            scale = exporting.get("resolutionScale", 1.0)
            p.setRenderHint(QPainter.Antialiasing, exporting.get("antialias", True))
            brush, pen = pg.mkBrush(self._color), pg.mkPen(None)
            for x, y in pts.T:
                p.resetTransform()
                p.translate(x, y)
                drawSymbol(p, "o", self._size * scale, pen, brush)
            return
        dpr = widget.devicePixelRatioF() if widget is not None else 1.0
        sprite = self._sprite(dpr)
        self._frags.resize(len(self._xy))
        frags = self._frags.ndarray()
        frags[:, 0:2] = pts.T  # each fragment's centre
        frags[:, 2:6] = [0, 0, sprite.width(), sprite.height()]
        frags[:, 6:10] = [1 / dpr, 1 / dpr, 0.0, 1.0]  # scale x, y, rotation, opacity
        p.drawPixmapFragments(*self._frags.drawargs(), sprite)


class LabelledScatter:
    """Points coloured by an integer label, drawn as one scatter item per label with a single brush.

    pyqtgraph styles a scatter with one brush per point spot by spot (~3 ms per 1,000 points and frame);
    one item per colour keeps a redraw at a fraction of that, and Dots (the default item) skip the per-spot
    records too. `setData(x, y, labels=..., brushes=...)`; `setData([], [])` clears, like a ScatterPlotItem.
    """

    def __init__(self, plot, item_class=Dots, **kw):
        self.plot, self.item_class, self.kw = plot, item_class, kw
        self.items: list = []

    def setData(self, x, y, labels=None, brushes=None) -> None:  # noqa: N802 (pyqtgraph's name)
        x, y = np.asarray(x), np.asarray(y)
        if labels is None or not len(x):
            groups = [(slice(None), brushes[0] if brushes else pg.mkBrush(200, 200, 200, 120))] if len(x) else []
        else:
            labels = np.asarray(labels)
            groups = [(labels == k, brushes[k % len(brushes)]) for k in np.unique(labels)]
        while len(self.items) < len(groups):
            item = self.item_class(**self.kw)
            self.plot.addItem(item)
            self.items.append(item)
        for item, (sel, brush) in zip(self.items, groups):
            item.setData(x[sel], y[sel], brush=brush)
        for item in self.items[len(groups):]:
            item.setData([], [])

    @property
    def data(self) -> np.ndarray:
        """Every drawn point's record (as ScatterPlotItem.data), all colours together."""
        parts = [item.data for item in self.items if len(item.data)]
        return np.concatenate(parts) if parts else np.zeros(0)
