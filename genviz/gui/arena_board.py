"""The Arena's live scoreboard: one row per column, scored on a low-priority thread of its own.

Steps, steps/s and wall time are read from the columns at every redraw. The quality columns (test NLL and what
kind of number it is, its gap to the true entropy, MMD², modes, parameters) come from core.arena.score run by a
ScoreWorker on each model's newest verified weights — never-scored models first, then the one scored longest
ago — and the scorer idles long enough after each row to spend at most `score_share` of its time scoring, so
training keeps the CPU.
"""
from __future__ import annotations

import math
import time

from PySide6.QtCore import QObject, Qt, QThread, QTimer, Signal, Slot
from PySide6.QtWidgets import (QAbstractItemView, QHeaderView, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout,
                               QWidget)

from genviz.core import arena, registry

SCORE_SHARE = 0.15  # the scorer idles ≥ 5.7× what its last row cost

# scoreboard columns: (header, tooltip)
BOARD = (("model", "registry name"),
         ("steps", "optimisation steps so far"),
         ("steps/s", "training rate now (all models share the CPU)"),
         ("wall s", "seconds this model has trained in this window (or its run's seconds when opened)"),
         ("test NLL (nats)", "negative log-likelihood of the held-out test points; see the next column for what "
                             "kind of number it is"),
         ("NLL is…", "exact: the model's normalized density · grid-normalized: an EBM's log Z summed on a grid · "
                     "upper bound (−IWAE): a VAE's importance-weighted bound, the NLL is at most this · KDE "
                     "estimate: a GAN has no density; NLL of a Gaussian KDE of its samples"),
         ("NLL − H", "gap to the dataset's true entropy H (only for exact and grid-normalized NLLs)"),
         ("MMD² (p)", "unbiased MMD², Gaussian kernel, 500 samples vs 500 held-out points; p from 200 "
                      "permutations (small p: the samples are told apart from the data)"),
         ("modes", "modes covered (≥ 0.8% of 1,000 samples within 3σ of a centre) and the share of samples "
                   "within 3σ of some mode; only where modes are defined"),
         ("params", "trained parameters (a GAN: G and D)"),
         ("scored at", "the step of the weights the quality columns were computed on"))


class ScoreWorker(QObject):
    """Scores one model's weights at a time on its own QThread: `request(job)` in, `scored(result)` out."""

    request = Signal(dict)
    scored = Signal(dict)

    def __init__(self):
        super().__init__()
        self.thread = QThread()
        self.thread.setObjectName("genviz-arena-scorer")
        self.moveToThread(self.thread)
        self.request.connect(self._score)
        self.thread.start(QThread.LowPriority)

    @Slot(dict)
    def _score(self, job: dict) -> None:
        from genviz.gui.worker import _lower_this_threads_priority

        _lower_this_threads_priority()
        t0 = time.perf_counter()
        try:
            model = registry.build(job["model"], data_shape=job["data"].shape, seed=0, **job["config"])
            model.load_state_dict(job["weights"])
            row = arena.score(job["model"], model, job["data"], step=job["step"])
            out = {"name": job["model"], "score": row, "generation": job["generation"]}
        except Exception as e:  # a model that cannot be scored must not end the scorer
            out = {"name": job["model"], "error": f"{type(e).__name__}: {e}", "generation": job["generation"]}
        out["cost"] = time.perf_counter() - t0
        self.scored.emit(out)

    def stop(self) -> None:
        self.thread.quit()
        self.thread.wait(10_000)


