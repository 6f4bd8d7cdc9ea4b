"""Lab 1: parameters of a distribution over n binary variables — chain rule, Markov chain, independence, and
a Bayes net the user draws (click a node, then another, to add or remove the edge between them)."""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg

from genviz.core.labs import counts
from genviz.gui.labs.base import BLUE, GREEN, GREY, ORANGE, PINK, LabTab, pen
from genviz.gui.panels.toolkit import legend_plot

NODE_BRUSH, SELECTED_BRUSH = pg.mkBrush(BLUE), pg.mkBrush(ORANGE)


class CountsLab(LabTab):
    title = "parameter counts"
    family = "Autoregressive"
    formula = ("<b>Chain rule</b> p(x₁,…,xₙ) = p(x₁) p(x₂|x₁) ⋯ p(xₙ|x₁,…,xₙ₋₁): 1 + 2 + ⋯ + 2ⁿ⁻¹ = "
               "<b>2ⁿ − 1</b> parameters. <b>Conditional independence</b> xᵢ₊₁ ⊥ x₁..xᵢ₋₁ | xᵢ (Markov chain): "
               "1 + 2(n − 1) = <b>2n − 1</b>. Independent: n. <b>Bayes net</b>: p(x) = Πᵢ p(xᵢ | pa(xᵢ)) needs "
               "<b>Σᵢ 2^|pa(i)|</b> (one Bernoulli per parent configuration).")

    def build(self) -> None:
        self.n = self.spin("n variables", 1, 40, 8, "number of binary variables for the three formulas")
        self.button("Add node", self.add_node, "add a node to the drawn Bayes net")
        self.button("Remove node", self.remove_node, "remove the last node and its edges")
        self.button("Clear edges", self.clear_edges)
        self.button("Chain rule", lambda: self.preset(counts.full_chain_edges))
        self.button("Markov chain", lambda: self.preset(counts.markov_chain_edges))
        self.button("Naive Bayes", lambda: self.preset(lambda n: [(0, i) for i in range(1, n)]))
        self.curve_plot = legend_plot(self.graphics, "log₁₀ parameters vs n", columns=3)
        self.curve_plot.setLabel("bottom", "n")
        self.curves = {k: self.curve_plot.plot(pen=pen(c), name=k) for k, c in
                       (("2ⁿ − 1", PINK), ("2n − 1", ORANGE), ("n", GREEN))}
        self.n_line = pg.InfiniteLine(angle=90, pen=pen(GREY, 1))
        self.curve_plot.addItem(self.n_line)
        self.net_plot = self.graphics.addPlot(title="your Bayes net (click a node, then another: toggle edge)")
        self.net_plot.setAspectLocked(True)
        self.net_plot.hideAxis("left")
        self.net_plot.hideAxis("bottom")
        self.net_plot.setXRange(-1.3, 1.3)
        self.net_plot.setYRange(-1.3, 1.3)
        self.edge_lines = pg.PlotDataItem(pen=pen(GREY, 2), connect="pairs")
        self.net_plot.addItem(self.edge_lines)
        self.arrows: list[pg.ArrowItem] = []
        self.nodes = pg.ScatterPlotItem(size=30, pen=pg.mkPen("w"), brush=NODE_BRUSH)
        self.nodes.sigClicked.connect(lambda _item, pts, *_: self.click_node(int(pts[0].data())))
        self.net_plot.addItem(self.nodes)
        self.labels: list[pg.TextItem] = []
        self.n_nodes, self.edges, self.selected = 4, set(), None

    # -- editing ------------------------------------------------------------------------------------------
    def positions(self) -> np.ndarray:
        t = math.pi / 2 - 2 * math.pi * np.arange(self.n_nodes) / max(self.n_nodes, 1)
        return np.stack([np.cos(t), np.sin(t)], 1)

    def add_node(self) -> None:
        if self.n_nodes < 16:
            self.n_nodes += 1
            self.refresh()

    def remove_node(self) -> None:
        if self.n_nodes > 1:
            self.n_nodes -= 1
            self.edges = {(a, b) for a, b in self.edges if a < self.n_nodes and b < self.n_nodes}
            self.selected = None
            self.refresh()

    def clear_edges(self) -> None:
        self.edges.clear()
        self.refresh()

    def preset(self, make) -> None:
        self.edges = set(make(self.n_nodes))
        self.refresh()

    def click_node(self, i: int) -> None:
        """First click selects a node, the second toggles the edge selected → i (a click on itself deselects)."""
        if self.selected is None:
            self.selected = i
        else:
            if i != self.selected:
                self.toggle_edge(self.selected, i)
            self.selected = None
        self.refresh()

    def toggle_edge(self, a: int, b: int) -> None:
        self.edges.symmetric_difference_update({(a, b)})
        self.refresh()

    # -- drawing --------------------------------------------------------------------------------------------
    def refresh(self) -> None:
        n = self.n.value()
        ns = np.arange(1, 41)
        self.curves["2ⁿ − 1"].setData(ns, np.log10(2.0 ** ns - 1 + 1e-300).clip(0))
        self.curves["2n − 1"].setData(ns, np.log10(2 * ns - 1))
        self.curves["n"].setData(ns, np.log10(ns))
        self.n_line.setValue(n)
        self._draw_net()
        try:
            count = counts.bayes_net_params(self.n_nodes, sorted(self.edges))
            net = f"your net ({self.n_nodes} nodes, {len(self.edges)} edges): Σ 2^|pa| = <b>{count}</b>"
        except counts.CycleError as e:
            net = f"<span style='color:{PINK}'>{e}</span>"
        self.status.setText(f"n = {n}: chain rule <b>{counts.chain_rule_params(n):,}</b> · conditional independence "
                            f"<b>{counts.markov_chain_params(n)}</b> · independent <b>{n}</b> &nbsp;|&nbsp; {net}")

    def _draw_net(self) -> None:
        pos = self.positions()
        brushes = [SELECTED_BRUSH if i == self.selected else NODE_BRUSH for i in range(self.n_nodes)]
        self.nodes.setData(pos[:, 0], pos[:, 1], brush=brushes, data=list(range(self.n_nodes)))
        while len(self.labels) < self.n_nodes:
            t = pg.TextItem(str(len(self.labels)), color="k", anchor=(0.5, 0.5))
            self.net_plot.addItem(t)
            self.labels.append(t)
        for i, t in enumerate(self.labels):
            t.setVisible(i < self.n_nodes)
            if i < self.n_nodes:
                t.setPos(*pos[i])
        for a in self.arrows:
            self.net_plot.removeItem(a)
        self.arrows = []
        segs = []
        for a, b in sorted(self.edges):
            p, q = pos[a], pos[b]
            d = (q - p) / (np.linalg.norm(q - p) + 1e-9)
            tip = q - 0.12 * d  # stop at the node's rim
            segs += [p + 0.12 * d, tip]
            arrow = pg.ArrowItem(pos=tuple(tip), angle=180 - math.degrees(math.atan2(d[1], d[0])),
                                 headLen=14, brush=GREY, pen=None)
            self.net_plot.addItem(arrow)
            self.arrows.append(arrow)
        segs = np.array(segs).reshape(-1, 2)
        self.edge_lines.setData(segs[:, 0], segs[:, 1])
