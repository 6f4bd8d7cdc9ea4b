"""The status bar: step, steps/s, loss, ETA, and the latest message (errors in red until the next run)."""
from __future__ import annotations

import math

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPainter, QPalette
from PySide6.QtWidgets import QLabel, QStatusBar

MESSAGE_MIN_PX = 160  # a long message is elided (full text in its tooltip), never widens the window


def fmt_eta(seconds: float) -> str:
    if not math.isfinite(seconds) or seconds < 0:
        return "–"
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def fmt_rate(rate: float) -> str:
    """Steps per second to two significant digits below 10 (a DCGAN on one core: 2.7, not "3"; 0.4, not "0")."""
    return f"{rate:,.0f}" if rate >= 10 else f"{rate:.2g}"


class ElidedLabel(QLabel):
    """A one-line label that draws its text elided at the right when it is narrower than the text, and asks for
    only `min_px` of width: a long status message or badge must never make the window wider (a QLabel's
    minimum width is its whole text, which the status bar passes on to the window). text() is the full text."""

    def __init__(self, text: str = "", min_px: int = MESSAGE_MIN_PX):
        super().__init__(text)
        self.min_px = min_px

    def minimumSizeHint(self) -> QSize:
        return QSize(min(self.min_px, super().minimumSizeHint().width()), super().minimumSizeHint().height())

    def paintEvent(self, _event) -> None:
        r = self.contentsRect()
        text = self.fontMetrics().elidedText(self.text(), Qt.ElideRight, r.width())
        p = QPainter(self)
        self.style().drawItemText(p, r, int(self.alignment()), self.palette(), self.isEnabled(), text,
                                  QPalette.WindowText)


class TrainingStatus(QStatusBar):
    """Fixed fields on the right, the message on the left."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.message = ElidedLabel("ready: press Play (Space) to train")
        self.message.setObjectName("statusMessage")
        self.fields = {k: QLabel() for k in ("step", "rate", "loss", "eta")}
        self.addWidget(self.message, 1)
        for lab in self.fields.values():
            lab.setMinimumWidth(90)
            self.addPermanentWidget(lab)
        self.show_numbers(0, 0, 0.0, None, math.inf)

    def show_numbers(self, step: int, total: int, rate: float, loss: float | None, eta_s: float) -> None:
        self.fields["step"].setText(f"step {step:,}/{total:,}" if total else f"step {step:,}")
        self.fields["rate"].setText(f"{fmt_rate(rate)} steps/s" if rate else "– steps/s")
        self.fields["loss"].setText(f"loss {loss:.4g}" if loss is not None and math.isfinite(loss) else "loss –")
        self.fields["eta"].setText(f"ETA {fmt_eta(eta_s)}")

    def say(self, text: str, error: bool = False) -> None:
        self.message.setText(text)
        self.message.setToolTip(text)
        self.message.setProperty("error", error)
        self.message.style().unpolish(self.message)
        self.message.style().polish(self.message)