class ScoreboardPanel(QWidget):
    """The true-entropy line over the table; `columns` is the Arena window's (name -> ArenaColumn) dict."""

    def __init__(self, columns: dict, parent=None):
        super().__init__(parent)
        self.columns = columns
        self.scores: dict[str, arena.Score] = {}
        self.errors: dict[str, str] = {}  # model -> why its last scoring failed
        self.score_share = SCORE_SHARE  # the most of its time the scorer may spend scoring
        self.dataset = None
        self.generation = 0  # bumped when the dataset changes: older scores are dropped
        self._scoring, self._score_free_at = False, 0.0
        self._scored_at: dict[str, float] = {}  # model -> when its last score request went out
        self.entropy_label = QLabel()
        self.table = QTableWidget(0, len(BOARD))
        for i, (head, tip) in enumerate(BOARD):
            item = QTableWidgetItem(head)
            item.setToolTip(tip)
            self.table.setHorizontalHeaderItem(i, item)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        v = QVBoxLayout(self)
        v.setContentsMargins(0, 0, 0, 0)
        v.addWidget(self.entropy_label)
        v.addWidget(self.table, 1)
        self.scorer = ScoreWorker()
        self.scorer.scored.connect(self._on_scored)
        self.timer = QTimer(self, interval=500, timeout=self._schedule_score)
        self.timer.start()

    def start_over(self, name: str, dataset) -> None:
        """A new dataset: no scores yet, its true entropy (where known) as the reference."""
        self.dataset = dataset
        self.generation += 1
        self.scores, self.errors, self._scored_at = {}, {}, {}
        h = arena.true_entropy(name)
        self.entropy_label.setText(
            f"True entropy of <b>{name}</b>: <b>H = {h:.3f} nats</b>, the floor of any exact test NLL (dashed "
            f"green line in the loss plots of likelihood models)." if h is not None else
            f"The true entropy of <b>{name}</b> is not known in closed form: no reference line.")

    def load(self, rows: list) -> None:
        """Rows an arena folder's scoreboard.csv holds (core.arena.read_csv)."""
        self.scores = {r.model: r for r in rows}
        self.refresh()

    def forget(self, name: str) -> None:
        self.scores.pop(name, None)

    def stop(self) -> None:
        self.timer.stop()
        self.scorer.stop()

    def _schedule_score(self) -> None:
        """Score the next model whose weights moved since its last score, when the scorer is free."""
        if self._scoring or time.perf_counter() < self._score_free_at or not self.columns:
            return
        # never-scored models first, then the one scored longest ago
        for col in sorted(self.columns.values(), key=lambda c: self._scored_at.get(c.name, -1.0)):
            done = self.scores.get(col.name)
            if done is not None and not col.controller.running() and done.step == col.controller.step:
                continue  # paused where it was scored: no copy of its weights every poll
            got = col.weights()
            if got is None:
                continue
            step, weights, cfg = got
            if (done is not None and done.step == step) or (step == 0 and col.controller.running()):
                continue  # nothing new, or an untrained model about to move
            self._scoring = True
            self._scored_at[col.name] = time.perf_counter()
            self.scorer.request.emit({"model": col.name, "config": cfg, "weights": weights, "step": step,
                                      "data": self.dataset, "generation": self.generation})
            return

    def _on_scored(self, out: dict) -> None:
        self._scoring = False
        self._score_free_at = time.perf_counter() + out["cost"] * (1 / self.score_share - 1)
        if out["generation"] != self.generation or out["name"] not in self.columns:
            return  # a removed model, or the dataset changed meanwhile
        if "score" in out:
            self.scores[out["name"]] = out["score"]
            self.errors.pop(out["name"], None)
        else:
            self.errors[out["name"]] = out["error"]
        self.refresh()

    def refresh(self) -> None:
        names = list(self.columns)
        self.table.setRowCount(len(names))
        rows = max(len(names), 3) * self.table.verticalHeader().defaultSectionSize()
        height = rows + self.table.horizontalHeader().height() + 4
        self.table.setFixedHeight(height)  # the grid gets the rest of the height
        self.setFixedHeight(height + self.entropy_label.sizeHint().height() + 6)
        for r, name in enumerate(names):
            s = self.scores.get(name)
            model = self.columns[name].controller.model  # known before any score: counted at once
            cells = [name, "", "", "", "—", arena.nll_kind(name), "—", "—", "—",
                     "—" if model is None else f"{arena.param_count(model):,}",
                     "failed" if name in self.errors else "not yet"]
            if s is not None:
                what = s.nll_kind + (f", {s.nll_note}" if s.nll_note and s.nll_kind != "KDE estimate" else "")
                cells[4:] = [arena.fmt_nll(s), what, "—" if s.gap is None else f"{s.gap:+.3f}",
                             arena.fmt_mmd(s), arena.fmt_modes(s), f"{s.params:,}", f"{s.step:,}"]
            for c, text in enumerate(cells):
                self._cell(r, c, text)
            self.table.item(r, 10).setToolTip(self.errors.get(name, ""))  # why scoring failed
        self.refresh_live()

    def refresh_live(self) -> None:
        """Steps, steps/s and wall time: cheap, every redraw."""
        for r, col in enumerate(self.columns.values()):
            snap = col.latest
            rate = snap.steps_per_s if snap is not None and snap.status == "running" and snap.steps_per_s > 0 \
                else math.nan
            done = self.scores.get(col.name)
            if not math.isfinite(rate) and done is not None and done.steps_per_s > 0 and done.step == col.step:
                rate = done.steps_per_s  # an opened run: the rate its arena measured
            self._cell(r, 1, f"{col.step:,}")
            self._cell(r, 2, "—" if not math.isfinite(rate) else f"{rate:,.0f}")
            self._cell(r, 3, f"{col.wall_s:.1f}")

    def _cell(self, row: int, col: int, text: str) -> None:
        item = self.table.item(row, col)
        if item is None:
            item = QTableWidgetItem(text)
            if col not in (0, 5):
                item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
            self.table.setItem(row, col, item)
        elif item.text() != text:
            item.setText(text)

