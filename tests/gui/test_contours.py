"""Marching-squares contours (panels/contours.py): ends on the level, closed curves of the right length."""
import numpy as np
import pytest

from genviz.gui.panels.contours import contour_segments


def _on_grid_value(v, xs, ys, pts):
    """The function linearly interpolated along the grid edge each point lies on."""
    out = []
    for x, y in pts:
        j = np.searchsorted(xs, x, side="right") - 1
        i = np.searchsorted(ys, y, side="right") - 1
        j, i = min(j, len(xs) - 2), min(i, len(ys) - 2)
        if np.isclose(y, ys[i]) or np.isclose(y, ys[i + 1]):  # on a horizontal edge
            row = i if np.isclose(y, ys[i]) else i + 1
            t = (x - xs[j]) / (xs[j + 1] - xs[j])
            out.append((1 - t) * v[row, j] + t * v[row, j + 1])
        else:
            col = j if np.isclose(x, xs[j]) else j + 1
            t = (y - ys[i]) / (ys[i + 1] - ys[i])
            out.append((1 - t) * v[i, col] + t * v[i + 1, col])
    return np.array(out)


def test_circles_of_a_paraboloid():
    xs, ys = np.linspace(-2, 2, 81), np.linspace(-2, 2, 61)
    v = xs[None, :] ** 2 + ys[:, None] ** 2
    for r in (0.53, 1.07, 1.71):  # off the grid points: no segment degenerates to a point
        seg = contour_segments(v, r * r, xs, ys)
        pts = seg.reshape(-1, 2)
        assert np.allclose(_on_grid_value(v, xs, ys, pts), r * r, atol=1e-9)  # every end is on the level
        assert np.allclose(np.hypot(pts[:, 0], pts[:, 1]), r, atol=0.01)  # and near the true circle
        length = np.linalg.norm(seg[:, 1] - seg[:, 0], axis=1).sum()
        assert length == pytest.approx(2 * np.pi * r, rel=0.01)
        ends, counts = np.unique(pts.round(9), axis=0, return_counts=True)
        assert (counts == 2).all()  # closed: every end is shared by exactly two segments


def test_saddles_levels_and_empty():
    xs = ys = np.linspace(-1, 1, 3)
    v = np.array([[1.0, -1, 1], [-1, 0.2, -1], [1, -1, 1]])  # every cell a saddle at level 0
    seg = contour_segments(v, 0.0, xs, ys)
    assert len(seg) == 8 and np.allclose(_on_grid_value(v, xs, ys, seg.reshape(-1, 2)), 0.0)
    assert len(contour_segments(v, [0.0, 0.5], xs, ys)) > len(seg)  # levels add up in one array
    assert contour_segments(v, 5.0, xs, ys).shape == (0, 2, 2)  # above everything: nothing
    assert contour_segments(np.full((4, 4), 0.3), 0.3, np.arange(4.0), np.arange(4.0)).shape[1:] == (2, 2)


def test_a_saddle_cell_is_split_by_the_mean_of_its_corners():
    """Corners 1 (bottom-left), -1, 1 (top-right), -1: at level 0 the mean (0) joins the two high corners, so the
    curves cut off the low ones; at 0.5 the mean is below the level and the high corners are cut off instead."""
    v, xy = np.array([[1.0, -1.0], [-1.0, 1.0]]), np.array([0.0, 1.0])
    cut = {tuple(sorted(map(tuple, s.round(6)))) for s in contour_segments(v, 0.0, xy, xy)}
    assert cut == {((0.5, 0.0), (1.0, 0.5)), ((0.0, 0.5), (0.5, 1.0))}  # around (1, 0) and (0, 1)
    cut = {tuple(sorted(map(tuple, s.round(6)))) for s in contour_segments(v, 0.5, xy, xy)}
    assert cut == {((0.0, 0.25), (0.25, 0.0)), ((0.75, 1.0), (1.0, 0.75))}  # around (0, 0) and (1, 1)
