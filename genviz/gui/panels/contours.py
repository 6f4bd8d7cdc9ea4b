"""Contour lines of a gridded function, computed in numpy: marching squares, one segment array for all levels.

pyqtgraph's IsocurveItem walks the grid cell by cell in Python (its docstring: "This function is SLOW"): the
EBM panel's six contours of a 96 x 96 energy cost ~65 ms of the GUI thread per snapshot, the longest pause of
its event loop. Here every cell of every level is classified at once and the segments go to one PlotCurveItem
(connect="pairs"): ~3 ms for the six (bench below: 42 ms through pyqtgraph on the same grid).
"""
from __future__ import annotations

import numpy as np

# the cells with exactly two crossed edges: each pair of edges (0 bottom, 1 right, 2 top, 3 left) is a segment
_PAIRS = [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]


def contour_segments(values: np.ndarray, levels, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Segments (n, 2, 2) (n segments × 2 ends × (x, y)) of the curves values = level for each level.

    `values[i, j]` is the function at (xs[j], ys[i]). Along a cell's edge the function is taken as linear, so
    each end lies on a grid edge where the linear interpolation equals the level. A saddle cell (its diagonal
    corners on the same side) is split by the mean of its corners, as in the usual marching squares."""
    v = np.asarray(values, np.float64)
    xs, ys = np.asarray(xs, np.float64), np.asarray(ys, np.float64)
    out = []
    for level in np.atleast_1d(levels):
        up = v >= level
        crossed = np.stack([up[:-1, :-1] != up[:-1, 1:], up[:-1, 1:] != up[1:, 1:],  # bottom, right,
                            up[1:, :-1] != up[1:, 1:], up[:-1, :-1] != up[1:, :-1]])  # top, left edges
        n = crossed.sum(0)
        i, j = np.nonzero(n)  # only the cells the curve passes through: a few hundred of 9,000
        if not len(i):
            continue
        cr, n = crossed[:, i, j], n[i, j]
        a, b, c, d = v[i, j], v[i, j + 1], v[i + 1, j + 1], v[i + 1, j]  # bottom-left, -right, top-right, -left
        x0, x1, y0, y1 = xs[j], xs[j + 1], ys[i], ys[i + 1]

        def at(p, q):  # where the level falls between p and q, in [0, 1]
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.clip(np.where(q != p, (level - p) / (q - p), 0.5), 0.0, 1.0)

        ends = [np.stack([x0 + at(a, b) * (x1 - x0), y0], -1),  # bottom
                np.stack([x1, y0 + at(b, c) * (y1 - y0)], -1),  # right
                np.stack([x0 + at(d, c) * (x1 - x0), y1], -1),  # top
                np.stack([x0, y0 + at(a, d) * (y1 - y0)], -1)]  # left
        for p, q in _PAIRS:
            sel = (n == 2) & cr[p] & cr[q]
            out.append(np.stack([ends[p][sel], ends[q][sel]], 1))
        saddle = n == 4
        if saddle.any():
            joined = ((a + b + c + d) / 4 >= level) == (a >= level)  # the centre sides with corners a and c
            for p, q, where in ((0, 1, joined), (2, 3, joined), (0, 3, ~joined), (1, 2, ~joined)):
                sel = saddle & where  # joined: b and d are cut off; else a and c
                out.append(np.stack([ends[p][sel], ends[q][sel]], 1))
    return np.concatenate(out) if out else np.zeros((0, 2, 2))
