"""The contract between the main window and a family panel.

The window owns the session, the worker and the loss plot; a panel draws one family's views. It builds its
plot items once in __init__ and only mutates them in `show_snapshot` (pyqtgraph: setData / setImage).
"""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget


class Panel(QWidget):
    """Base class for family panels (`FlowsPanel`, `VAEPanel`, ...)."""

    # A session command for the worker to forward, e.g. ("view", {"res": 128}) or ("set", "lr", 1e-4).
    command_issued = Signal(tuple)
    # Validation metrics this panel plots itself; the loss plot leaves them out (a mode count of 25 or a
    # fraction drawn on the loss axis would squash the losses into a flat line).
    own_metrics: frozenset[str] = frozenset()

    def begin(self, info: dict) -> None:
        """A new session starts. info: model, family, config (the model's), dataset, kind ('2d'|'image'),
        data_shape, bbox and data (2D). What to show comes from the snapshots' keys, never from the model's
        name: a model registered under a new name gets the views of what it returns."""

    def show_snapshot(self, snap) -> None:
        """Draw the latest core.session.Snapshot (its `arrays` hold this family's plot data)."""

    def add_metrics(self, step: int, metrics: dict) -> None:
        """Validation metrics of a snapshot that was merged into a later one before drawing (fast training
        coalesces several per frame); the last one arrives with `show_snapshot`. Curves over time use it."""

    def reset_view(self) -> None:
        """Frame every plot on its data (called once the panel has its size, and by the 'A' button's users)."""

    def plots(self) -> dict:
        """Exportable views by name: pyqtgraph PlotItem / GraphicsLayout / ImageItem's view (for PNG/SVG)."""
        return {}
